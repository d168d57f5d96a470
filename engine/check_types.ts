/**
 * The load-time type check: element types followed through the graph from its declared inputs
 * and its constants, so that every node given a type it does not take (an int8 Add, an int32
 * MatMul, an If on a float condition) is reported at load, all at once, instead of the first
 * one failing the first run.
 *
 * Each op's own shape inference does the typing (it is where the run checks types): it runs on
 * the declared input dims, with 64 for a symbolic dim and a scalar for an input declared
 * without a shape. Types never depend on dims or values, so a DTypeError here is the error
 * the run would raise; any other failure (a shape only the real dims satisfy, a value only
 * known at run time) leaves that node's outputs unknown, and the nodes reading them are left
 * to the run. Inference computes no value past INFERENCE_INT_LIMIT (4096) elements here, the
 * limit of the shape-like values dims come from, so a chain of large constants folds at load
 * only once, in the passes.
 *
 * Both branches of an If are typed, as onnxruntime types them when it creates a session: a
 * type error in a branch no run takes is an invalid model, refused by onnxruntime too.
 *
 * @module
 */
import { DTypeError, type UnsupportedNode } from "./errors.ts";
import type { Graph, Node } from "./ir/graph.ts";
import { isGraph } from "./ir/graph.ts";
import {
  INFERENCE_INT_LIMIT,
  inferenceReadsValue,
  nodeLabel,
  withFoldLimit,
} from "./ops/_node_params.ts";
import { sizeOf } from "./tensor.ts";
import type { InputInfo, Op } from "./ops/op.ts";

/**
 * The size typing gives a symbolic dim. Sizes like 1 make spatial dims too small for the
 * kernels and pools of real models (PP-OCR rec lost the types of 159 of its 765 nodes at 1, cls
 * 11 of 471; none at 64). Shape inference allocates nothing, so the size costs nothing.
 */
const SYMBOLIC_DIM = 64;

/** What is known of a value: its info, or undefined when typing could not follow it. */
type Scope = (name: string) => InputInfo | undefined;

/**
 * Every node of the graph (and of its If branches) given an input type it does not take.
 * Nodes named in `skip` (already reported unsupported) are not typed: their outputs are
 * unknown.
 */
export function findTypeProblems(
  graph: Graph,
  registry: ReadonlyMap<string, Op>,
  skip: ReadonlySet<string> = new Set(),
): UnsupportedNode[] {
  const problems: UnsupportedNode[] = [];
  withFoldLimit(INFERENCE_INT_LIMIT, () => typeGraph(graph, { registry, skip, problems }));
  return problems;
}

/** What typing a graph and its branches shares. */
interface Typing {
  registry: ReadonlyMap<string, Op>;
  skip: ReadonlySet<string>;
  problems: UnsupportedNode[];
}

/**
 * Types the graph's nodes in order, collecting problems; returns what its outputs are. A
 * branch (`outer` given) reads its inputs from the enclosing scope, as the executor runs it.
 */
function typeGraph(
  graph: Graph,
  typing: Typing,
  outer?: Scope,
): (InputInfo | undefined)[] {
  const known = new Map<string, InputInfo | undefined>();
  if (!outer) {
    for (const v of graph.inputs) {
      const dims = (v.dims ?? []).map((d) => (typeof d === "number" ? d : SYMBOLIC_DIM));
      known.set(v.name, { type: v.type, dims });
    }
  }
  for (const [name, t] of graph.initializers) {
    known.set(name, withSmallValue({ type: t.type, dims: [...t.dims], value: t }));
  }
  const lookup: Scope = (name) => (known.has(name) ? known.get(name) : outer?.(name));
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((name) => (name ? lookup(name) : undefined));
    let outputs: (InputInfo | undefined)[] = [];
    if (typing.skip.has(node.name)) {
      // Reported already; what it would output is unknown.
    } else if (node.op === "If") {
      outputs = typeIf(node, inputs[0], lookup, typing);
    } else {
      const op = typing.registry.get(node.op);
      // An omitted input is undefined on purpose; a named one that typing lost stops here.
      if (op && node.inputs.every((name, i) => !name || inputs[i])) {
        try {
          outputs = op.inferShapes(node, inputs);
        } catch (e) {
          if (e instanceof DTypeError) typing.problems.push(problem(node, e.message));
        }
      }
    }
    node.outputs.forEach((name, i) => {
      if (name) known.set(name, outputs[i] && withSmallValue(outputs[i]));
    });
  }
  return graph.outputs.map((o) => lookup(o.name));
}

/**
 * The info with its value only when shape inference is given it at run too (shape-like
 * integers, a few scales): inference then does not fold slices of weights here, work the
 * passes do next anyway.
 */
function withSmallValue(info: InputInfo): InputInfo {
  return !info.value || inferenceReadsValue(info.type, sizeOf(info.dims))
    ? info
    : { type: info.type, dims: info.dims };
}

/**
 * Checks an If's condition, both branches and that they give outputs of the same types; its
 * outputs take those types.
 */
function typeIf(
  node: Node,
  cond: InputInfo | undefined,
  lookup: Scope,
  typing: Typing,
): (InputInfo | undefined)[] {
  if (cond && cond.type !== "bool") {
    typing.problems.push(problem(node, `the condition is "${cond.type}", not "bool"`));
  }
  const [then, otherwise] = ["then_branch", "else_branch"].map((key) => {
    const branch = node.attributes[key];
    return isGraph(branch) ? typeGraph(branch, typing, lookup) : [];
  });
  // Dims may differ between the branches (a branch per input size), types may not (onnxruntime
  // refuses such a model too): only types carry over.
  return then.map((info, i) => {
    const other = otherwise[i];
    if (!info || !other) return undefined;
    if (other.type !== info.type) {
      typing.problems.push(
        problem(
          node,
          `output ${i} is "${info.type}" from then_branch, "${other.type}" from else_branch`,
        ),
      );
      return undefined;
    }
    return { type: info.type, dims: info.dims };
  });
}

/** A problem named like the load-time support check's, without the error's node prefix. */
function problem(node: Node, message: string): UnsupportedNode {
  const prefix = `${nodeLabel(node)}: `;
  const reason = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return { node: node.name, op: node.op, reason };
}
