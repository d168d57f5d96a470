/**
 * One-shot pruning of ONNX models to C4n sparsity: magnitude masks within each group of 4
 * along the reduction axis, then (with calibration inputs) a least-squares refit of each
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
  /** "c4n:1", "c4n:2" or "c4n:3": zeros per group of 4. */
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
  /** Zeros per group, or 0 when kept dense. */
  n: number;
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
  /** Turns the layer's input activation into columns [K][cols] (plus nothing for bias). */
  columns: (x: Tensor, maxCols: number) => { data: Float64Array; cols: number };
}

function parseScheme(scheme: string): number {
  const m = /^c4n:([123])$/.exec(scheme);
  if (!m) {
    throw new InvalidArgumentError(
      `Unknown pruning scheme "${scheme}": use c4n:1, c4n:2 or c4n:3`,
    );
  }
  return Number(m[1]);
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
 * Prunes the Conv / MatMul / Gemm weights of an ONNX model to C4n. The input bytes are never
 * modified; the result is a new ONNX file.
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
  const n = parseScheme(options.scheme);
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
    if (c.k < 4) {
      skip(`reduction length ${c.k} < 4: no group of 4 to prune`);
      continue;
    }
    const wd = w.data as Float32Array;
    const keep = magnitudeMask(c, wd, n);
    const next = new Float32Array(wd);
    for (let r = 0; r < c.rows; r++) {
      for (let j = 0; j < c.k; j++) if (!keep[r * c.k + j]) next[c.index(r, j)] = 0;
    }
    const biasT = c.bias ? pruned.graph.initializers.get(c.bias) : undefined;
    const nextBias = biasT ? new Float32Array(biasT.data as Float32Array) : undefined;
    const report: LayerReport = { ...base, n, sparsity: 0 };
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
    reports.filter((r) => r.n > 0).flatMap((r) => {
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
      `| ${l.node} | ${l.op} | ${l.n ? `C4,${l.n}` : "dense"} | ${
        (l.sparsity * 100).toFixed(1)
      } % | ${pct(l.errorMagnitude)} | ${pct(l.errorRefit)} | ${l.skipped ?? ""} |`
    ),
  ].join("\n");
}
