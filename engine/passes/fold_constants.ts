/**
 * Constant folding at load: `Constant` nodes become initializers, then every node whose
 * inputs are all constants is run once (with the real op implementations) and replaced by
 * its outputs. Conv weights that exporters route through Constant nodes thus become
 * initializers the other passes (BN folding, weight packing, sparsity detection) can see.
 *
 * @module
 */
import type { Graph, Node } from "../ir/graph.ts";
import { subgraphs } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";
import { isFloat16Origin, markFloat16Origin } from "../weights/f16_gemv.ts";

/** Largest output (elements) a folded node may produce: bigger results stay computed. */
const MAX_FOLDED_ELEMENTS = 1 << 22;

/** The tensor a Constant node defines, or undefined for forms we do not fold. */
function constantValue(n: Node): Tensor | undefined {
  const a = n.attributes;
  if (a.value instanceof Tensor) return a.value;
  if (typeof a.value_float === "number") {
    return new Tensor("float32", new Float32Array([a.value_float]), []);
  }
  if (Array.isArray(a.value_floats)) {
    const v = a.value_floats as number[];
    return new Tensor("float32", Float32Array.from(v), [v.length]);
  }
  if (typeof a.value_int === "number") {
    return new Tensor("int64", new BigInt64Array([BigInt(a.value_int)]), []);
  }
  if (Array.isArray(a.value_ints)) {
    const v = a.value_ints as number[];
    return new Tensor("int64", BigInt64Array.from(v, (x) => BigInt(x)), [v.length]);
  }
  return undefined;
}

/**
 * Turns Constant nodes into initializers; returns how many. Subgraphs are done too unless
 * `nested` is false.
 */
export function foldConstantNodes(graph: Graph, nested = true): number {
  const keep: Node[] = [];
  let folded = 0;
  for (const n of graph.nodes) {
    const v = n.op === "Constant" && !n.domain ? constantValue(n) : undefined;
    if (v && n.outputs[0]) {
      graph.initializers.set(n.outputs[0], v);
      folded++;
    } else keep.push(n);
    if (nested) { for (const g of subgraphs(n)) folded += foldConstantNodes(g); }
  }
  graph.nodes = keep;
  return folded;
}

/** Ops whose float32 output holds only values of their first input, rearranged or picked. */
const MOVES_VALUES = new Set([
  "Transpose",
  "Reshape",
  "Squeeze",
  "Unsqueeze",
  "Flatten",
  "Identity",
  "Slice",
  "Gather",
  "Expand",
  "Tile",
]);

/**
 * Whether a folded node's float32 result holds only values stored as float16: a Cast (or
 * CastLike) of halves to float, an exporter's "f16 weight → Cast(to=float)", or a node that
 * only moves such values (Cast → Transpose, → Reshape…). The result keeps the mark that lets
 * the f16 GEMV keep it as halves (`gemvWeights: "auto"`).
 */
function keepsHalves(n: Node, input: Tensor | undefined, output: Tensor | undefined): boolean {
  if (n.domain || output?.type !== "float32") return false;
  if (n.op === "Cast" || n.op === "CastLike") {
    return input?.type === "float16" || isFloat16Origin(input);
  }
  return MOVES_VALUES.has(n.op) && isFloat16Origin(input);
}

/** Evaluates one node on constant inputs; returns its outputs or undefined to keep it. */
export type NodeEvaluator = (node: Node, inputs: (Tensor | undefined)[]) => Tensor[] | undefined;

/** The constant an enclosing graph gives a name, or undefined. */
export type ConstantScope = (name: string) => Tensor | undefined;

const NO_CONSTANTS: ConstantScope = () => undefined;

/**
 * Replaces nodes whose inputs are all initializers by their results, in order, so chains
 * fold completely. Graph outputs stay produced by nodes. Returns how many nodes were folded.
 * Subgraphs are folded too, seeing the enclosing graphs' constants (`outer`); with `defer`,
 * each subgraph is handed to it with that scope instead, to be folded when it is first needed.
 */
export function foldConstantSubgraphs(
  graph: Graph,
  evaluate: NodeEvaluator,
  outer: ConstantScope = NO_CONSTANTS,
  defer?: (subgraph: Graph, outer: ConstantScope) => void,
): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // A name this graph computes shadows an enclosing constant of the same name.
  const computed = new Set(graph.nodes.flatMap((n) => n.outputs));
  const constant: ConstantScope = (name) =>
    graph.initializers.get(name) ?? (computed.has(name) ? undefined : outer(name));
  const keep: Node[] = [];
  let folded = 0;
  for (const n of graph.nodes) {
    const inner = subgraphs(n);
    for (const g of inner) {
      if (defer) defer(g, constant);
      else folded += foldConstantSubgraphs(g, evaluate, constant);
    }
    const foldable = n.inputs.length > 0 && inner.length === 0 &&
      n.inputs.every((i) => !i || constant(i)) &&
      n.outputs.every((o) => !outputs.has(o));
    const result = foldable
      ? evaluate(n, n.inputs.map((i) => (i ? constant(i) : undefined)))
      : undefined;
    if (result && result.every((t) => t.size <= MAX_FOLDED_ELEMENTS)) {
      if (keepsHalves(n, n.inputs[0] ? constant(n.inputs[0]) : undefined, result[0])) {
        markFloat16Origin(result[0]);
      }
      n.outputs.forEach((o, i) => {
        if (o) graph.initializers.set(o, result[i]);
        computed.delete(o);
      });
      folded++;
    } else keep.push(n);
  }
  graph.nodes = keep;
  return folded;
}
