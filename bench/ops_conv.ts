/**
 * Convolutions: Quartet's Conv / ConvTranspose ops (each kernel build) vs onnxruntime-web and
 * TensorFlow.js wasm, one thread, same process, same inputs. Weights are constants (prepared
 * once by every engine); each timed run copies the input in and the output out, as a model
 * run would. Quartet and onnxruntime run NCHW, TensorFlow.js its native NHWC.
 *
 *   deno run -A bench/ops_conv.ts [--quick] [--only <substring of a case name>]
 *   deno run -A bench/ops_conv.ts --layout [--quick]   (NCHW vs NHWC, see engine/ops/README.md)
 */
import { type BenchRow, report } from "./_harness.ts";
import { ort, ortSession, startTfjs, tf } from "./_peers.ts";
import { COL_TILE_BYTES, ops as convOps } from "../engine/ops/conv.ts";
import { gemm, gemmNchw, packGemmWeights, packNchwWeights } from "../engine/ops/gemm.ts";
import { ops as convTransposeOps } from "../engine/ops/conv_transpose.ts";
import type { ArenaTensor, InputInfo, Op } from "../engine/ops/op.ts";
import type { Node } from "../engine/ir/graph.ts";
import { Tensor } from "../engine/tensor.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";

/** One benchmarked layer (NCHW shapes, ONNX attributes). */
export interface ConvCase {
  name: string;
  op: "Conv" | "ConvTranspose";
  x: number[];
  w: number[];
  group?: number;
  strides?: number[];
  pads?: number[];
}

/** The layers: shapes from real CNN / SR / OCR models. */
export const CONV_CASES: ConvCase[] = [
  {
    name: "Conv 3x3 64→64, 56x56, pad 1",
    op: "Conv",
    x: [1, 64, 56, 56],
    w: [64, 64, 3, 3],
    pads: [1, 1, 1, 1],
  },
  {
    name: "Depthwise 3x3, 128 ch, 56x56",
    op: "Conv",
    x: [1, 128, 56, 56],
    w: [128, 1, 3, 3],
    group: 128,
    pads: [1, 1, 1, 1],
  },
  {
    name: "Depthwise 3x3 s2, 128 ch, 56x56",
    op: "Conv",
    x: [1, 128, 56, 56],
    w: [128, 1, 3, 3],
    group: 128,
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  },
  {
    name: "Depthwise 5x5, 96 ch, 28x28",
    op: "Conv",
    x: [1, 96, 28, 28],
    w: [96, 1, 5, 5],
    group: 96,
    pads: [2, 2, 2, 2],
  },
  { name: "Conv 1x1 256→256, 28x28", op: "Conv", x: [1, 256, 28, 28], w: [256, 256, 1, 1] },
  {
    name: "Conv 5x5 32→32, 56x56, pad 2",
    op: "Conv",
    x: [1, 32, 56, 56],
    w: [32, 32, 5, 5],
    pads: [2, 2, 2, 2],
  },
  {
    name: "Conv 3x3 s2 32→64, 112x112, pad 1",
    op: "Conv",
    x: [1, 32, 112, 112],
    w: [64, 32, 3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  },
  {
    name: "ConvTranspose 2x2 s2 64→32, 56x56",
    op: "ConvTranspose",
    x: [1, 64, 56, 56],
    w: [64, 32, 2, 2],
    strides: [2, 2],
  },
  {
    name: "ConvTranspose 4x4 s2 p1 64→32, 56x56",
    op: "ConvTranspose",
    x: [1, 64, 56, 56],
    w: [64, 32, 4, 4],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  },
];

function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Multiply-adds × 2 of a case. */
export function convFlops(c: ConvCase): number {
  const [n, cin, h, w] = c.x;
  const group = c.group ?? 1;
  const [kh, kw] = c.w.slice(2);
  if (c.op === "ConvTranspose") return 2 * n * cin * h * w * c.w[1] * kh * kw;
  const [sh, sw] = c.strides ?? [1, 1];
  const [pt, pl, pb, pr] = c.pads ?? [0, 0, 0, 0];
  const oh = Math.floor((h + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((w + pl + pr - kw) / sw) + 1;
  return 2 * n * c.w[0] * oh * ow * (cin / group) * kh * kw;
}

function outDims(c: ConvCase): number[] {
  const [n, , h, w] = c.x;
  const [kh, kw] = c.w.slice(2);
  const [sh, sw] = c.strides ?? [1, 1];
  const [pt, pl, pb, pr] = c.pads ?? [0, 0, 0, 0];
  if (c.op === "ConvTranspose") {
    return [n, c.w[1] * (c.group ?? 1), sh * (h - 1) + kh - pt - pb, sw * (w - 1) + kw - pl - pr];
  }
  return [
    n,
    c.w[0],
    Math.floor((h + pt + pb - kh) / sh) + 1,
    Math.floor((w + pl + pr - kw) / sw) + 1,
  ];
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) a[i] = ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  return a;
}

// A one-node ONNX model in protobuf wire format (field numbers are the ONNX IR's).
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function field(num: number, payload: Uint8Array | number[] | string): number[] {
  const bytes = typeof payload === "string" ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
}

function intField(num: number, v: number): number[] {
  return [...varint(num << 3), ...varint(v)];
}

function intsAttribute(name: string, values: number[]): number[] {
  return [...field(1, name), ...values.flatMap((v) => intField(8, v)), ...intField(20, 7)];
}

function intAttribute(name: string, value: number): number[] {
  return [...field(1, name), ...intField(3, value), ...intField(20, 2)];
}

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => field(1, intField(1, d)));
  return [...field(1, name), ...field(2, field(1, [...intField(1, 1), ...field(2, shape)]))];
}

function initializer(name: string, dims: number[], data: Float32Array): number[] {
  return [
    ...dims.flatMap((d) => intField(1, d)),
    ...intField(2, 1),
    ...field(8, name),
    ...field(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  ];
}

/** Encodes the case as a one-node ONNX model (opset 17) with W and B as initializers. */
function encodeConvModel(c: ConvCase, w: Float32Array, b: Float32Array): Uint8Array {
  const attrs = [
    intsAttribute("kernel_shape", c.w.slice(2)),
    intsAttribute("strides", c.strides ?? [1, 1]),
    intsAttribute("pads", c.pads ?? [0, 0, 0, 0]),
    intAttribute("group", c.group ?? 1),
  ];
  const node = [
    ...field(1, "x"),
    ...field(1, "w"),
    ...field(1, "b"),
    ...field(2, "y"),
    ...field(4, c.op),
    ...attrs.flatMap((a) => field(5, a)),
  ];
  const graph = [
    ...field(1, node),
    ...field(2, "conv"),
    ...field(5, initializer("w", c.w, w)),
    ...field(5, initializer("b", [b.length], b)),
    ...field(11, valueInfo("x", c.x)),
    ...field(12, valueInfo("y", outDims(c))),
  ];
  return new Uint8Array([...intField(1, 8), ...field(8, intField(2, 17)), ...field(7, graph)]);
}

async function quartet(
  variant: KernelVariant,
  c: ConvCase,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
) {
  const kr = await loadKernels({ kernels: variant });
  const op: Op = (c.op === "Conv" ? convOps : convTransposeOps)[0];
  const node: Node = {
    name: "bench",
    op: c.op,
    domain: "",
    inputs: ["x", "w", "b"],
    outputs: ["y"],
    attributes: {
      strides: c.strides ?? [1, 1],
      pads: c.pads ?? [0, 0, 0, 0],
      group: c.group ?? 1,
    },
  };
  const infos: InputInfo[] = [
    { type: "float32", dims: c.x },
    { type: "float32", dims: c.w, value: new Tensor("float32", w, c.w) },
    { type: "float32", dims: [b.length], value: new Tensor("float32", b, [b.length]) },
  ];
  const [out] = op.inferShapes(node, infos);
  const state = op.prepare!({ kernels: kr }, node, infos);
  const px = kr.arena.alloc(x.byteLength);
  const py = kr.arena.alloc(size(out.dims) * 4);
  const inputs: ArenaTensor[] = [
    { type: "float32", dims: c.x, offset: px },
    { type: "float32", dims: c.w, offset: 0 },
    { type: "float32", dims: [b.length], offset: 0 },
  ];
  const outputs: ArenaTensor[] = [{ type: "float32", dims: out.dims, offset: py }];
  const result = new Float32Array(size(out.dims));
  return () => {
    kr.arena.f32(px, x.length).set(x);
    op.run({ kernels: kr }, node, inputs, outputs, state);
    result.set(kr.arena.f32(py, result.length));
  };
}

/** TensorFlow.js runs the same layer in NHWC with HWIO (or HW-out-in) filters. */
function tfjsRunner(c: ConvCase, w: Float32Array) {
  const [n, cin, h, wd] = c.x;
  const [kh, kw] = c.w.slice(2);
  const [sh, sw] = c.strides ?? [1, 1];
  const pad = (c.pads ?? [0, 0, 0, 0]).some((p) => p > 0) ? "same" : "valid";
  const x = random(n * h * wd * cin, 3);
  const group = c.group ?? 1;
  let filter: tf.Tensor4D;
  let fn: (t: tf.Tensor4D) => tf.Tensor;
  if (c.op === "ConvTranspose") {
    const m = c.w[1];
    filter = tf.tensor4d(random(kh * kw * m * cin, 4), [kh, kw, m, cin]);
    const [, , oh, ow] = outDims(c);
    // tfjs has no pads for conv2dTranspose: "same" gives (in·stride) outputs, as k4 s2 p1.
    fn = (t) => tf.conv2dTranspose(t, filter, [n, oh, ow, m], [sh, sw], pad);
  } else if (group > 1) {
    filter = tf.tensor4d(random(kh * kw * cin * (c.w[0] / cin), 4), [kh, kw, cin, c.w[0] / cin]);
    fn = (t) => tf.depthwiseConv2d(t, filter, [sh, sw], pad);
  } else {
    filter = tf.tensor4d(random(kh * kw * cin * c.w[0], 4), [kh, kw, cin, c.w[0]]);
    fn = (t) => tf.conv2d(t, filter, [sh, sw], pad);
  }
  void w;
  return {
    run: () => {
      const t = tf.tensor4d(x, [n, h, wd, cin]);
      const y = fn(t);
      y.dataSync();
      t.dispose();
      y.dispose();
    },
    dispose: () => filter.dispose(),
  };
}

/** Runs the benchmark, prints the table and writes bench/results/ops_conv.*. */
export async function runConvBench(
  options: { quick?: boolean; only?: string } = {},
): Promise<BenchRow[]> {
  const budget = options.quick ? 1500 : 6000;
  const rows: BenchRow[] = [];
  await startTfjs(1);
  const cases = CONV_CASES.filter((c) => !options.only || c.name.includes(options.only));
  for (const c of cases) {
    const x = random(size(c.x), 1);
    const w = random(size(c.w), 2).map((v) => v * 0.2);
    const m = c.op === "Conv" ? c.w[0] : c.w[1] * (c.group ?? 1);
    const b = random(m, 5);
    const session = await ortSession(encodeConvModel(c, w, b), 1);
    const feeds = { x: new ort.Tensor("float32", x, c.x) };
    const t = tfjsRunner(c, w);
    const runners: [Omit<BenchRow, "median_ms" | "min_ms" | "runs">, () => unknown][] = [
      [
        { case: c.name, engine: "quartet", variant: "relaxed", threads: 1 },
        await quartet("relaxed", c, x, w, b),
      ],
      [
        { case: c.name, engine: "quartet", variant: "simd", threads: 1 },
        await quartet("simd", c, x, w, b),
      ],
      [{ case: c.name, engine: "onnxruntime-web", variant: "wasm", threads: 1 }, async () => {
        const r = await session.run(feeds);
        await r.y.getData();
      }],
      [{ case: c.name, engine: "tfjs", variant: "wasm", threads: 1 }, t.run],
    ];
    const stats = await measureInterleaved(runners.map(([, f]) => f), budget);
    runners.forEach(([row], i) => rows.push({ ...row, ...stats[i] }));
    await session.release();
    t.dispose();
    console.error(`  measured ${c.name}`);
  }
  await report("ops_conv", "Convolutions, one thread (GFLOP/s)", rows, {
    unit: "GFLOP/s",
    work: (name) => convFlops(CONV_CASES.find((c) => c.name === name)!),
  }, [
    "Every engine copies the input in and the output out on each run; weights are prepared once.",
    "Engines run round-robin within each case (not one after the other), so that load from " +
    "other processes on the shared machine hits all of them alike; medians per engine.",
    "Quartet and onnxruntime-web run NCHW; TensorFlow.js runs NHWC (its native layout).",
    `Machine: ${navigator.hardwareConcurrency} logical cores, shared and noisy; ` +
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}.`,
  ]);
  return rows;
}

/**
 * Times several functions round-robin (after a warm-up of each), so that load from other
 * processes on this shared machine hits every engine alike; median and min of each.
 */
async function measureInterleaved(fns: (() => unknown)[], budgetMs: number) {
  const warm = performance.now();
  while (performance.now() - warm < budgetMs / 6) for (const f of fns) await f();
  const times: number[][] = fns.map(() => []);
  const start = performance.now();
  while (performance.now() - start < budgetMs || times[0].length < 10) {
    for (let i = 0; i < fns.length; i++) {
      const t = performance.now();
      await fns[i]();
      times[i].push(performance.now() - t);
    }
  }
  return times.map((x) => {
    x.sort((p, q) => p - q);
    return { median_ms: x[Math.floor(x.length / 2)], min_ms: x[0], runs: x.length };
  });
}

/**
 * The layout question: the same 3x3 conv through NCHW (im2col of channel rows, W·X with the
 * NCHW GEMM) and NHWC (im2col of pixel rows, X·W with the row-major GEMM), same tile budget,
 * kernels only (no copies in or out). Writes bench/results/ops_conv_layout.*.
 */
export async function runLayoutBench(options: { quick?: boolean } = {}): Promise<BenchRow[]> {
  const cases = [
    { name: "Conv 3x3 64→64, 56x56, pad 1", c: 64, hw: 56, m: 64, k: 3 },
    { name: "Conv 3x3 32→32, 112x112, pad 1", c: 32, hw: 112, m: 32, k: 3 },
    { name: "Conv 3x3 128→128, 28x28, pad 1", c: 128, hw: 28, m: 128, k: 3 },
  ];
  const rows: BenchRow[] = [];
  for (const t of cases) {
    for (const variant of ["relaxed", "simd"] as KernelVariant[]) {
      const kr = await loadKernels({ kernels: variant });
      const { c, hw, m, k } = t;
      const kk = c * k * k;
      const pixels = hw * hw;
      const w = random(m * kk, 2);
      const x = kr.arena.alloc(c * pixels * 4);
      kr.arena.f32(x, c * pixels).set(random(c * pixels, 1));
      const y = kr.arena.alloc(m * pixels * 4);
      const tile = Math.max(8, Math.min(pixels, Math.floor(COL_TILE_BYTES / (kk * 4) / 8) * 8));
      const col = kr.arena.alloc(kk * tile * 4);
      const win = kr.arena.alloc(kr.fn.x32_im2col_scratch_size(c, k, k, 1, 1, 1, 1, hw, tile));
      // NCHW: W [m, c·k·k] packed in row panels.
      const raw = kr.arena.alloc(w.byteLength);
      kr.arena.f32(raw, w.length).set(w);
      const nchw = packNchwWeights(kr, raw, m, kk);
      // NHWC: W as [(ky, kx, c), m].
      const wt = new Float32Array(kk * m);
      for (let o = 0; o < m; o++) {
        for (let ci = 0; ci < c; ci++) {
          for (let tap = 0; tap < k * k; tap++) {
            wt[(tap * c + ci) * m + o] = w[(o * c + ci) * k * k + tap];
          }
        }
      }
      kr.arena.f32(raw, wt.length).set(wt);
      const nhwc = packGemmWeights(kr, raw, kk, m);
      const runNchw = () => {
        for (let t0 = 0; t0 < pixels; t0 += tile) {
          const np = Math.min(tile, pixels - t0);
          kr.fn.x32_im2col(x, c, hw, hw, k, k, 1, 1, 1, 1, 1, 1, hw, t0, np, col, np, win);
          gemmNchw(kr, nchw, col, np, np, y + t0 * 4, pixels);
        }
      };
      const runNhwc = () => {
        for (let t0 = 0; t0 < pixels; t0 += tile) {
          const np = Math.min(tile, pixels - t0);
          kr.fn.x32_im2col_nhwc(x, c, hw, hw, k, k, 1, 1, 1, 1, 1, 1, hw, t0, np, col, kk);
          gemm(kr, np, col, kk, nhwc, y + t0 * m * 4, m);
        }
      };
      // Alternate the two so that load from other processes hits both alike.
      const [a, b] = await measureInterleaved([runNchw, runNhwc], options.quick ? 600 : 3000);
      rows.push({ case: t.name, engine: "quartet", variant: `${variant} NCHW`, threads: 1, ...a });
      rows.push({ case: t.name, engine: "quartet", variant: `${variant} NHWC`, threads: 1, ...b });
    }
    console.error(`  measured ${t.name}`);
  }
  await report("ops_conv_layout", "NCHW vs NHWC dense 3x3 conv, kernels only (GFLOP/s)", rows, {
    unit: "GFLOP/s",
    work: (name) => {
      const t = cases.find((c) => c.name === name)!;
      return 2 * t.m * t.hw * t.hw * t.c * t.k * t.k;
    },
  }, [
    "Same tile budget (COL_TILE_BYTES) for both; each path's im2col plus its GEMM form.",
    `Machine: ${navigator.hardwareConcurrency} logical cores, shared and noisy.`,
  ]);
  return rows;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--only");
  if (Deno.args.includes("--layout")) {
    await runLayoutBench({ quick: Deno.args.includes("--quick") });
  } else {
    await runConvBench({
      quick: Deno.args.includes("--quick"),
      only: i >= 0 ? Deno.args[i + 1] : undefined,
    });
  }
}
