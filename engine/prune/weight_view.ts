/**
 * A weight as a layer sees it, traced back to the constants it is made of. Exporters do not
 * always feed a layer its weight directly: silero VAD's LSTM reads `weight_ih` through Slice
 * (PyTorch → ONNX gate order), Concat and Unsqueeze inside nested If branches. Pruning decides
 * on the layer's view and writes the result back into the source constants, so it needs, for
 * every element of the view, the constant and the element it was copied from.
 *
 * @module
 */
import type { Graph, Model as IrModel, Node } from "../ir/graph.ts";
import { loadModel } from "../model.ts";
import { Tensor } from "../tensor.ts";

/** A float32 weight as its layer reads it, and where each element comes from. */
export interface WeightView {
  /** The value the layer reads. */
  dims: readonly number[];
  /** Its elements (row-major). */
  data: Float32Array;
  /** The constants (initializers or Constant outputs) the elements are copied from. */
  sources: string[];
  /** Per element: which of `sources`. */
  source: Uint16Array;
  /** Per element: the element index inside that source. */
  offset: Int32Array;
  /** The data-movement nodes between the sources and the layer (none for a direct read). */
  chain: readonly Node[];
}

/** Ops that only move elements, so a weight read through them is still a pruneable weight. */
const DATA_MOVEMENT = new Set([
  "Identity",
  "Reshape",
  "Unsqueeze",
  "Squeeze",
  "Flatten",
  "Transpose",
  "Slice",
  "Concat",
  "Gather",
  "Split",
]);

/** Largest element count float32 tags identify exactly (2^24). */
const MAX_TAGGED = 1 << 24;

/** Where a name is defined, innermost scope first. */
function definition(
  name: string,
  scopes: readonly Graph[],
): { tensor: Tensor } | { node: Node } | undefined {
  for (let s = scopes.length - 1; s >= 0; s--) {
    const g = scopes[s];
    const t = g.initializers.get(name);
    if (t) return { tensor: t };
    const node = g.nodes.find((n) => n.outputs.includes(name));
    if (node) return { node };
    if (g.inputs.some((i) => i.name === name)) return undefined;
  }
  return undefined;
}

/**
 * The view of the weight `name` that a node in the innermost of `scopes` reads: undefined
 * when the value is not a constant (an activation), a reason when it is a constant computed
 * by something other than data movement or whose elements are used twice.
 */
export async function traceWeight(
  name: string,
  scopes: readonly Graph[],
  opsets: IrModel["opsets"],
): Promise<WeightView | string | undefined> {
  const def = definition(name, scopes);
  if (!def) return undefined;
  if ("tensor" in def) {
    const t = def.tensor;
    if (t.type !== "float32") return undefined;
    return {
      dims: t.dims,
      data: t.data as Float32Array,
      sources: [name],
      source: new Uint16Array(t.size),
      offset: Int32Array.from({ length: t.size }, (_, i) => i),
      chain: [],
    };
  }
  // A computed value: collect its producers back to constants (post-order = run order).
  const chain: Node[] = [];
  const leaves = new Map<string, Tensor>();
  const seen = new Set<string>();
  let other: string | undefined;
  const visit = (value: string): boolean => {
    if (seen.has(value)) return true;
    seen.add(value);
    const d = definition(value, scopes);
    if (!d) return false;
    if ("tensor" in d) {
      leaves.set(value, d.tensor);
      return true;
    }
    if (d.node.inputs.length === 0 || d.node.op === "If" || d.node.op === "Loop") return false;
    for (const i of d.node.inputs) if (i && !visit(i)) return false;
    if (!DATA_MOVEMENT.has(d.node.op)) other ??= `${d.node.op} "${d.node.name}"`;
    if (!chain.includes(d.node)) chain.push(d.node);
    return true;
  };
  if (!visit(name)) return undefined;
  if (other) {
    return `weight "${name}" is computed by ${other}: only data movement (Slice, Concat, ` +
      `Reshape, …) is traced back to the constants`;
  }
  // Run the chain on tags: each float element replaced by its 1-based global index.
  const sources: string[] = [];
  const starts: number[] = [];
  let total = 0;
  const tagged = new Map<string, Tensor>();
  for (const [leaf, t] of leaves) {
    if (t.type !== "float32") {
      tagged.set(leaf, t);
      continue;
    }
    sources.push(leaf);
    starts.push(total);
    tagged.set(
      leaf,
      new Tensor("float32", Float32Array.from({ length: t.size }, (_, i) => total + i + 1), t.dims),
    );
    total += t.size;
  }
  if (total >= MAX_TAGGED) return `weight "${name}" is read from more than 2^24 elements`;
  const mini: IrModel = {
    graph: {
      name: `trace ${name}`,
      nodes: chain.map((n) => ({ ...n, attributes: { ...n.attributes } })),
      inputs: [],
      outputs: [{ name, type: "float32" }],
      initializers: tagged,
      valueInfo: new Map(),
    },
    opsets,
  };
  const model = await loadModel(mini, { fuse: false, sparse: "off" });
  let out: Tensor;
  try {
    out = model.runSync({})[name];
  } finally {
    model.dispose();
  }
  if (out.type !== "float32") return undefined;
  const tags = out.data as Float32Array;
  const source = new Uint16Array(tags.length);
  const offset = new Int32Array(tags.length);
  const data = new Float32Array(tags.length);
  const used = new Set<number>();
  for (let e = 0; e < tags.length; e++) {
    const id = tags[e] - 1;
    if (!Number.isInteger(id) || id < 0 || id >= total) {
      return `weight "${name}" mixes constants arithmetically: it is not a rearrangement`;
    }
    if (used.has(id)) return `weight "${name}" reads some constant elements twice`;
    used.add(id);
    let s = starts.length - 1;
    while (starts[s] > id) s--;
    source[e] = s;
    offset[e] = id - starts[s];
    data[e] = (leaves.get(sources[s])!.data as Float32Array)[offset[e]];
  }
  return { dims: out.dims, data, sources, source, offset, chain };
}
