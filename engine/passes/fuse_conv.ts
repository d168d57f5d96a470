/**
 * Conv-centred fusions, run before activation fusion:
 * - Conv / ConvTranspose followed by BatchNormalization with constant parameters: the BN is
 *   folded into the conv's weights and bias (new initializers; the originals stay untouched
 *   if something else reads them).
 * - Conv followed by Add of a same-shaped value: the Add becomes the conv's fused residual
 *   (`fused_residual`, an extra last input), so ResNet-style blocks add while the tile is hot.
 *
 * @module
 */
import { consumerCounts, freshNames, type Graph, type Node, producers } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";
import { foldBatchNorm } from "./fold_batch_norm.ts";

/** Whether the graph has a node of type `op` (most subgraphs have no conv: nothing to do). */
function hasOp(graph: Graph, op: string): boolean {
  return graph.nodes.some((n) => n.op === op);
}

function constF32(graph: Graph, name: string | undefined): Float32Array | undefined {
  const t = name ? graph.initializers.get(name) : undefined;
  return t?.type === "float32" ? (t.data as Float32Array) : undefined;
}

/** Folds BatchNormalization into the producing conv; returns how many were folded. */
export function foldBatchNorms(graph: Graph): number {
  if (!hasOp(graph, "BatchNormalization")) return 0;
  const counts = consumerCounts(graph);
  const producer = producers(graph);
  const fresh = freshNames(graph);
  const removed = new Set<Node>();
  let folded = 0;
  for (const bn of graph.nodes) {
    if (bn.op !== "BatchNormalization" || bn.outputs.filter((o) => o).length !== 1) continue;
    if ((bn.attributes.training_mode as number | undefined) === 1) continue;
    const conv = producer.get(bn.inputs[0]);
    if (!conv || (conv.op !== "Conv" && conv.op !== "ConvTranspose")) continue;
    if (counts.get(bn.inputs[0]) !== 1 || conv.attributes.fused_activation) continue;
    if (conv.attributes.fused_residual) continue;
    const w = graph.initializers.get(conv.inputs[1]);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => constF32(graph, bn.inputs[i]));
    if (!w || w.type !== "float32" || !scale || !bias || !mean || !variance) continue;
    const b = conv.inputs[2] ? constF32(graph, conv.inputs[2]) : undefined;
    if (conv.inputs[2] && !b) continue;
    // A factor that is not finite (variance + epsilon = 0, an infinite scale) would meet the
    // conv's zero weights as 0 × ∞ = NaN inside the folded weights, where the BN gives ±∞.
    const eps = (bn.attributes.epsilon as number | undefined) ?? 1e-5;
    if (!scale.every((sc, c) => Number.isFinite(sc / Math.sqrt(variance[c] + eps)))) continue;
    const out = foldBatchNorm(w.data as Float32Array, w.dims, b, {
      scale,
      bias,
      mean,
      variance,
      epsilon: (bn.attributes.epsilon as number | undefined) ?? 1e-5,
    }, {
      transposed: conv.op === "ConvTranspose",
      group: (conv.attributes.group as number | undefined) ?? 1,
      node: bn.name,
    });
    const wName = fresh(`${conv.name}/folded_weight`);
    graph.initializers.set(wName, new Tensor("float32", out.weight, w.dims));
    const bName = fresh(`${conv.name}/folded_bias`);
    graph.initializers.set(bName, new Tensor("float32", out.bias, [out.bias.length]));
    conv.inputs = [conv.inputs[0], wName, bName];
    conv.outputs = [bn.outputs[0]];
    removed.add(bn);
    folded++;
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return folded;
}

/**
 * Turns Conv → Add(conv output, other) into a Conv with a fused residual when `other` has the
 * output's exact shape (known from value info or checked at run time by the conv). Returns
 * how many were fused.
 */
export function fuseResidualAdds(graph: Graph): number {
  if (!hasOp(graph, "Conv")) return 0;
  const counts = consumerCounts(graph);
  const producer = producers(graph);
  const position = new Map<Node, number>();
  graph.nodes.forEach((n, i) => position.set(n, i));
  const removed = new Set<Node>();
  let fused = 0;
  for (const add of graph.nodes) {
    if (add.op !== "Add" || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const conv = producer.get(add.inputs[side]);
      const other = add.inputs[1 - side];
      if (!conv || conv.op !== "Conv" || removed.has(conv)) continue;
      if (counts.get(add.inputs[side]) !== 1 || conv.attributes.fused_activation) continue;
      if (conv.attributes.fused_residual || other === add.inputs[side]) continue;
      // The residual must be computed before the conv runs (it becomes the conv's input).
      const otherProducer = producer.get(other);
      if (otherProducer && position.get(otherProducer)! > position.get(conv)!) continue;
      // Only when shapes are known equal: a broadcasting Add (bias-like) must stay an Add.
      const a = graph.valueInfo.get(add.inputs[side])?.dims;
      const b = graph.valueInfo.get(other)?.dims;
      const outDims = graph.valueInfo.get(add.outputs[0])?.dims;
      const known = a && b && a.length === b.length && a.every((d, i) => d === b[i]);
      const sameAsOut = b && outDims && b.length === outDims.length &&
        b.every((d, i) => d === outDims[i]);
      if (!known && !sameAsOut) continue;
      while (conv.inputs.length < 3) conv.inputs.push("");
      conv.inputs.push(other);
      conv.attributes.fused_residual = 1;
      conv.outputs = [add.outputs[0]];
      removed.add(add);
      fused++;
      break;
    }
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return fused;
}

/**
 * Folds Mul / Add of a conv output by a constant per-channel vector (or scalar) into the
 * conv's weights and bias: exporters often write BatchNormalization, or a bias, that way
 * (ConvTranspose: the bias Add only).
 * Runs to a fixed point so Conv → Mul → Add chains fold completely. Returns how many folded.
 */
export function foldBiasAdds(graph: Graph): number {
  let total = 0;
  for (;;) {
    const n = foldAffineOnce(graph);
    if (n === 0) return total;
    total += n;
  }
}

function foldAffineOnce(graph: Graph): number {
  if (!hasOp(graph, "Conv") && !hasOp(graph, "ConvTranspose")) return 0;
  const counts = consumerCounts(graph);
  const producer = producers(graph);
  const fresh = freshNames(graph);
  const removed = new Set<Node>();
  let folded = 0;
  for (const add of graph.nodes) {
    if ((add.op !== "Add" && add.op !== "Mul") || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const conv = producer.get(add.inputs[side]);
      if (!conv || removed.has(conv)) continue;
      const c = graph.initializers.get(add.inputs[1 - side]);
      // ConvTranspose takes a bias Add only (its weights hold the outputs on their second axis).
      const transposed = conv.op === "ConvTranspose" && add.op === "Add";
      if (!conv || (conv.op !== "Conv" && !transposed) || !c || c.type !== "float32") continue;
      if (counts.get(add.inputs[side]) !== 1 || conv.attributes.fused_activation) continue;
      if (conv.attributes.fused_residual) continue;
      const w = graph.initializers.get(conv.inputs[1]);
      if (!w || w.type !== "float32") continue;
      const m = transposed
        ? w.dims[1] * ((conv.attributes.group as number | undefined) ?? 1)
        : w.dims[0];
      // A scalar, or [M,1,1] / [1,M,1,1] broadcast along the channels of a 2-D conv's output;
      // a rank above the output's would change the result's shape.
      const perChannel = w.dims.length === 4 && c.size === m && c.dims.length >= 3 &&
        c.dims.length <= 4 && c.dims[c.dims.length - 3] === m &&
        c.dims.slice(-2).every((d) => d === 1);
      const scalar = c.size === 1 && c.dims.length <= w.dims.length;
      if (!scalar && !perChannel) continue;
      const old = conv.inputs[2] ? graph.initializers.get(conv.inputs[2]) : undefined;
      if (conv.inputs[2] && !old) continue;
      const k = c.data as Float32Array;
      // An infinite factor would give NaN in the folded weights (0 × ∞) where the Mul gives ±∞.
      if (add.op === "Mul" && !k.every(Number.isFinite)) continue;
      const step = c.size === 1 ? 0 : 1;
      const bias = new Float32Array(m);
      if (old) bias.set(old.data as Float32Array);
      if (add.op === "Add") {
        for (let i = 0; i < m; i++) bias[i] += k[i * step];
      } else {
        // Runs at load over most weights of a model: plain loops, no call per weight.
        const src = w.data as Float32Array;
        const wd = new Float32Array(src.length);
        const per = src.length / m;
        for (let i = 0; i < m; i++) {
          const f = k[i * step];
          bias[i] *= f;
          for (let j = i * per; j < (i + 1) * per; j++) wd[j] = src[j] * f;
        }
        const wName = fresh(`${conv.name}/weight_times_${add.name}`);
        graph.initializers.set(wName, new Tensor("float32", wd, w.dims));
        conv.inputs = [conv.inputs[0], wName, conv.inputs[2] ?? ""];
      }
      const name = fresh(`${conv.name}/folded_bias_${add.name}`);
      graph.initializers.set(name, new Tensor("float32", bias, [m]));
      conv.inputs = [conv.inputs[0], conv.inputs[1], name];
      conv.outputs = [add.outputs[0]];
      removed.add(add);
      folded++;
      break;
    }
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return folded;
}
