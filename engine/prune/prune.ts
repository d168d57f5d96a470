/**
 * One-shot pruning of ONNX models to the sparse structures Quartet's kernels run:
 * - C4n: magnitude masks within each group of 4 along the reduction axis (any Conv, MatMul,
 *   Gemm);
 * - pattern (3x3 Conv): a library of the 8 most common 4-tap shapes (centre included), each
 *   kernel projected on the library shape that keeps most of its energy, then the weakest
 *   kernels removed (connectivity pruning);
 * - block (MatMul / Gemm): in every 16-output x 256-input block, the weakest input columns
 *   and then the weakest output rows removed (block column-row);
 * then (with calibration inputs) a least-squares refit of each
 * layer's surviving weights and bias so its output on the already-pruned model's activations
 * matches the dense layer's output on the dense model's activations, layer by layer in order.
 * The result is a standard ONNX file with zeros: it runs anywhere, and Quartet detects the
 * structure and runs it on the sparse kernels.
 *
 * @module
 */
import { fromBinary, toBinary } from "npm:@bufbuild/protobuf@2.17.0";
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { decodeOnnx } from "../formats/onnx/decode.ts";
import {
  ModelProtoSchema,
  type TensorProto,
  TensorProto_DataType,
} from "../formats/onnx/gen/onnx_pb.ts";
import { foldConstantNodes } from "../passes/fold_constants.ts";
import type { Model as IrModel, Node } from "../ir/graph.ts";
import { loadModel } from "../model.ts";
import type { Tensor } from "../tensor.ts";

/** Options of `pruneOnnx`. */
export interface PruneOptions {
  /**
   * "c4n:1", "c4n:2" or "c4n:3" (zeros per group of 4); "pattern" or "pattern:<f>" (3x3
   * convs: 4 of 9 taps, a fraction f of the kernels removed, default 0.3); "block:<f>"
   * (MatMul / Gemm: a fraction f of each 16 x 256 block kept, as √f of its rows and √f of
   * its columns, e.g. block:0.25).
   */
  scheme: string;
  /** Calibration inputs (feeds by input name), one per sample. None: magnitude only. */
  calibration?: Record<string, Tensor>[];
  /** Only layers whose node name matches (a RegExp source; default all). */
  layers?: string;
  /** Keep the first and last weight layers dense (default true). */
  keepFirstLast?: boolean;
  /** Calibration columns used per layer at most (default 4096). */
  maxColumns?: number;
  /** Called after each layer. */
  onLayer?: (report: LayerReport) => void;
}

/** What pruning did to one layer. */
export interface LayerReport {
  /** Node name. */
  node: string;
  /** Operator. */
  op: string;
  /** Weight initializer name. */
  weight: string;
  /** C4n: zeros per group; 0 for the other schemes and when kept dense. */
  n: number;
  /** The scheme applied ("c4n:2", "pattern:0.3", "block:0.25"), absent when kept dense. */
  scheme?: string;
  /** Why a layer was skipped. */
  skipped?: string;
  /** Fraction of zero weights after pruning. */
  sparsity: number;
  /** ‖y_pruned − y_dense‖ / ‖y_dense‖ on calibration data with magnitude masks only. */
  errorMagnitude?: number;
  /** The same after the least-squares refit. */
  errorRefit?: number;
}

/** The pruned model and the per-layer report. */
export interface PruneResult {
  /** The pruned ONNX model. */
  bytes: Uint8Array;
  /** One row per weight layer considered. */
  layers: LayerReport[];
}

interface Target {
  node: Node;
  weight: string;
  bias?: string;
  /** Rows (outputs) × K (reduction) view of the weight: element (r, k) at index. */
  rows: number;
  k: number;
  index: (r: number, k: number) => number;
  /** A 3x3 group-1 conv: k runs over input channels x 9 taps. */
  kernel3x3?: boolean;
  /** Turns the layer's input activation into columns [K][cols] (plus nothing for bias). */
  columns: (x: Tensor, maxCols: number) => { data: Float64Array; cols: number };
}

/** A parsed pruning scheme. */
type Scheme =
  | { kind: "c4n"; n: number; name: string }
  | { kind: "pattern"; removed: number; name: string }
  | { kind: "block"; keep: number; name: string };

function parseScheme(scheme: string): Scheme {
  const c4n = /^c4n:([123])$/.exec(scheme);
  if (c4n) return { kind: "c4n", n: Number(c4n[1]), name: scheme };
  const pattern = /^pattern(?::([0-9.]+))?$/.exec(scheme);
  const removed = pattern ? Number(pattern[1] ?? 0.3) : NaN;
  if (pattern && removed >= 0 && removed < 1) {
    return { kind: "pattern", removed, name: `pattern:${removed}` };
  }
  const block = /^block:([0-9.]+)$/.exec(scheme);
  const keep = block ? Number(block[1]) : NaN;
  if (block && keep > 0 && keep < 1) return { kind: "block", keep, name: scheme };
  throw new InvalidArgumentError(
    `Unknown pruning scheme "${scheme}": use c4n:1, c4n:2, c4n:3, pattern[:<removed ` +
      `fraction in [0, 1)>] or block:<kept fraction in (0, 1)>`,
  );
}

/** Why a target cannot take the scheme, or undefined when it can. */
function schemeMismatch(scheme: Scheme, t: Target): string | undefined {
  if (scheme.kind === "c4n" && t.k < 4) {
    return `reduction length ${t.k} < 4: no group of 4 to prune`;
  }
  if (scheme.kind === "pattern" && !t.kernel3x3) {
    return "pattern sparsity applies to 3x3 convolutions (group 1) only";
  }
  if (scheme.kind === "block" && t.node.op === "Conv") {
    return "block sparsity applies to MatMul / Gemm weights only";
  }
  return undefined;
}

/** Evenly spaced column picks so large activations stay within the budget. */
function picks(total: number, max: number): number[] {
  const n = Math.min(total, max);
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

function convTarget(node: Node, w: Tensor, bias: string | undefined): Target | string {
  const a = node.attributes;
  const group = (a.group as number | undefined) ?? 1;
  if (w.dims.length !== 4) return "only 2-D convolutions are pruned";
  if (group !== 1) return "grouped and depthwise convolutions stay dense";
  if ((a.auto_pad as string | undefined ?? "NOTSET") !== "NOTSET") {
    return "auto_pad convolutions stay dense";
  }
  const [m, c, kh, kw] = w.dims;
  const k = c * kh * kw;
  const [sh, sw] = (a.strides as number[] | undefined) ?? [1, 1];
  const [dh, dw] = (a.dilations as number[] | undefined) ?? [1, 1];
  const [pt, pl] = (a.pads as number[] | undefined) ?? [0, 0, 0, 0];
  return {
    node,
    weight: node.inputs[1],
    bias,
    rows: m,
    k,
    kernel3x3: kh === 3 && kw === 3,
    index: (r, j) => r * k + j,
    columns: (x, maxCols) => {
      const [n, cin, h, wd] = x.dims;
      const pb = ((a.pads as number[] | undefined) ?? [0, 0, 0, 0])[2];
      const pr = ((a.pads as number[] | undefined) ?? [0, 0, 0, 0])[3];
      const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
      const ow = Math.floor((wd + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
      const chosen = picks(n * oh * ow, maxCols);
      const data = new Float64Array(k * chosen.length);
      const xd = x.data as Float32Array;
      chosen.forEach((p, col) => {
        const b = Math.floor(p / (oh * ow));
        const oy = Math.floor((p % (oh * ow)) / ow);
        const ox = p % ow;
        for (let ci = 0; ci < cin; ci++) {
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * sh - pt + ky * dh;
              const ix = ox * sw - pl + kx * dw;
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
  w: Tensor,
  transposed: boolean,
  bias: string | undefined,
): Target | string {
  if (w.dims.length !== 2) return "only 2-D MatMul/Gemm weights are pruned";
  const [k, n] = transposed ? [w.dims[1], w.dims[0]] : w.dims;
  return {
    node,
    weight: node.inputs[1],
    bias,
    rows: n,
    k,
    index: transposed ? (r, j) => r * k + j : (r, j) => j * n + r,
    columns: (x, maxCols) => {
      const rowsIn = x.size / k;
      const chosen = picks(rowsIn, maxCols);
      const data = new Float64Array(k * chosen.length);
      const xd = x.data as Float32Array;
      chosen.forEach((p, col) => {
        for (let j = 0; j < k; j++) data[j * chosen.length + col] = xd[p * k + j];
      });
      return { data, cols: chosen.length };
    },
  };
}

/** Solves the symmetric positive definite system A x = b in place (Cholesky); A is n×n. */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
    const l = Math.sqrt(Math.max(d, 1e-12));
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / l;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= A[i * n + k] * y[k];
    y[i] = s / A[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= A[k * n + i] * y[k];
    y[i] = s / A[i * n + i];
  }
  return y;
}

/** Keeps the 4 − n largest |w| of every full group of 4 in each row; returns the mask. */
function magnitudeMask(t: Target, w: Float32Array, n: number): Uint8Array {
  const keep = new Uint8Array(t.rows * t.k);
  for (let r = 0; r < t.rows; r++) {
    for (let g = 0; g + 4 <= t.k; g += 4) {
      const order = [0, 1, 2, 3].sort((a, b) =>
        Math.abs(w[t.index(r, g + b)]) - Math.abs(w[t.index(r, g + a)])
      );
      for (const j of order.slice(0, 4 - n)) keep[r * t.k + g + j] = 1;
    }
    for (let j = t.k - (t.k % 4); j < t.k; j++) keep[r * t.k + j] = 1;
  }
  return keep;
}

/**
 * Pattern mask of a 3x3 conv (rows = filters, k = channels x 9): a library of the 8 most
 * common "centre + 3 strongest taps" shapes, each kernel on the library shape keeping most of
 * its squared magnitude, then the `removed` fraction of kernels with the least kept energy
 * dropped.
 */
function patternMask(t: Target, w: Float32Array, removed: number): Uint8Array {
  const kernels = t.rows * (t.k / 9);
  const tap = (q: number, i: number) => {
    const r = Math.floor(q / (t.k / 9));
    return w[t.index(r, (q % (t.k / 9)) * 9 + i)];
  };
  const counts = new Map<number, number>();
  for (let q = 0; q < kernels; q++) {
    const others = [0, 1, 2, 3, 5, 6, 7, 8].sort((a, b) =>
      Math.abs(tap(q, b)) - Math.abs(tap(q, a))
    );
    const shape = (1 << 4) | (1 << others[0]) | (1 << others[1]) | (1 << others[2]);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  const library = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
  const choice = new Int32Array(kernels);
  const energy = new Float64Array(kernels);
  for (let q = 0; q < kernels; q++) {
    for (const shape of library) {
      let e = 0;
      for (let i = 0; i < 9; i++) if (shape & (1 << i)) e += tap(q, i) ** 2;
      if (e > energy[q] || choice[q] === 0) [energy[q], choice[q]] = [e, shape];
    }
  }
  const order = [...energy.keys()].sort((a, b) => energy[a] - energy[b]);
  const dropped = new Uint8Array(kernels);
  for (const q of order.slice(0, Math.round(removed * kernels))) dropped[q] = 1;
  const keep = new Uint8Array(t.rows * t.k);
  for (let q = 0; q < kernels; q++) {
    if (dropped[q]) continue;
    for (let i = 0; i < 9; i++) if (choice[q] & (1 << i)) keep[q * 9 + i] = 1;
  }
  return keep;
}

/**
 * Block column-row mask (rows = outputs, k = inputs): in every 16 x 256 block, the √keep
 * fraction of columns with the largest norm over the block's rows, then the √keep fraction of
 * rows with the largest norm over the kept columns.
 */
function blockMask(t: Target, w: Float32Array, keep: number): Uint8Array {
  const [br, bc] = [16, 256];
  const share = Math.sqrt(keep);
  const mask = new Uint8Array(t.rows * t.k);
  for (let r0 = 0; r0 < t.rows; r0 += br) {
    const rows = Math.min(br, t.rows - r0);
    for (let c0 = 0; c0 < t.k; c0 += bc) {
      const cols = Math.min(bc, t.k - c0);
      const colNorm = Array.from({ length: cols }, (_, j) => {
        let e = 0;
        for (let r = 0; r < rows; r++) e += w[t.index(r0 + r, c0 + j)] ** 2;
        return e;
      });
      const keptCols = [...colNorm.keys()].sort((a, b) => colNorm[b] - colNorm[a])
        .slice(0, Math.max(1, Math.round(share * cols)));
      const rowNorm = Array.from({ length: rows }, (_, r) => {
        let e = 0;
        for (const j of keptCols) e += w[t.index(r0 + r, c0 + j)] ** 2;
        return e;
      });
      const keptRows = [...rowNorm.keys()].sort((a, b) => rowNorm[b] - rowNorm[a])
        .slice(0, Math.max(1, Math.round(share * rows)));
      for (const r of keptRows) for (const j of keptCols) mask[(r0 + r) * t.k + c0 + j] = 1;
    }
  }
  return mask;
}

/** The keep mask of a target under a scheme. */
function schemeMask(scheme: Scheme, t: Target, w: Float32Array): Uint8Array {
  if (scheme.kind === "c4n") return magnitudeMask(t, w, scheme.n);
  if (scheme.kind === "pattern") return patternMask(t, w, scheme.removed);
  return blockMask(t, w, scheme.keep);
}

/** Output of one row for the columns: w·X + b. */
function rowOutput(
  w: Float64Array,
  b: number,
  X: Float64Array,
  k: number,
  cols: number,
): Float64Array {
  const y = new Float64Array(cols).fill(b);
  for (let j = 0; j < k; j++) {
    if (w[j] === 0) continue;
    for (let c = 0; c < cols; c++) y[c] += w[j] * X[j * cols + c];
  }
  return y;
}

/** Runs `model` up to `value`: the value's tensors, one per calibration sample. */
async function capture(
  model: IrModel,
  value: string,
  feeds: Record<string, Tensor>[],
): Promise<Tensor[]> {
  // Loading rewrites the graph (folding adds initializers): give it copies.
  const graph = {
    ...model.graph,
    outputs: [{ name: value, type: "float32" as const }],
    nodes: model.graph.nodes.map((n) => ({ ...n, attributes: { ...n.attributes } })),
    initializers: new Map(model.graph.initializers),
  };
  const m = await loadModel({ ...model, graph }, { fuse: false, sparse: "off" });
  try {
    const out: Tensor[] = [];
    for (const f of feeds) out.push((await m.run(f))[value]);
    return out;
  } finally {
    m.dispose();
  }
}

/**
 * Prunes the Conv / MatMul / Gemm weights of an ONNX model to C4n, pattern or block
 * sparsity. The input bytes are never modified; the result is a new ONNX file.
 *
 * @example
 * ```ts ignore
 * const { bytes, layers } = await pruneOnnx(await Deno.readFile("model.onnx"), {
 *   scheme: "c4n:2",
 *   calibration: [{ input: x }],
 * });
 * ```
 */
export async function pruneOnnx(bytes: Uint8Array, options: PruneOptions): Promise<PruneResult> {
  const scheme = parseScheme(options.scheme);
  const n = scheme.kind === "c4n" ? scheme.n : 0;
  const filter = options.layers ? new RegExp(options.layers) : undefined;
  const maxCols = options.maxColumns ?? 4096;
  const dense = await decodeOnnx(bytes);
  const pruned = await decodeOnnx(bytes);
  // Exporters often route weights through Constant nodes: treat them as initializers.
  foldConstantNodes(dense.graph);
  foldConstantNodes(pruned.graph);
  for (const f of options.calibration ?? []) {
    for (const i of dense.graph.inputs) {
      if (!f[i.name]) throw new ShapeError(`Calibration sample lacks input "${i.name}"`);
    }
  }
  // Weight layers in execution order.
  const candidates: (Target | { node: Node; weight: string; reason: string })[] = [];
  for (const node of dense.graph.nodes) {
    const w = dense.graph.initializers.get(node.inputs[1]);
    if (!w || w.type !== "float32") continue;
    const bias = node.inputs[2] && dense.graph.initializers.has(node.inputs[2])
      ? node.inputs[2]
      : undefined;
    let t: Target | string | undefined;
    if (node.op === "Conv") t = convTarget(node, w, bias);
    else if (node.op === "MatMul") t = matmulTarget(node, w, false, undefined);
    else if (node.op === "Gemm") {
      const a = node.attributes;
      if ((a.transA as number | undefined) || ((a.alpha as number | undefined) ?? 1) !== 1) {
        t = "Gemm with transA or alpha ≠ 1 stays dense";
      } else t = matmulTarget(node, w, ((a.transB as number | undefined) ?? 0) === 1, bias);
    }
    if (t === undefined) continue;
    candidates.push(typeof t === "string" ? { node, weight: node.inputs[1], reason: t } : t);
  }
  const reports: LayerReport[] = [];
  const calib = options.calibration ?? [];
  const keepEnds = options.keepFirstLast ?? true;
  for (const [i, c] of candidates.entries()) {
    const w = dense.graph.initializers.get(c.weight)!;
    const base: LayerReport = {
      node: c.node.name,
      op: c.node.op,
      weight: c.weight,
      n: 0,
      sparsity: 0,
    };
    const skip = (why: string) => {
      const zeros = (w.data as Float32Array).reduce((s, v) => s + (v === 0 ? 1 : 0), 0);
      reports.push({ ...base, skipped: why, sparsity: zeros / w.size });
      options.onLayer?.(reports[reports.length - 1]);
    };
    if ("reason" in c) {
      skip(c.reason);
      continue;
    }
    if (keepEnds && (i === 0 || i === candidates.length - 1)) {
      skip("first and last weight layers stay dense (keepFirstLast)");
      continue;
    }
    if (filter && !filter.test(c.node.name)) {
      skip("not selected by the layers filter");
      continue;
    }
    const mismatch = schemeMismatch(scheme, c);
    if (mismatch) {
      skip(mismatch);
      continue;
    }
    const wd = w.data as Float32Array;
    const keep = schemeMask(scheme, c, wd);
    const next = new Float32Array(wd);
    for (let r = 0; r < c.rows; r++) {
      for (let j = 0; j < c.k; j++) if (!keep[r * c.k + j]) next[c.index(r, j)] = 0;
    }
    const biasT = c.bias ? pruned.graph.initializers.get(c.bias) : undefined;
    const nextBias = biasT ? new Float32Array(biasT.data as Float32Array) : undefined;
    const report: LayerReport = { ...base, n, scheme: scheme.name, sparsity: 0 };
    if (calib.length) {
      // Inputs of this layer: dense model (targets) and the model pruned so far (regressors).
      const [xd, xp] = await Promise.all([
        capture(dense, c.node.inputs[0], calib),
        capture(pruned, c.node.inputs[0], calib),
      ]);
      const Xd = xd.map((x) => c.columns(x, Math.ceil(maxCols / calib.length)));
      const Xp = xp.map((x) => c.columns(x, Math.ceil(maxCols / calib.length)));
      const cols = Xd.reduce((s, x) => s + x.cols, 0);
      const join = (parts: { data: Float64Array; cols: number }[]) => {
        const out = new Float64Array(c.k * cols);
        let at = 0;
        for (const p of parts) {
          for (let j = 0; j < c.k; j++) {
            out.set(p.data.subarray(j * p.cols, (j + 1) * p.cols), j * cols + at);
          }
          at += p.cols;
        }
        return out;
      };
      const D = join(Xd);
      const P = join(Xp);
      let errMag = 0;
      let errFit = 0;
      let norm = 0;
      for (let r = 0; r < c.rows; r++) {
        const wRow = Float64Array.from({ length: c.k }, (_, j) => wd[c.index(r, j)]);
        const b = nextBias ? nextBias[r] : 0;
        const target = rowOutput(wRow, b, D, c.k, cols);
        const magRow = Float64Array.from(
          { length: c.k },
          (_, j) => (keep[r * c.k + j] ? wRow[j] : 0),
        );
        const mag = rowOutput(magRow, b, P, c.k, cols);
        // Least squares on the kept columns plus the bias: (Xs Xsᵀ + λI) w = Xs y.
        const S = [...Array(c.k).keys()].filter((j) => keep[r * c.k + j]);
        const m = S.length + (nextBias ? 1 : 0);
        const G = new Float64Array(m * m);
        const rhs = new Float64Array(m);
        const feat = (s: number, col: number) => (s < S.length ? P[S[s] * cols + col] : 1);
        for (let a = 0; a < m; a++) {
          for (let bb = 0; bb <= a; bb++) {
            let sum = 0;
            for (let col = 0; col < cols; col++) sum += feat(a, col) * feat(bb, col);
            G[a * m + bb] = sum;
            G[bb * m + a] = sum;
          }
          let sy = 0;
          for (let col = 0; col < cols; col++) sy += feat(a, col) * target[col];
          rhs[a] = sy;
        }
        let trace = 0;
        for (let a = 0; a < m; a++) trace += G[a * m + a];
        const lambda = 1e-2 * (trace / Math.max(m, 1)) + 1e-12;
        for (let a = 0; a < m; a++) G[a * m + a] += lambda;
        const sol = solveSpd(G, rhs, m);
        const fitRow = new Float64Array(c.k);
        S.forEach((j, s) => (fitRow[j] = sol[s]));
        const fitBias = nextBias ? sol[S.length] : 0;
        const fit = rowOutput(fitRow, fitBias, P, c.k, cols);
        for (let col = 0; col < cols; col++) {
          errMag += (mag[col] - target[col]) ** 2;
          errFit += (fit[col] - target[col]) ** 2;
          norm += target[col] ** 2;
        }
        // Keep the refit only where it helps this row (it always should, up to damping).
        S.forEach((j, s) => (next[c.index(r, j)] = sol[s]));
        if (nextBias) nextBias[r] = fitBias;
      }
      report.errorMagnitude = Math.sqrt(errMag / Math.max(norm, 1e-30));
      report.errorRefit = Math.sqrt(errFit / Math.max(norm, 1e-30));
    }
    const zeros = next.reduce((s, v) => s + (v === 0 ? 1 : 0), 0);
    report.sparsity = zeros / next.length;
    const wt = pruned.graph.initializers.get(c.weight)!;
    (wt.data as Float32Array).set(next);
    if (nextBias && biasT) (biasT.data as Float32Array).set(nextBias);
    reports.push(report);
    options.onLayer?.(report);
  }
  // Write the new weights into a copy of the original protobuf: everything else stays as is.
  const proto = fromBinary(ModelProtoSchema, bytes);
  const changed = new Set(
    reports.filter((r) => r.scheme).flatMap((r) => {
      const c = candidates.find((x) => x.node.name === r.node) as Target;
      return [c.weight, ...(c.bias && calib.length ? [c.bias] : [])];
    }),
  );
  const write = (t: TensorProto, name: string) => {
    const v = pruned.graph.initializers.get(name)!.data as Float32Array;
    t.dataType = TensorProto_DataType.FLOAT;
    t.floatData = [];
    t.rawData = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  };
  for (const t of proto.graph!.initializer) if (changed.has(t.name)) write(t, t.name);
  for (const node of proto.graph!.node) {
    if (node.opType !== "Constant" || !changed.has(node.output[0])) continue;
    const value = node.attribute.find((a) => a.name === "value")?.t;
    if (value) write(value, node.output[0]);
  }
  return { bytes: toBinary(ModelProtoSchema, proto), layers: reports };
}

/** The report as a Markdown table. */
export function pruneReportMarkdown(layers: readonly LayerReport[]): string {
  const pct = (x?: number) => (x === undefined ? "—" : `${(x * 100).toFixed(2)} %`);
  return [
    "| layer | op | scheme | sparsity | output error, magnitude | output error, refit | note |",
    "|---|---|---|---|---|---|---|",
    ...layers.map((l) =>
      `| ${l.node} | ${l.op} | ${l.n ? `C4,${l.n}` : l.scheme ?? "dense"} | ${
        (l.sparsity * 100).toFixed(1)
      } % | ${pct(l.errorMagnitude)} | ${pct(l.errorRefit)} | ${l.skipped ?? ""} |`
    ),
  ].join("\n");
}
