/**
 * One-shot pruning of ONNX models to the sparse structures Quartet's kernels run:
 * - C4n: magnitude masks within each group of 4 along the reduction axis (Conv 1-D and 2-D,
 *   MatMul, Gemm, and LSTM W and R along their input axis);
 * - pattern (3x3 Conv): a library of the 8 most common 4-tap shapes (centre included), each
 *   kernel projected on the library shape that keeps most of its energy, then the weakest
 *   kernels removed (connectivity pruning);
 * - block (MatMul / Gemm / LSTM): in every 16-output x 256-input block, the weakest input
 *   columns and then the weakest output rows removed (block column-row);
 * then (with calibration inputs) a least-squares refit of each
 * layer's surviving weights and bias so its output on the already-pruned model's activations
 * matches the dense layer's output on the dense model's activations, layer by layer in order.
 * With calibration, C4n and pattern masks are chosen by OBS error on the Gram matrix of the
 * layer's input features (obs_mask.ts, SparseGPT); with `mask: "magnitude"` they are
 * activation-aware magnitude masks: a weight's score is |w| times the RMS of the input
 * feature it multiplies (on the pruned model's activations), not |w| alone.
 *
 * Weight layers are found in nested If branches too (silero VAD keeps all of its weights as
 * Constant nodes in sample-rate branches), and weights read through data movement (Slice,
 * Concat, Unsqueeze, …) are traced back to the constants they are copied from. Calibration
 * runs a flat copy of the graph with the taken branches inlined, so values inside branches
 * can be observed without touching the engine. Layers in branches the calibration never takes
 * are pruned by magnitude only (noted in the report).
 *
 * The result is a standard ONNX file with zeros: it runs anywhere, and Quartet detects the
 * structure and runs it on the sparse kernels. `pruneModel` does the same on an in-memory IR
 * model (a TF.js layers import, whose convs use auto_pad) and returns an IR model.
 *
 * @module
 */
import { fromBinary, toBinary } from "npm:@bufbuild/protobuf@2.17.0";
import { InvalidArgumentError, ModelFormatError, ShapeError } from "../errors.ts";
import { checkOptions } from "../options.ts";
import { decodeOnnx } from "../formats/onnx/decode.ts";
import {
  type GraphProto,
  ModelProtoSchema,
  type TensorProto,
  TensorProto_DataType,
} from "../formats/onnx/gen/onnx_pb.ts";
import { foldConstantNodes } from "../passes/fold_constants.ts";
import {
  type AttributeValue,
  forEachGraph,
  type Graph,
  isGraph,
  type Model as IrModel,
  type Node,
  readsOf,
  subgraphs,
} from "../ir/graph.ts";
import { loadModel } from "../model.ts";
import { windowAxis } from "../ops/conv.ts";
import { Tensor } from "../tensor.ts";
import { inlineBranches } from "./flatten.ts";
import type { LayerReport } from "./report.ts";
import { lstmFeatures, type LstmSample, type LstmTarget, lstmTarget } from "./lstm.ts";
import { type MaskShape, parseScheme, type Scheme, schemeMask } from "./masks.ts";
import {
  inputHessian,
  obsKernelDrops,
  obsMask,
  obsPatternLibrary,
  obsPatternMask,
} from "./obs_mask.ts";
import { swapMask } from "./swap_mask.ts";
import { featureGram, type RefitResult, type RefitRow, refitRows } from "./refit.ts";
import { traceWeight, type WeightView } from "./weight_view.ts";
import { predictSpeedup } from "./predict.ts";

/** Options of `pruneOnnx`. */
export interface PruneOptions {
  /**
   * "c4n:1", "c4n:2" or "c4n:3" (zeros per group of 4); "pattern" or "pattern:<f>" (3x3
   * convs: 4 of 9 taps, a fraction f of the kernels removed, default 0.3); "block:<f>"
   * (MatMul / Gemm / LSTM: a fraction f of each 16 x 256 block kept, as √f of its rows and
   * √f of its columns, e.g. block:0.25). Schemes join with "+": each layer takes the first
   * that applies to it ("pattern+c4n:2": pattern on 3x3 convs, C4,2 on the other layers).
   */
  scheme: string;
  /** Calibration inputs (feeds by input name), one per sample. None: magnitude only. */
  calibration?: Record<string, Tensor>[];
  /**
   * Streaming state: output name → the input it feeds at the next calibration sample (silero
   * VAD: `{ stateN: "state" }`). The samples then run in order as consecutive chunks, the
   * dense model carrying its own state and the model pruned so far carrying its own; a
   * sample's own value for that input is used only by the first sample.
   */
  carry?: Record<string, string>;
  /** Only layers whose node name matches (a RegExp source; default all). */
  layers?: string;
  /**
   * Keep the first and last weight layers of every execution path dense (default true). In
   * silero VAD the first is the STFT conv (a fixed Fourier basis, not a learned layer) and the
   * last the 1-output 1x1 conv, in both sample-rate branches.
   */
  keepFirstLast?: boolean;
  /** Calibration columns used per layer at most (default 4096). */
  maxColumns?: number;
  /**
   * Layers whose relative output error on the calibration data (after the refit) exceeds this
   * stay dense, e.g. 0.1 for 10 %. Needs calibration inputs.
   */
  maxError?: number;
  /**
   * With calibration, refit the weights of the last weight layers kept dense by
   * `keepFirstLast` (all weights kept) to the pruned model's inputs, so they correct what the
   * pruned layers before them lost (default true; off when `layers` selects layers).
   */
  refitLast?: boolean;
  /**
   * Keep dense the layers the kernels' cost models predict no faster sparse (one thread; see
   * `predictedSpeedup` in the report). Pruned layers that run dense still pack smaller.
   */
  onlyFaster?: boolean;
  /**
   * How C4n and pattern masks are chosen with calibration: "magnitude" keeps the largest
   * |w| × RMS of its input feature; "obs" drops the weights of least OBS error on the input
   * Gram matrix, compensating each drop on the columns not yet chosen (SparseGPT; pattern:
   * each kernel's library shape, and the kernels connectivity removes). Without calibration
   * both are magnitude masks; block masks are always magnitude masks. Default "obs":
   * measured against "magnitude" it gained 0.5–1.8 dB on ESRGAN-slim (held-out photo crops,
   * every scheme; 4 dB with 30 % of the kernels removed), PP-OCRv4 rec C4,2 read
   * 90.6 % of lines as dense did (84.4 %), PP-OCR cls 95.3 % (89.1 %), silero VAD C4,2
   * 98.8 % of decisions (97.7 %), C4,3 98.1 % (97.4 %) on its held-out clip. "obs-swap"
   * improves the OBS C4n masks by swaps within groups of 4 that lower each row's compensated
   * error (swap_mask.ts; other schemes as "obs"): ESRGAN-slim's held-out crops gained 0.5–1.8
   * dB on average (C4,1–C4,3) at 1.6–4.3 times the prune time; silero VAD's held-out decisions
   * moved within their noise, so it is not the default.
   */
  mask?: PruneMask;
  /** Called after each layer. */
  onLayer?: (report: LayerReport) => void;
}

/** How masks are chosen with calibration data (see `PruneOptions.mask`). */
export type PruneMask = "magnitude" | "obs" | "obs-swap";

/** Every PruneMask, for the checks of the library's options and of the CLI's --mask. */
export const PRUNE_MASKS: readonly PruneMask[] = ["magnitude", "obs", "obs-swap"];

/** The pruned model and the per-layer report. */
export interface PruneResult {
  /** The pruned ONNX model. */
  bytes: Uint8Array;
  /** One row per weight layer considered. */
  layers: LayerReport[];
}

/** Conv / MatMul / Gemm: output rows over a reduction axis, with a column builder. */
interface LinearTarget {
  kind: "linear";
  node: Node;
  weight: WeightView;
  /** Bias with one value per row, when a constant. */
  bias?: WeightView;
  shape: MaskShape;
  /** Turns the layer's input activation into columns [K][cols]. */
  columns: (x: Tensor, maxCols: number) => { data: Float64Array; cols: number };
}

type Target = LinearTarget | (LstmTarget & { kind: "lstm" });

/** A weight layer: the nodes reading one set of constants (alternative branches share it). */
interface Layer {
  /** Sorted source constant names: the identity of the layer. */
  key: string;
  /** Every node reading these weights (silero: the LSTM of each batch-size branch). */
  nodes: Node[];
  /** The data-movement nodes those nodes read the weights through. */
  movers: Node[];
  target?: Target;
  reason?: string;
}

const WEIGHT_OPS = new Set(["Conv", "MatMul", "Gemm", "LSTM"]);

/** Why a target cannot take the scheme, or undefined when it can. */
function schemeMismatch(scheme: Scheme, t: Target): string | undefined {
  const shapes = t.kind === "lstm" ? [lstmShapes(t).w, lstmShapes(t).r] : [t.shape];
  if (scheme.kind === "c4n" && shapes.some((s) => s.k < 4)) {
    return `reduction length ${Math.min(...shapes.map((s) => s.k))} < 4: no group of 4 to prune`;
  }
  if (scheme.kind === "pattern" && !(t.kind === "linear" && t.shape.kernel3x3)) {
    return "pattern sparsity applies to 3x3 convolutions (group 1) only";
  }
  if (scheme.kind === "block" && t.node.op === "Conv") {
    return "block sparsity applies to MatMul / Gemm / LSTM weights only";
  }
  return undefined;
}

/**
 * Which of `total` positions (output pixels, or rows of a product's input) the refit reads
 * when there are more than `max`: one at a pseudo-random place in each of `max` equal strata,
 * in order. Spread over the whole range like an even step, but an even step locks onto one
 * phase of a regular grid: a step of 4 over an image read only every 4th column, one
 * sub-pixel phase of a 2x upscaler, and the refit fitted it at the cost of the others
 * (ESRGAN-slim C4,2, 4 calibration crops: 9 dB lower PSNR on held-out crops).
 */
export function calibrationPicks(total: number, max: number): number[] {
  if (total <= max) return Array.from({ length: total }, (_, i) => i);
  let x = 0x2545f491;
  return Array.from({ length: max }, (_, i) => {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const lo = Math.floor((i * total) / max);
    const hi = Math.floor(((i + 1) * total) / max);
    return lo + (x >>> 0) % (hi - lo);
  });
}

/**
 * Conv 1-D ([M, C, k]) and 2-D ([M, C, kh, kw]), group 1: rows M over K = C·kernel. Explicit
 * pads and auto_pad (TF.js imports use SAME_UPPER and VALID) both work: the window is
 * resolved per input shape, as the engine's Conv does.
 */
function convTarget(node: Node, w: WeightView, bias?: WeightView): LinearTarget | string {
  const a = node.attributes;
  const group = (a.group as number | undefined) ?? 1;
  if (w.dims.length !== 4 && w.dims.length !== 3) return "only 1-D and 2-D convolutions are pruned";
  if (group !== 1) return "grouped and depthwise convolutions stay dense";
  const autoPad = (a.auto_pad as string | undefined) ?? "NOTSET";
  // A 1-D conv is a 2-D conv of height 1.
  const oneD = w.dims.length === 3;
  const [m, c, kh, kw] = oneD ? [w.dims[0], w.dims[1], 1, w.dims[2]] : w.dims;
  const k = c * kh * kw;
  const attr = (name: string, fill: number, n: number) =>
    (a[name] as number[] | undefined) ?? Array(n).fill(fill);
  const [sh, sw] = oneD ? [1, attr("strides", 1, 1)[0]] : attr("strides", 1, 2);
  const [dh, dw] = oneD ? [1, attr("dilations", 1, 1)[0]] : attr("dilations", 1, 2);
  const pads = attr("pads", 0, oneD ? 2 : 4);
  const [pt, pl, pb, pr] = oneD ? [0, pads[0], 0, pads[1]] : pads;
  return {
    kind: "linear",
    node,
    weight: w,
    bias: bias && bias.data.length === m ? bias : undefined,
    shape: { rows: m, k, kernel3x3: !oneD && kh === 3 && kw === 3, index: (r, j) => r * k + j },
    columns: (x, maxCols) => {
      const [n, cin, h, wd] = oneD ? [x.dims[0], x.dims[1], 1, x.dims[2]] : x.dims;
      const ay = oneD ? { begin: 0, out: 1 } : windowAxis(h, kh, sh, dh, pt, pb, autoPad);
      const ax = windowAxis(wd, kw, sw, dw, pl, pr, autoPad);
      const [oh, ow, top, left] = [ay.out, ax.out, ay.begin, ax.begin];
      const chosen = calibrationPicks(n * oh * ow, maxCols);
      const data = new Float64Array(k * chosen.length);
      const xd = x.data as Float32Array;
      chosen.forEach((p, col) => {
        const b = Math.floor(p / (oh * ow));
        const oy = Math.floor((p % (oh * ow)) / ow);
        const ox = p % ow;
        for (let ci = 0; ci < cin; ci++) {
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * sh - top + ky * dh;
              const ix = ox * sw - left + kx * dw;
              const v = iy >= 0 && iy < h && ix >= 0 && ix < wd
                ? xd[((b * cin + ci) * h + iy) * wd + ix]
                : 0;
              data[((ci * kh + ky) * kw + kx) * chosen.length + col] = v;
            }
          }
        }
      });
      return { data, cols: chosen.length };
    },
  };
}

function matmulTarget(
  node: Node,
  w: WeightView,
  transposed: boolean,
  bias?: WeightView,
): LinearTarget | string {
  if (w.dims.length !== 2) return "only 2-D MatMul/Gemm weights are pruned";
  const [k, n] = transposed ? [w.dims[1], w.dims[0]] : w.dims;
  return {
    kind: "linear",
    node,
    weight: w,
    // A bias per output ([N] or [1, N]); any other C (per row, a full matrix) is added as is.
    bias: bias && bias.data.length === n && bias.dims.at(-1) === n ? bias : undefined,
    shape: { rows: n, k, index: transposed ? (r, j) => r * k + j : (r, j) => j * n + r },
    columns: (x, maxCols) => {
      const rowsIn = x.size / k;
      const chosen = calibrationPicks(rowsIn, maxCols);
      const data = new Float64Array(k * chosen.length);
      const xd = x.data as Float32Array;
      chosen.forEach((p, col) => {
        for (let j = 0; j < k; j++) data[j * chosen.length + col] = xd[p * k + j];
      });
      return { data, cols: chosen.length };
    },
  };
}

/** The mask shapes of an LSTM's W and R: rows dirs·4H over their last axis. */
function lstmShapes(t: LstmTarget): { w: MaskShape; r: MaskShape } {
  const rows = t.dirs * 4 * t.hidden;
  return {
    w: { rows, k: t.input, index: (r, j) => r * t.input + j },
    r: { rows, k: t.hidden, index: (r, j) => r * t.hidden + j },
  };
}

/** The layer a node forms, if it reads constant weights. */
async function layerOf(
  node: Node,
  scopes: readonly Graph[],
  opsets: IrModel["opsets"],
): Promise<{ key: string; target?: Target; reason?: string } | undefined> {
  const trace = (i: number) =>
    node.inputs[i] ? traceWeight(node.inputs[i], scopes, opsets) : Promise.resolve(undefined);
  const view = (v: WeightView | string | undefined) => (typeof v === "object" ? v : undefined);
  const w = await trace(1);
  if (w === undefined) return undefined;
  if (node.op === "LSTM") {
    const r = await trace(2);
    if (r === undefined) return undefined;
    if (typeof w === "string" || typeof r === "string") {
      return { key: `node ${node.name}`, reason: typeof w === "string" ? w : r as string };
    }
    const key = [...new Set([...w.sources, ...r.sources])].sort().join(" + ");
    const t = lstmTarget(node, w, r, view(await trace(3)));
    return typeof t === "string" ? { key, reason: t } : { key, target: { ...t, kind: "lstm" } };
  }
  if (typeof w === "string") return { key: `node ${node.name}`, reason: w };
  const key = [...new Set(w.sources)].sort().join(" + ");
  const bias = view(await trace(2));
  let t: LinearTarget | string;
  if (node.op === "Conv") t = convTarget(node, w, bias);
  else if (node.op === "MatMul") t = matmulTarget(node, w, false);
  else {
    const a = node.attributes;
    // The refit writes the bias as a plain per-output bias: a scaled C (beta ≠ 1) is not one.
    const scaledC = node.inputs[2] && ((a.beta as number | undefined) ?? 1) !== 1;
    t = (a.transA as number | undefined) || ((a.alpha as number | undefined) ?? 1) !== 1 || scaledC
      ? "Gemm with transA, alpha ≠ 1 or a C scaled by beta ≠ 1 stays dense"
      : matmulTarget(node, w, ((a.transB as number | undefined) ?? 0) === 1, bias);
  }
  return typeof t === "string" ? { key, reason: t } : { key, target: t };
}

/** Weight layers in order (depth first through subgraphs, at their node's position). */
async function findLayers(model: IrModel): Promise<Layer[]> {
  const layers: Layer[] = [];
  const byKey = new Map<string, Layer>();
  const walk = async (g: Graph, scopes: Graph[]) => {
    const inner = [...scopes, g];
    for (const node of g.nodes) {
      if (WEIGHT_OPS.has(node.op) && !node.domain) {
        const l = await layerOf(node, inner, model.opsets);
        if (l) {
          const known = byKey.get(l.key);
          if (known) {
            known.nodes.push(node);
            if (l.target) known.movers.push(...viewsOf(l.target).flatMap((v) => v.chain));
            // Tied weights read another way (transposed, another op) cannot share one mask.
            if (known.target && !sameLayout(known.target, l.target)) {
              known.reason = `its constants are also read, in another layout, by ${node.op} ` +
                `"${node.name}"`;
              known.target = undefined;
            }
          } else {
            const movers = l.target ? viewsOf(l.target).flatMap((v) => v.chain) : [];
            const layer = { key: l.key, nodes: [node], movers, target: l.target, reason: l.reason };
            byKey.set(l.key, layer);
            layers.push(layer);
          }
        }
      }
      for (const s of subgraphs(node)) await walk(s, inner);
    }
  };
  await walk(model.graph, []);
  // Written back by name: a name defined twice, or shared by two layers, is ambiguous.
  const definitions = new Map<string, number>();
  forEachGraph(model.graph, (g) => {
    for (const name of g.initializers.keys()) {
      definitions.set(name, (definitions.get(name) ?? 0) + 1);
    }
  });
  const owners = new Map<string, number>();
  for (const l of layers) {
    if (!l.target) continue;
    for (const s of sourcesOf(l.target)) owners.set(s, (owners.get(s) ?? 0) + 1);
  }
  // Every reader of every value, in all graphs, and the values graphs output.
  const readers = new Map<string, Node[]>();
  const graphOutputs = new Set<string>();
  forEachGraph(model.graph, (g) => {
    for (const n of g.nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        const list = readers.get(i);
        if (list) list.push(n);
        else readers.set(i, [n]);
      }
    }
    for (const o of g.outputs) graphOutputs.add(o.name);
  });
  for (const l of layers) {
    if (!l.target) continue;
    const twice = sourcesOf(l.target).find((s) => (definitions.get(s) ?? 0) > 1);
    const shared = sourcesOf(l.target).find((s) => (owners.get(s) ?? 0) > 1);
    if (twice) l.reason = `weight name "${twice}" is defined in more than one graph`;
    else if (shared) l.reason = `constant "${shared}" is shared with another weight layer`;
    else l.reason = otherReader(l, l.target, readers, graphOutputs);
    if (l.reason) l.target = undefined;
  }
  return layers;
}

/** The views a target reads (weights and bias). */
function viewsOf(t: Target): WeightView[] {
  const views = t.kind === "lstm" ? [t.W, t.R, t.B] : [t.weight, t.bias];
  return views.filter((v): v is WeightView => v !== undefined);
}

/** Whether two targets read their constants element for element the same way. */
function sameLayout(a: Target, b: Target | undefined): boolean {
  if (!b || a.kind !== b.kind) return false;
  if (a.kind === "linear" && b.kind === "linear") {
    // Rows and the reduction axis must run the same way through the weight (a MatMul and a
    // transB Gemm tied to one constant read it transposed from each other).
    const [sa, sb] = [a.shape, b.shape];
    if (sa.rows !== sb.rows || sa.k !== sb.k) return false;
    if (sa.index(1, 0) !== sb.index(1, 0) || sa.index(0, 1) !== sb.index(0, 1)) return false;
  }
  const [va, vb] = [viewsOf(a), viewsOf(b)];
  return va.length === vb.length &&
    va.every((v, i) =>
      v.dims.join() === vb[i].dims.join() && v.sources.join() === vb[i].sources.join() &&
      v.offset.every((o, e) => o === vb[i].offset[e] && v.source[e] === vb[i].source[e])
    );
}

/**
 * Why a layer's constants cannot be rewritten: something other than the layer (and the data
 * movement it reads them through) reads them, or a graph outputs them. Undefined when only
 * the layer does.
 */
function otherReader(
  l: Layer,
  t: Target,
  readers: ReadonlyMap<string, Node[]>,
  graphOutputs: ReadonlySet<string>,
): string | undefined {
  const own = new Set<Node>([...l.nodes, ...l.movers]);
  const values = [...sourcesOf(t), ...l.movers.flatMap((n) => n.outputs)];
  for (const v of values) {
    if (graphOutputs.has(v)) return `constant "${v}" is also a graph output`;
    const other = readers.get(v)?.find((r) => !own.has(r));
    if (other) return `constant "${v}" is also read by ${other.op} "${other.name}"`;
  }
  return undefined;
}

/** The constants a target writes (weights and biases). */
function sourcesOf(t: Target): string[] {
  return [...new Set(viewsOf(t).flatMap((v) => v.sources))];
}

/**
 * Keys of the layers that are first or last on some execution path: If branches are
 * alternatives, so each branch contributes its own first and last.
 */
function pathEnds(
  graph: Graph,
  keyOf: (n: Node) => string | undefined,
): { first: Set<string>; last: Set<string> } {
  type Ends = { first: Set<string>; last: Set<string>; empty: boolean };
  const ends = (g: Graph): Ends => {
    let acc: Ends = { first: new Set(), last: new Set(), empty: true };
    for (const n of g.nodes) {
      const key = keyOf(n);
      let e: Ends;
      if (key) e = { first: new Set([key]), last: new Set([key]), empty: false };
      else {
        const inner = subgraphs(n).map(ends);
        if (!inner.length) continue;
        e = {
          first: new Set(inner.flatMap((x) => [...x.first])),
          last: new Set(inner.flatMap((x) => [...x.last])),
          empty: inner.some((x) => x.empty),
        };
      }
      acc = {
        first: acc.empty ? new Set([...acc.first, ...e.first]) : acc.first,
        last: e.empty ? new Set([...acc.last, ...e.last]) : e.last,
        empty: acc.empty && e.empty,
      };
    }
    return acc;
  };
  return ends(graph);
}

/**
 * Runs `model` on the samples in order and returns the wanted values of each. With `carry`,
 * each sample after the first takes the carried inputs from the previous sample's outputs.
 */
async function capture(
  model: IrModel,
  values: readonly string[],
  feeds: readonly Record<string, Tensor>[],
  carry: Record<string, string> = {},
): Promise<Record<string, Tensor>[]> {
  const wanted = [...new Set([...values, ...Object.keys(carry)])];
  // Loading rewrites the graph and the graphs of its If branches (folding turns a weight's
  // Transpose or Slice chain into one constant): give it a copy, or the chain would be frozen
  // with the values of this load in every later capture.
  const copy = copyGraph(model.graph);
  // Only the nodes the wanted values depend on run: an early layer's capture stops there.
  const needed = new Set(wanted);
  const keep = new Set<Node>();
  for (let i = copy.nodes.length - 1; i >= 0; i--) {
    const n = copy.nodes[i];
    if (!n.outputs.some((o) => o && needed.has(o))) continue;
    keep.add(n);
    for (const r of readsOf(n)) if (r) needed.add(r);
  }
  const graph = {
    ...copy,
    nodes: copy.nodes.filter((n) => keep.has(n)),
    outputs: wanted.map((name) => ({ name, type: "float32" as const })),
  };
  const m = await loadModel({ ...model, graph }, { fuse: false, sparse: "off" });
  try {
    const out: Record<string, Tensor>[] = [];
    let state: Record<string, Tensor> = {};
    for (const f of feeds) {
      const r = m.runSync({ ...f, ...state });
      out.push(Object.fromEntries(values.map((v) => [v, r[v]])));
      state = Object.fromEntries(Object.entries(carry).map(([o, i]) => [i, r[o]]));
    }
    return out;
  } finally {
    m.dispose();
  }
}

/**
 * The branch each If takes on the calibration data, found level by level (an If's condition
 * is observed once its enclosing branch is inlined). Conditions must not vary between samples:
 * they are checked on the first and the last sample.
 */
async function takenBranches(
  model: IrModel,
  calib: readonly Record<string, Tensor>[],
): Promise<Map<string, boolean>> {
  const taken = new Map<string, boolean>();
  for (;;) {
    const graph = inlineBranches(model.graph, taken);
    const ifs = graph.nodes.filter((n) => n.op === "If" && !n.domain);
    if (!ifs.length) return taken;
    // Every sample's conditions (only the subgraphs computing them run).
    const out = await capture({ ...model, graph }, ifs.map((n) => n.inputs[0]), calib);
    for (const n of ifs) {
      const c = out.map((o) => Number(o[n.inputs[0]].data[0]) !== 0);
      const other = c.findIndex((v) => v !== c[0]);
      if (other >= 0) {
        throw new InvalidArgumentError(
          `If "${n.name}" takes different branches on calibration samples 0 and ${other}: ` +
            `calibrate with samples that take one path`,
        );
      }
      taken.set(n.name, c[0]);
    }
  }
}

/** Writes `values` (one per view element) into the source constants. */
function scatter(view: WeightView, values: ArrayLike<number>, into: Map<string, Float32Array>) {
  for (let e = 0; e < view.data.length; e++) {
    into.get(view.sources[view.source[e]])![view.offset[e]] = values[e];
  }
}

/** Joins per-sample column blocks [F][cols_i] into [F][Σ cols]. */
function joinColumns(parts: { data: Float64Array; cols: number }[], f: number) {
  const cols = parts.reduce((s, p) => s + p.cols, 0);
  const out = new Float64Array(f * cols);
  let at = 0;
  for (const p of parts) {
    for (let j = 0; j < f; j++) {
      out.set(p.data.subarray(j * p.cols, (j + 1) * p.cols), j * cols + at);
    }
    at += p.cols;
  }
  return { data: out, cols };
}

/** The report's relative errors from the rows' squared errors. */
function errorFields(results: RefitResult[]): Pick<LayerReport, "errorMagnitude" | "errorRefit"> {
  let mag = 0;
  let fit = 0;
  let norm = 0;
  for (const r of results) {
    mag += r.errMagnitude;
    fit += r.errRefit;
    norm += r.norm;
  }
  return {
    errorMagnitude: Math.sqrt(mag / Math.max(norm, 1e-30)),
    errorRefit: Math.sqrt(fit / Math.max(norm, 1e-30)),
  };
}

/** What pruning one layer needs from the run. */
interface LayerContext {
  scheme: Scheme;
  mask: PruneMask;
  /** Calibration columns per sample. */
  perSample: number;
  /** Refit only with at least this many calibration columns per weight of a row. */
  minColumnsPerWeight?: number;
  /** Writes new values of a view into the pruned constants. */
  store: (view: WeightView, values: ArrayLike<number>) => void;
  /**
   * Captures the layer's `calibrationValues` per calibration sample on the dense model and on
   * the model pruned so far; undefined when the layer is off the calibration path.
   */
  calibrate?: () => Promise<{
    dense: Record<string, Tensor>[];
    pruned: Record<string, Tensor>[];
  }>;
}

/**
 * The weights scaled by the RMS of the feature each one multiplies, so masks keep the weights
 * that carry the most output energy on the calibration data (activation-aware magnitude).
 */
function activationScaled(
  data: Float32Array,
  shape: MaskShape,
  features: Float64Array,
  cols: number,
  from = 0,
): Float32Array {
  const out = new Float32Array(data.length);
  for (let j = 0; j < shape.k; j++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += features[(from + j) * cols + c] ** 2;
    const rms = Math.sqrt(s / Math.max(cols, 1));
    for (let r = 0; r < shape.rows; r++) {
      const i = shape.index(r, j);
      out[i] = data[i] * rms;
    }
  }
  return out;
}

/** Masks (and with calibration refits) a Conv / MatMul / Gemm; returns the new weights. */
async function pruneLinear(
  t: LinearTarget,
  node: Node,
  ctx: LayerContext,
  report: LayerReport,
): Promise<Float32Array[]> {
  const { k, rows, index } = t.shape;
  const x = node.inputs[0];
  const cap = await ctx.calibrate?.();
  const D = cap && joinColumns(cap.dense.map((s) => t.columns(s[x], ctx.perSample)), k);
  const P = cap && joinColumns(cap.pruned.map((s) => t.columns(s[x], ctx.perSample)), k);
  const gram = P && featureGram(P.data, k, P.cols);
  let keep: Uint8Array;
  if (P && ctx.mask !== "magnitude" && ctx.scheme.kind !== "block") {
    const h = inputHessian(gram!, { centred: t.bias !== undefined });
    if (ctx.scheme.kind === "c4n") {
      keep = obsMask(t.shape, t.weight.data, h, ctx.scheme.n);
      if (ctx.mask === "obs-swap" && ctx.scheme.n > 0) {
        keep = swapMask(t.shape, t.weight.data, h, keep, ctx.scheme.n).keep;
      }
    } else {
      // The library, each kernel's shape and the kernels removed all go by OBS error.
      const dropped = obsKernelDrops(t.shape, t.weight.data, h, ctx.scheme.removed);
      const library = obsPatternLibrary(t.shape, t.weight.data, h);
      keep = obsPatternMask(t.shape, t.weight.data, h, library, dropped);
    }
  } else {
    const scores = P ? activationScaled(t.weight.data, t.shape, P.data, P.cols) : t.weight.data;
    keep = schemeMask(ctx.scheme, t.shape, scores);
  }
  const w = new Float32Array(t.weight.data);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) if (!keep[r * k + j]) w[index(r, j)] = 0;
  }
  if (D && P && D.cols >= (ctx.minColumnsPerWeight ?? 0) * (k + 1)) {
    const bias = t.bias?.data;
    const problems = Array.from({ length: rows }, (_, r): RefitRow => {
      const dense = new Float64Array(k + 1);
      const kp = new Uint8Array(k + 1);
      for (let j = 0; j < k; j++) [dense[j], kp[j]] = [t.weight.data[index(r, j)], keep[r * k + j]];
      if (bias) [dense[k], kp[k]] = [bias[r], 1];
      return { dense, keep: kp };
    });
    const fits = refitRows(
      { features: k, cols: D.cols, pruned: P.data, dense: D.data, gram },
      problems,
    );
    fits.forEach((f, r) => {
      for (let j = 0; j < k; j++) w[index(r, j)] = f.row[j];
    });
    if (t.bias) ctx.store(t.bias, fits.map((f) => f.row[k]));
    Object.assign(report, errorFields(fits));
  }
  ctx.store(t.weight, w);
  return [w];
}

/**
 * OBS C4n masks of an LSTM's W and R, per direction on the joint features [x_t; h_t−1] that
 * the refit fits them on, so a dropped input weight is compensated on the recurrent weights
 * of its row too. When I is not a multiple of 4 the groups of W and R cannot share a row,
 * and each is chosen on its own block of the Gram matrix. With `swaps`, `swapMask` then
 * improves each mask on the same Gram matrix.
 */
function lstmObsMasks(
  t: LstmTarget,
  P: { data: Float64Array; cols: number }[],
  n: number,
  swaps: boolean,
): { w: Uint8Array; r: Uint8Array } {
  const choose = (shape: MaskShape, w: Float32Array, h: Float64Array) => {
    const keep = obsMask(shape, w, h, n);
    return swaps ? swapMask(shape, w, h, keep, n).keep : keep;
  };
  const { input: I, hidden: H } = t;
  const F = I + H;
  const centred = t.B !== undefined;
  const grams = P.map((p) => featureGram(p.data, F, p.cols));
  const w = new Uint8Array(t.W.data.length);
  const r = new Uint8Array(t.R.data.length);
  for (let d = 0; d < t.dirs; d++) {
    const row0 = d * 4 * H;
    if (I % 4 === 0) {
      const joint = new Float32Array(4 * H * F);
      for (let g = 0; g < 4 * H; g++) {
        joint.set(t.W.data.subarray((row0 + g) * I, (row0 + g + 1) * I), g * F);
        joint.set(t.R.data.subarray((row0 + g) * H, (row0 + g + 1) * H), g * F + I);
      }
      const h = inputHessian(grams[d], { centred });
      const keep = choose({ rows: 4 * H, k: F, index: (g, j) => g * F + j }, joint, h);
      for (let g = 0; g < 4 * H; g++) {
        w.set(keep.subarray(g * F, g * F + I), (row0 + g) * I);
        r.set(keep.subarray(g * F + I, (g + 1) * F), (row0 + g) * H);
      }
    } else {
      const hw = inputHessian(grams[d], { k: I, centred });
      const hr = inputHessian(grams[d], { from: I, centred });
      const shape = (k: number) => ({
        rows: 4 * H,
        k,
        index: (g: number, j: number) => (row0 + g) * k + j,
      });
      w.set(choose(shape(I), t.W.data, hw), row0 * I);
      r.set(choose(shape(H), t.R.data, hr), row0 * H);
    }
  }
  return { w, r };
}

/**
 * Masks W and R of an LSTM along their input axes and, with calibration, refits each gate row
 * jointly on [x_t; h_t−1] (the bias change goes to Wb); returns the new W and R.
 */
async function pruneLstm(
  t: LstmTarget,
  node: Node,
  ctx: LayerContext,
  report: LayerReport,
): Promise<Float32Array[]> {
  const shapes = lstmShapes(t);
  const { input: I, hidden: H } = t;
  const F = I + H;
  let cap: { dense: LstmSample[]; pruned: LstmSample[] } | undefined;
  if (ctx.calibrate && node.inputs[4]) report.note = "sequence_lens given: magnitude only";
  else if (ctx.calibrate) {
    const y = lstmY(node);
    const h0 = node.inputs[5] || undefined;
    const got = await ctx.calibrate();
    const samples = (out: Record<string, Tensor>[]) =>
      out.map((o): LstmSample => ({ x: o[node.inputs[0]], y: o[y], h0: h0 ? o[h0] : undefined }));
    cap = { dense: samples(got.dense), pruned: samples(got.pruned) };
  }
  const D = cap &&
    Array.from({ length: t.dirs }, (_, d) => lstmFeatures(t, d, cap.dense, ctx.perSample));
  const P = cap &&
    Array.from({ length: t.dirs }, (_, d) => lstmFeatures(t, d, cap.pruned, ctx.perSample));
  // Activation-aware scores: x features are shared by the directions, h features are not.
  const scoreW = P ? activationScaled(t.W.data, shapes.w, P[0].data, P[0].cols) : t.W.data;
  let scoreR = t.R.data;
  if (P) {
    scoreR = new Float32Array(t.R.data.length);
    for (let d = 0; d < t.dirs; d++) {
      const part = { rows: 4 * H, k: H, index: (r: number, j: number) => (d * 4 * H + r) * H + j };
      scoreR.set(
        activationScaled(t.R.data, part, P[d].data, P[d].cols, I).subarray(
          d * 4 * H * H,
          (d + 1) * 4 * H * H,
        ),
        d * 4 * H * H,
      );
    }
  }
  const obs = P && ctx.mask !== "magnitude" && ctx.scheme.kind === "c4n"
    ? lstmObsMasks(t, P, ctx.scheme.n, ctx.mask === "obs-swap" && ctx.scheme.n > 0)
    : undefined;
  const keepW = obs?.w ?? schemeMask(ctx.scheme, shapes.w, scoreW);
  const keepR = obs?.r ?? schemeMask(ctx.scheme, shapes.r, scoreR);
  const w = t.W.data.map((v, i) => (keepW[i] ? v : 0));
  const r = t.R.data.map((v, i) => (keepR[i] ? v : 0));
  if (D && P) {
    const b = t.B?.data;
    const nb = b ? new Float32Array(b) : undefined;
    const all: RefitResult[] = [];
    for (let d = 0; d < t.dirs; d++) {
      const rows = Array.from({ length: 4 * H }, (_, g): RefitRow => {
        const row = d * 4 * H + g;
        const dense = new Float64Array(F + 1);
        const kp = new Uint8Array(F + 1);
        for (let j = 0; j < I; j++) [dense[j], kp[j]] = [t.W.data[row * I + j], keepW[row * I + j]];
        for (let j = 0; j < H; j++) {
          [dense[I + j], kp[I + j]] = [t.R.data[row * H + j], keepR[row * H + j]];
        }
        if (b) [dense[F], kp[F]] = [b[d * 8 * H + g] + b[d * 8 * H + 4 * H + g], 1];
        return { dense, keep: kp };
      });
      const fits = refitRows(
        { features: F, cols: D[d].cols, pruned: P[d].data, dense: D[d].data },
        rows,
      );
      fits.forEach((f, g) => {
        const row = d * 4 * H + g;
        for (let j = 0; j < I; j++) w[row * I + j] = f.row[j];
        for (let j = 0; j < H; j++) r[row * H + j] = f.row[I + j];
        if (nb && b) nb[d * 8 * H + g] = f.row[F] - b[d * 8 * H + 4 * H + g];
      });
      all.push(...fits);
    }
    if (t.B && nb) ctx.store(t.B, nb);
    Object.assign(report, errorFields(all));
  }
  ctx.store(t.W, w);
  ctx.store(t.R, r);
  return [w, r];
}

/** Writes the changed constants into the protobuf graph and every graph nested in it. */
function writeBack(g: GraphProto, values: Map<string, Float32Array>, written: Set<string>) {
  const write = (t: TensorProto, name: string) => {
    const v = values.get(name)!;
    t.dataType = TensorProto_DataType.FLOAT;
    t.floatData = [];
    t.rawData = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    written.add(name);
  };
  for (const t of g.initializer) if (values.has(t.name)) write(t, t.name);
  for (const node of g.node) {
    if (node.opType === "Constant" && values.has(node.output[0])) {
      const value = node.attribute.find((a) => a.name === "value")?.t;
      if (value) write(value, node.output[0]);
    }
    for (const a of node.attribute) {
      if (a.g) writeBack(a.g, values, written);
      for (const sub of a.graphs) writeBack(sub, values, written);
    }
  }
}

/** The `layers` option as a RegExp; an invalid one is an InvalidArgumentError. */
function layerFilter(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (cause) {
    throw new InvalidArgumentError(
      `Invalid layers option "${source}": ${(cause as Error).message}; pass a regular ` +
        `expression source matching node names, such as "Conv|MatMul"`,
      { cause },
    );
  }
}

/**
 * Calibration columns per weight (and bias) of a row a dense last layer needs before its
 * refit (`refitLast`) is trusted to generalise.
 */
const REFIT_LAST_COLUMNS = 8;

/** An LSTM's Y output, or the name calibration gives it when the model leaves it out. */
function lstmY(node: Node): string {
  return node.outputs[0] || `${node.name}/pruning_Y`;
}

/**
 * The values a layer's pruning reads on the calibration data: a Conv / MatMul / Gemm's input;
 * an LSTM's X, its Y (every step's h) and, when given, its initial h.
 */
function calibrationValues(t: Target, node: Node): string[] {
  if (t.kind === "linear") return [node.inputs[0]];
  return [node.inputs[0], lstmY(node), ...(node.inputs[5] ? [node.inputs[5]] : [])];
}

/**
 * Layers whose dense inputs one calibration run captures: fewer runs, against the memory of
 * their activations for every calibration sample.
 */
const DENSE_WINDOW_LAYERS = 6;

/** "pattern+c4n:2": the schemes in order of preference, each parsed. */
function parseSchemes(source: string): Scheme[] {
  return source.split("+").map(parseScheme);
}

/** The options `PruneOptions` has. */
export const PRUNE_OPTIONS = [
  "scheme",
  "calibration",
  "carry",
  "layers",
  "keepFirstLast",
  "maxColumns",
  "maxError",
  "refitLast",
  "onlyFaster",
  "mask",
  "onLayer",
];

/**
 * Checks the options of `where` (names, flag values, the scheme's and callback's types) and
 * parses the scheme, before any model is read.
 */
export function checkPruneOptions(options: PruneOptions, where: string, extra: string[] = []) {
  if (options === undefined) {
    throw new InvalidArgumentError(`${where} needs options with at least a scheme`);
  }
  checkOptions(options, [...PRUNE_OPTIONS, ...extra], where, {
    keepFirstLast: [true, false],
    refitLast: [true, false],
    onlyFaster: [true, false],
  });
  if (typeof options.scheme !== "string") {
    throw new InvalidArgumentError(
      `The scheme option of ${where} must be a string such as "c4n:2", not ${
        JSON.stringify(options.scheme)
      }`,
    );
  }
  if (options.maxError !== undefined && typeof options.maxError !== "number") {
    throw new InvalidArgumentError(
      `The maxError option must be a number, not "${options.maxError}"`,
    );
  }
  if (options.onLayer !== undefined && typeof options.onLayer !== "function") {
    throw new InvalidArgumentError("The onLayer option must be a function");
  }
  parseSchemes(options.scheme);
}

/**
 * The pruning itself, on a model whose Constant nodes are folded into initializers: the new
 * values of the constants it changed, and the per-layer report.
 */
async function pruneConstants(
  dense: IrModel,
  options: PruneOptions,
): Promise<{ values: Map<string, Float32Array>; layers: LayerReport[] }> {
  const schemes = parseSchemes(options.scheme);
  const filter = options.layers ? layerFilter(options.layers) : undefined;
  if (
    options.mask !== undefined && !PRUNE_MASKS.includes(options.mask)
  ) {
    throw new InvalidArgumentError(
      `Unknown mask "${options.mask}": use "obs" (the default), "magnitude" or "obs-swap"`,
    );
  }
  if (options.maxError !== undefined && !(options.maxError > 0)) {
    throw new InvalidArgumentError(
      `The maxError option must be a relative output error above 0, such as 0.1 for 10 %, not ` +
        `${options.maxError}`,
    );
  }
  const maxCols = options.maxColumns ?? 4096;
  if (!(Number.isInteger(maxCols) && maxCols > 0)) {
    throw new InvalidArgumentError(
      `The maxColumns option must be a positive whole number of calibration columns, not ${maxCols}`,
    );
  }
  const calib = options.calibration ?? [];
  if (!Array.isArray(calib) || calib.some((f) => typeof f !== "object" || f === null)) {
    throw new InvalidArgumentError(
      "The calibration option must be a list of samples, each an object of tensors by input name",
    );
  }
  const carry = options.carry ?? {};
  for (const [s, f] of calib.entries()) {
    for (const [name, t] of Object.entries(f)) {
      // One NaN poisons the Gram matrices, so every mask and refit, without a visible error.
      if (!(t instanceof Tensor) || t.type !== "float32") continue;
      const data = t.data as Float32Array;
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new InvalidArgumentError(
          `Calibration sample ${s}, input "${name}": element ${bad} is ${data[bad]}; ` +
            `calibration inputs must be finite`,
        );
      }
    }
  }
  for (const f of calib) {
    for (const i of dense.graph.inputs) {
      if (!f[i.name]) {
        throw new ShapeError(
          `Calibration sample ${calib.indexOf(f)} lacks input "${i.name}": give every sample ` +
            `a tensor for each model input`,
        );
      }
    }
  }
  for (const [o, i] of Object.entries(carry)) {
    if (!dense.graph.outputs.some((x) => x.name === o)) {
      throw new InvalidArgumentError(`Cannot carry "${o}": it is not an output of the model`);
    }
    if (!dense.graph.inputs.some((x) => x.name === i)) {
      throw new InvalidArgumentError(`Cannot carry into "${i}": it is not an input of the model`);
    }
  }
  const layers = await findLayers(dense);
  if (filter && !layers.some((l) => l.nodes.some((nd) => filter.test(nd.name)))) {
    throw new InvalidArgumentError(
      `The layers option ${filter} selects none of the weight layers (${
        layers.flatMap((l) => l.nodes.map((nd) => nd.name)).slice(0, 8).join(", ")
      }${layers.length > 8 ? ", …" : ""})`,
    );
  }
  const keyOfNode = new Map(layers.flatMap((l) => l.nodes.map((nd) => [nd, l.key] as const)));
  const ends = pathEnds(dense.graph, (nd) => keyOfNode.get(nd));
  // Calibration runs the taken path, flat; the pruned copy swaps in the pruned constants.
  const taken = calib.length ? await takenBranches(dense, calib) : new Map<string, boolean>();
  const flat = (values?: Map<string, Float32Array>): IrModel => {
    const graph = inlineBranches(dense.graph, taken);
    for (const [name, data] of values ?? []) {
      const t = graph.initializers.get(name);
      if (t) graph.initializers.set(name, new Tensor("float32", data, t.dims));
    }
    // An LSTM's Y (every step's h) feeds its refit: name it when the model leaves it out.
    for (const nd of graph.nodes) if (nd.op === "LSTM") nd.outputs[0] = lstmY(nd);
    return { ...dense, graph };
  };
  const executed = calib.length
    ? new Set(inlineBranches(dense.graph, taken).nodes.map((nd) => nd.name))
    : new Set<string>();
  // The dense model never changes: one run captures the inputs of a window of layers ahead,
  // instead of one dense run per layer (half the runs of a calibrated pruning).
  const denseWindow = new Map<string, Tensor[]>();
  const valuesOf = (layer: Layer): string[] => {
    const nd = layer.nodes.find((n) => executed.has(n.name));
    return layer.target && nd ? calibrationValues(layer.target, nd) : [];
  };
  const denseValues = async (d: IrModel, names: string[], at: number) => {
    if (names.some((n) => !denseWindow.has(n))) {
      const ahead = layers.slice(at, at + DENSE_WINDOW_LAYERS).flatMap(valuesOf);
      const batch = [...new Set([...names, ...ahead])];
      const got = await capture(d, batch, calib, carry);
      denseWindow.clear();
      for (const n of batch) denseWindow.set(n, got.map((sample) => sample[n]));
    }
    return calib.map((_, i) => Object.fromEntries(names.map((n) => [n, denseWindow.get(n)![i]])));
  };
  // Pruned values of every source constant touched so far.
  const pruned = new Map<string, Float32Array>();
  const changed = new Set<string>();
  const sourceCopy = (name: string) => {
    if (!pruned.has(name)) {
      let t: Tensor | undefined;
      forEachGraph(dense.graph, (g) => (t ??= g.initializers.get(name)));
      if (!t) throw new ModelFormatError(`Weight constant "${name}" disappeared`);
      pruned.set(name, new Float32Array(t.data as Float32Array));
    }
  };
  const store = (view: WeightView, values: ArrayLike<number>) => {
    for (const s of view.sources) {
      sourceCopy(s);
      changed.add(s);
    }
    scatter(view, values, pruned);
  };
  const reports: LayerReport[] = [];
  const keepEnds = options.keepFirstLast ?? true;
  for (const layer of layers) {
    const node = (calib.length && layer.nodes.find((nd) => executed.has(nd.name))) ||
      layer.nodes[0];
    const base: LayerReport = {
      node: node.name,
      op: node.op,
      weight: layer.key.startsWith("node ") ? node.inputs[1] : layer.key,
      n: 0,
      sparsity: 0,
    };
    const t = layer.target;
    const views = t ? (t.kind === "lstm" ? [t.W, t.R] : [t.weight]) : [];
    const zerosOf = (vs: Float32Array[]) =>
      vs.reduce((s, v) => s + v.reduce((z, x) => z + (x === 0 ? 1 : 0), 0), 0) /
      Math.max(1, vs.reduce((s, v) => s + v.length, 0));
    const skip = (why: string) => {
      reports.push({ ...base, skipped: why, sparsity: zerosOf(views.map((v) => v.data)) });
      options.onLayer?.(reports[reports.length - 1]);
    };
    if (!t) {
      skip(layer.reason ?? "not a weight layer");
      continue;
    }
    const onPath = calib.length > 0 && executed.has(node.name);
    const contextFor = (scheme: Scheme): LayerContext => ({
      scheme,
      mask: options.mask ?? "obs",
      perSample: Math.ceil(maxCols / Math.max(1, calib.length)),
      store,
      calibrate: onPath
        ? async () => {
          const names = calibrationValues(t, node);
          return {
            dense: await denseValues(flat(), names, layers.indexOf(layer)),
            pruned: await capture(flat(pruned), names, calib, carry),
          };
        }
        : undefined,
    });
    if (keepEnds && (ends.first.has(layer.key) || ends.last.has(layer.key))) {
      const why = "first and last weight layers stay dense (keepFirstLast)";
      // A last layer stays dense but its weights are refit (all kept) to the pruned model's
      // inputs: it takes up what the pruned layers before it lost. A first layer reads the
      // model's inputs, the same for both models: nothing to refit.
      if (
        onPath && t.kind === "linear" && !ends.first.has(layer.key) &&
        options.refitLast !== false && options.layers === undefined
      ) {
        const report: LayerReport = {
          ...base,
          skipped: why,
          note: "dense, weights refit to the pruned model's inputs (refitLast)",
        };
        const keepAll: Scheme = { kind: "c4n", n: 0, name: "dense" };
        // Every weight is free here: with few columns per weight the fit would learn the
        // calibration samples (silero VAD's output conv: 129 weights, 287 columns).
        const ctx = { ...contextFor(keepAll), minColumnsPerWeight: REFIT_LAST_COLUMNS };
        report.sparsity = zerosOf(await pruneLinear(t, node, ctx, report));
        if (report.errorRefit === undefined) {
          report.note = `dense, not refit: fewer than ${REFIT_LAST_COLUMNS} calibration ` +
            `columns per weight`;
        }
        reports.push(report);
        options.onLayer?.(report);
      } else skip(why);
      continue;
    }
    if (filter && !layer.nodes.some((nd) => filter.test(nd.name))) {
      skip("not selected by the layers filter");
      continue;
    }
    const scheme = schemes.find((s) => !schemeMismatch(s, t));
    if (!scheme) {
      skip(schemes.map((s) => schemeMismatch(s, t)).join("; "));
      continue;
    }
    const n = scheme.kind === "c4n" ? scheme.n : 0;
    const report: LayerReport = { ...base, n, scheme: scheme.name, sparsity: 0 };
    const sources = (t.kind === "lstm" ? [t.W, t.R, t.B] : [t.weight, t.bias])
      .flatMap((v) => v?.sources ?? []);
    const before = sources.map((name) => ({
      name,
      values: pruned.get(name)?.slice(),
      changed: changed.has(name),
    }));
    if (calib.length && !onPath) {
      report.note = "not on the calibration path (branch not taken): magnitude only";
    }
    const ctx = contextFor(scheme);
    const next = t.kind === "linear"
      ? await pruneLinear(t, node, ctx, report)
      : await pruneLstm(t, node, ctx, report);
    report.sparsity = zerosOf(next);
    const shapes = t.kind === "lstm" ? [lstmShapes(t).w, lstmShapes(t).r] : [t.shape];
    const prediction = predictSpeedup(
      node,
      scheme,
      next.map((data, i) => ({ data, rows: shapes[i].rows, k: shapes[i].k })),
    );
    report.predictedSpeedup = prediction.speedup;
    report.kernel = prediction.kernel;
    const error = report.errorRefit ?? report.errorMagnitude;
    const keepDense =
      options.maxError !== undefined && error !== undefined && error > options.maxError
        ? `output error ${(error * 100).toFixed(1)} % > maxError ${
          (options.maxError * 100).toFixed(1)
        } %`
        : options.onlyFaster && prediction.speedup <= 1
        ? `no gain predicted (onlyFaster): ${prediction.kernel}`
        : undefined;
    if (keepDense) {
      // Back to the values before this layer: dense, as if never pruned.
      for (const b of before) {
        if (b.values) pruned.set(b.name, b.values);
        else pruned.delete(b.name);
        if (!b.changed) changed.delete(b.name);
      }
      Object.assign(report, { n: 0, scheme: undefined, skipped: keepDense });
      report.sparsity = zerosOf(views.map((v) => v.data));
    }
    reports.push(report);
    options.onLayer?.(report);
  }
  return {
    values: new Map([...changed].map((name) => [name, pruned.get(name)!])),
    layers: reports,
  };
}

/**
 * Prunes the Conv / MatMul / Gemm / LSTM weights of an ONNX model to C4n, pattern or block
 * sparsity, including layers inside If branches. The input bytes are never modified; the
 * result is a new ONNX file.
 *
 * @example
 * ```ts ignore
 * const { bytes, layers } = await pruneOnnx(await Deno.readFile("silero_vad_v5.onnx"), {
 *   scheme: "c4n:2",
 *   calibration: chunks.map((input) => ({ input, sr, state })),
 *   carry: { stateN: "state" },
 * });
 * ```
 */
export async function pruneOnnx(bytes: Uint8Array, options: PruneOptions): Promise<PruneResult> {
  checkPruneOptions(options, "pruneOnnx()"); // bad options fail before the model is decoded
  const dense = await decodeOnnx(bytes);
  // Exporters often route weights through Constant nodes: treat them as initializers.
  foldConstantNodes(dense.graph);
  const { values, layers } = await pruneConstants(dense, options);
  // Write the new weights into a copy of the original protobuf: everything else stays as is.
  const proto = fromBinary(ModelProtoSchema, bytes);
  const written = new Set<string>();
  writeBack(proto.graph!, values, written);
  const missing = [...values.keys()].find((name) => !written.has(name));
  if (missing) {
    throw new ModelFormatError(
      `Cannot write pruned weight "${missing}": it is neither an initializer nor a Constant ` +
        `node's tensor value`,
    );
  }
  return { bytes: toBinary(ModelProtoSchema, proto), layers };
}

/** The pruned IR model and the per-layer report. */
export interface PruneModelResult {
  /** The pruned model: a copy of the input with the pruned weights. */
  model: IrModel;
  /** One row per weight layer considered. */
  layers: LayerReport[];
}

/** A copy of a graph and its subgraphs that can be rewritten freely (tensors are shared). */
function copyGraph(g: Graph): Graph {
  const copy = (v: AttributeValue): AttributeValue =>
    isGraph(v)
      ? copyGraph(v)
      : Array.isArray(v) && v.length && isGraph(v[0])
      ? (v as Graph[]).map(copyGraph)
      : v;
  return {
    ...g,
    nodes: g.nodes.map((n) => ({
      ...n,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attributes: Object.fromEntries(Object.entries(n.attributes).map(([k, v]) => [k, copy(v)])),
    })),
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    initializers: new Map(g.initializers),
    valueInfo: new Map(g.valueInfo),
  };
}

/**
 * Prunes an in-memory IR model, as `pruneOnnx` prunes an ONNX file: for models that come from
 * another importer (a TF.js layers model through `loadTfjsLayers`) or are built in code. The
 * input model is never modified; the result is a copy (Constant nodes folded into
 * initializers) that `loadModel` takes directly.
 *
 * @example
 * ```ts ignore
 * const dense = await loadTfjsLayers("esrgan-slim/x2/model.json");
 * const { model, layers } = await pruneModel(dense, { scheme: "c4n:2", calibration });
 * const sparse = await loadModel(model);
 * ```
 */
export async function pruneModel(
  model: IrModel,
  options: PruneOptions,
): Promise<PruneModelResult> {
  checkPruneOptions(options, "pruneModel()"); // bad options fail before the model is copied
  const dense: IrModel = { ...model, graph: copyGraph(model.graph) };
  foldConstantNodes(dense.graph);
  const { values, layers } = await pruneConstants(dense, options);
  const out: IrModel = { ...dense, graph: copyGraph(dense.graph) };
  forEachGraph(out.graph, (g) => {
    for (const [name, t] of g.initializers) {
      const v = values.get(name);
      if (v) g.initializers.set(name, new Tensor("float32", v, t.dims));
    }
  });
  return { model: out, layers };
}
