/**
 * The engine's graph IR, independent of any file format: the ONNX, TF.js and safetensors
 * importers all produce it, and every pass works on it.
 *
 * @module
 */
import type { DType, Tensor } from "../tensor.ts";

/** A dimension: a size, or the name of a symbolic size resolved at run time. */
export type Dim = number | string;

/** An attribute value, as ONNX defines them (int64 values become numbers). */
export type AttributeValue =
  | number
  | string
  | number[]
  | string[]
  | Tensor
  | Tensor[]
  | Graph
  | Graph[];

/** One operation. Input names may be "" for an omitted optional input. */
export interface Node {
  /** Unique name (importers generate one when the file has none). */
  name: string;
  /** Operator type, e.g. "Conv". */
  op: string;
  /** Operator domain ("" for the default ONNX domain). */
  domain: string;
  /** Names of the input values. */
  inputs: string[];
  /** Names of the output values. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, AttributeValue>;
}

/** Name, element type and (possibly symbolic) shape of a value. */
export interface ValueInfo {
  /** The value's name. */
  name: string;
  /** Element type. */
  type: DType;
  /** Shape; undefined when unknown. */
  dims?: Dim[];
}

/** A graph: nodes in the order the file lists them, plus its interface and constants. */
export interface Graph {
  /** The graph's name. */
  name: string;
  /** Nodes. */
  nodes: Node[];
  /** Inputs the caller feeds (initializers are not listed here). */
  inputs: ValueInfo[];
  /** Outputs the graph produces. */
  outputs: ValueInfo[];
  /** Constant tensors by name. */
  initializers: Map<string, Tensor>;
  /** Known types and shapes of intermediate values. */
  valueInfo: Map<string, ValueInfo>;
}

/** A whole model. */
export interface Model {
  /** The main graph. */
  graph: Graph;
  /** Operator set version per domain ("" is the default ONNX domain). */
  opsets: Record<string, number>;
  /** Who produced the file, when it says. */
  producer?: string;
}

/** Each graph's captured names, with the node list they were worked out from. */
const CAPTURED = new WeakMap<Graph, { nodes: readonly Node[]; names: ReadonlySet<string> }>();

/**
 * Names a graph reads from enclosing scopes (its own nodes' inputs it does not define).
 * Remembered per graph until its node list is replaced (every pass that removes nodes
 * assigns a new list), so the decoder, the passes and the executor, which all ask at every
 * nesting level, walk a graph once. Later edits inside nested graphs (folding an If branch
 * when first taken) only drop reads: an answer kept across them may name a value no longer
 * read, which costs a later free or a skipped fusion, never a wrong result.
 */
export function capturedNames(graph: Graph): ReadonlySet<string> {
  const known = CAPTURED.get(graph);
  if (known && known.nodes === graph.nodes) return known.names;
  const defined = new Set<string>(graph.initializers.keys());
  for (const i of graph.inputs) defined.add(i.name);
  const used = new Set<string>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i && !defined.has(i)) used.add(i);
    for (const g of subgraphs(n)) {
      for (const c of capturedNames(g)) if (!defined.has(c)) used.add(c);
    }
    for (const o of n.outputs) if (o) defined.add(o);
  }
  CAPTURED.set(graph, { nodes: graph.nodes, names: used });
  return used;
}

const NO_GRAPHS: readonly Graph[] = Object.freeze([]);

/**
 * The graphs held in a node's attributes (If branches, Loop bodies). Most nodes hold none
 * and share one empty array: passes ask this of every node, many times at load.
 */
export function subgraphs(n: Node): readonly Graph[] {
  let out: Graph[] | undefined;
  for (const k in n.attributes) {
    const v = n.attributes[k];
    if (typeof v !== "object" || v === null) continue;
    if (isGraph(v)) (out ??= []).push(v);
    else if (Array.isArray(v) && v.length && isGraph(v[0])) (out ??= []).push(...(v as Graph[]));
  }
  return out ?? NO_GRAPHS;
}

/** True for an attribute value that is a graph. */
export function isGraph(v: unknown): v is Graph {
  return typeof v === "object" && v !== null && "nodes" in v && "initializers" in v;
}

/** Every value a node reads: its inputs and what its subgraphs take from enclosing scopes. */
export function readsOf(n: Node): string[] {
  const gs = subgraphs(n);
  if (gs.length === 0) return n.inputs;
  const all = new Set(n.inputs);
  for (const g of gs) for (const c of capturedNames(g)) all.add(c);
  return [...all];
}

/**
 * Names for values a pass adds to `graph`, none of them used yet (as an input, output,
 * initializer, or a node's input or output) nor given twice: `base`, else `base#2`, `base#3`…
 * So a user value that happens to have the same name is never overwritten. The graph's names
 * are collected once, when the pass starts.
 */
export function freshNames(graph: Graph): (base: string) => string {
  const used = new Set<string>(graph.initializers.keys());
  for (const v of [...graph.inputs, ...graph.outputs]) used.add(v.name);
  for (const n of graph.nodes) for (const v of [...n.inputs, ...n.outputs]) used.add(v);
  return (base) => {
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}#${k}`;
    used.add(name);
    return name;
  };
}

/** How many times each value is read: by the graph's nodes (`readsOf`) and as a graph output. */
export function consumerCounts(graph: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of graph.nodes) {
    for (const i of readsOf(n)) if (i) counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  for (const o of graph.outputs) counts.set(o.name, (counts.get(o.name) ?? 0) + 1);
  return counts;
}

/** The node that writes each value of the graph. */
export function producers(graph: Graph): Map<string, Node> {
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  return producer;
}

/** Applies `fn` to a graph and, depth first, to every graph nested in its nodes. */
export function forEachGraph(graph: Graph, fn: (g: Graph) => void): void {
  fn(graph);
  // Index loops: load-time walks run before V8 optimises them, where for-of allocates.
  const nodes = graph.nodes;
  for (let i = 0; i < nodes.length; i++) {
    const inner = subgraphs(nodes[i]);
    for (let j = 0; j < inner.length; j++) forEachGraph(inner[j], fn);
  }
}
