/**
 * Recurrent ops and Mamba's scan: Quartet's LSTM / GRU ops (each SIMD build) vs
 * onnxruntime-web (one-node models built in memory) and TensorFlow.js wasm (LSTM as a loop of
 * tf.basicLSTMCell; it has no GRU), one thread, same process, same inputs. Weights are
 * constants prepared once by every engine; each timed run copies the input (and carried
 * state) in and the outputs out, as a model run would. Then the selective scan at mamba-130m
 * shapes (D = 1536, N = 16): one decode step and a 128-token prefill, as compulsory bytes
 * moved per second.
 *
 *   deno run -A bench/ops_rnn.ts [--quick]
 */
import { type BenchRow, measure, type MeasureOptions, report, type Timing } from "./_harness.ts";
import { buildModel } from "../tests/_onnx_builder.ts";
import { ort, ortSession, startTfjs, tf } from "./_peers.ts";
import type { Node } from "../engine/ir/graph.ts";
import { gemm, packGemmWeights } from "../engine/ops/gemm.ts";
import { ops as gruOps } from "../engine/ops/gru.ts";
import { ops as lstmOps } from "../engine/ops/lstm.ts";
import type { ArenaTensor, InputInfo, Op } from "../engine/ops/op.ts";
import { selectiveScan } from "../engine/ops/selective_scan.ts";
import { Tensor } from "../engine/tensor.ts";
import { type Kernels, type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";

const QUICK = Deno.args.includes("--quick");
const TIMING: MeasureOptions = QUICK
  ? { warmupMs: 200, budgetMs: 600, minRuns: 5 }
  : { warmupMs: 500, budgetMs: 2000 };
const VARIANTS: KernelVariant[] = ["simd", "relaxed"];

/** One recurrent layer to time. */
interface RnnCase {
  name: string;
  op: "LSTM" | "GRU";
  seq: number;
  input: number;
  hidden: number;
  /** GRU linear_before_reset. */
  lbr?: boolean;
  /** Feed initial_h / initial_c and read Y_h / Y_c each run (streaming, as silero VAD). */
  stateful?: boolean;
}

const CASES: RnnCase[] = [
  { name: "LSTM in 256, hidden 256, 64 steps", op: "LSTM", seq: 64, input: 256, hidden: 256 },
  { name: "GRU in 256, hidden 256, 64 steps", op: "GRU", seq: 64, input: 256, hidden: 256 },
  {
    name: "GRU (linear_before_reset) in 256, hidden 256, 64 steps",
    op: "GRU",
    seq: 64,
    input: 256,
    hidden: 256,
    lbr: true,
  },
  {
    name: "LSTM in 128, hidden 128, 1 step, state carried (VAD chunk)",
    op: "LSTM",
    seq: 1,
    input: 128,
    hidden: 128,
    stateful: true,
  },
];

// ---- the same layer as a one-node ONNX model (opset 14): X (and state) fed, W, R, B constant

function encodeModel(c: RnnCase, w: Float32Array, r: Float32Array, b: Float32Array): Uint8Array {
  const g = c.op === "LSTM" ? 4 : 3;
  const H = c.hidden;
  const stateIn = c.stateful ? (c.op === "LSTM" ? ["h0", "c0"] : ["h0"]) : [];
  const outputs = c.stateful ? (c.op === "LSTM" ? ["", "Yh", "Yc"] : ["", "Yh"]) : ["Y"];
  const t = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  return buildModel({
    nodes: [{
      op: c.op,
      inputs: ["X", "W", "R", "B", ...(c.stateful ? ["", ...stateIn] : [])],
      outputs,
      attributes: { hidden_size: H, ...(c.lbr ? { linear_before_reset: 1 } : {}) },
    }],
    inputs: [
      { name: "X", dims: [c.seq, 1, c.input] },
      ...stateIn.map((name) => ({ name, dims: [1, 1, H] })),
    ],
    outputs: outputs.filter((n) => n).map((name) => ({
      name,
      dims: name === "Y" ? [c.seq, 1, 1, H] : [1, 1, H],
    })),
    initializers: {
      W: t(w, [1, g * H, c.input]),
      R: t(r, [1, g * H, H]),
      B: t(b, [1, 2 * g * H]),
    },
  }, 14);
}

// ---- engines ----

function random(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 * 2 - 1) * scale;
  }
  return a;
}

interface Weights {
  x: Float32Array;
  w: Float32Array;
  r: Float32Array;
  b: Float32Array;
  h0: Float32Array;
  c0: Float32Array;
}

function weightsFor(c: RnnCase): Weights {
  const g = c.op === "LSTM" ? 4 : 3;
  const s = 1 / Math.sqrt(c.hidden);
  return {
    x: random(c.seq * c.input, 1, 1),
    w: random(g * c.hidden * c.input, s, 2),
    r: random(g * c.hidden * c.hidden, s, 3),
    b: random(2 * g * c.hidden, 0.1, 4),
    h0: random(c.hidden, 0.5, 5),
    c0: random(c.hidden, 0.5, 6),
  };
}

/** Quartet: the op prepared once; a run uploads X (and state), runs, reads the outputs. */
function quartetRunner(
  kr: Kernels,
  c: RnnCase,
  v: Weights,
): { run: () => Float32Array; dispose: () => void } {
  const op: Op = (c.op === "LSTM" ? lstmOps : gruOps)[0];
  const g = c.op === "LSTM" ? 4 : 3;
  const H = c.hidden;
  const node: Node = {
    name: "rnn",
    op: c.op,
    domain: "",
    inputs: [
      "X",
      "W",
      "R",
      "B",
      ...(c.stateful ? ["", "h0", ...(c.op === "LSTM" ? ["c0"] : [])] : []),
    ],
    outputs: c.stateful ? (c.op === "LSTM" ? ["", "Yh", "Yc"] : ["", "Yh"]) : ["Y"],
    attributes: { hidden_size: H, ...(c.lbr ? { linear_before_reset: 1 } : {}) },
  };
  const t = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const values = [
    t(v.x, [c.seq, 1, c.input]),
    t(v.w, [1, g * H, c.input]),
    t(v.r, [1, g * H, H]),
    t(v.b, [1, 2 * g * H]),
    ...(c.stateful
      ? [undefined, t(v.h0, [1, 1, H]), ...(c.op === "LSTM" ? [t(v.c0, [1, 1, H])] : [])]
      : []),
  ];
  const infos: (InputInfo | undefined)[] = values.map((x, i) =>
    x ? { type: "float32", dims: [...x.dims], value: i >= 1 && i <= 3 ? x : undefined } : undefined
  );
  const ctx = { kernels: kr };
  const shapes = op.inferShapes(node, infos);
  const state = op.prepare!(ctx, node, infos);
  const inputs: (ArenaTensor | undefined)[] = values.map((x) => {
    if (!x) return undefined;
    const offset = kr.arena.alloc(x.data.byteLength);
    kr.arena.f32(offset, x.size).set(x.data as Float32Array);
    return { type: "float32", dims: [...x.dims], offset };
  });
  const outputs: ArenaTensor[] = shapes.map((s) => ({
    type: "float32",
    dims: s.dims,
    offset: kr.arena.alloc(s.dims.reduce((a, b) => a * b, 1) * 4),
  }));
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  return {
    run() {
      kr.arena.f32(inputs[0]!.offset, v.x.length).set(v.x);
      if (c.stateful) {
        kr.arena.f32(inputs[5]!.offset, H).set(v.h0);
        if (c.op === "LSTM") kr.arena.f32(inputs[6]!.offset, H).set(v.c0);
      }
      op.run(ctx, node, inputs, outputs, state);
      let last = new Float32Array(0);
      outputs.forEach((o, i) => {
        if (node.outputs[i]) last = kr.arena.f32(o.offset, size(o.dims)).slice();
      });
      return last;
    },
    dispose() {
      op.release?.(ctx, state);
      for (const x of [...inputs, ...outputs]) if (x) kr.arena.free(x.offset);
    },
  };
}

/** TensorFlow.js: a loop of basicLSTMCell over the steps (its LSTM building block). */
function tfjsLstm(c: RnnCase, v: Weights): () => Promise<Float32Array> {
  const H = c.hidden;
  // basicLSTMCell takes one kernel [input + hidden, 4H] with gates i, j(c), f, o and a bias.
  const kernel = new Float32Array((c.input + H) * 4 * H);
  const bias = new Float32Array(4 * H);
  const onnxGate = [0, 3, 2, 1]; // tfjs i, j, f, o → ONNX i, c, f, o rows
  for (let tg = 0; tg < 4; tg++) {
    const og = onnxGate[tg];
    for (let u = 0; u < H; u++) {
      const col = tg * H + u;
      bias[col] = v.b[og * H + u] + v.b[4 * H + og * H + u];
      for (let k = 0; k < c.input; k++) kernel[k * 4 * H + col] = v.w[(og * H + u) * c.input + k];
      for (let k = 0; k < H; k++) kernel[(c.input + k) * 4 * H + col] = v.r[(og * H + u) * H + k];
    }
  }
  const lstmKernel = tf.tensor2d(kernel, [c.input + H, 4 * H]);
  const lstmBias = tf.tensor1d(bias);
  const forgetBias = tf.scalar(0);
  return async () => {
    const out = tf.tidy(() => {
      const x = tf.tensor2d(v.x, [c.seq, c.input]);
      let h = tf.zeros([1, H]) as tf.Tensor2D;
      let cell = tf.zeros([1, H]) as tf.Tensor2D;
      const ys: tf.Tensor2D[] = [];
      for (let t = 0; t < c.seq; t++) {
        const xt = tf.slice(x, [t, 0], [1, c.input]);
        [cell, h] = tf.basicLSTMCell(forgetBias, lstmKernel, lstmBias, xt, cell, h);
        ys.push(h);
      }
      return tf.concat(ys, 0);
    });
    const data = await out.data() as Float32Array;
    out.dispose();
    return data;
  };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function benchRnn(rows: BenchRow[], notes: string[]): Promise<void> {
  await startTfjs(1);
  for (const c of CASES) {
    const v = weightsFor(c);
    const row = (
      engine: string,
      variant: string,
      r: Timing,
    ) => rows.push({ case: c.name, engine, variant, threads: 1, ...r });
    const session = await ortSession(encodeModel(c, v.w, v.r, v.b), 1);
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor("float32", v.x, [c.seq, 1, c.input]),
    };
    if (c.stateful) {
      feeds.h0 = new ort.Tensor("float32", v.h0, [1, 1, c.hidden]);
      if (c.op === "LSTM") feeds.c0 = new ort.Tensor("float32", v.c0, [1, 1, c.hidden]);
    }
    const outName = c.stateful ? (c.op === "LSTM" ? "Yc" : "Yh") : "Y";
    const ortRun = async () => (await session.run(feeds))[outName].data as Float32Array;
    const expected = await ortRun();
    for (const variant of VARIANTS) {
      const kr = await loadKernels({ kernels: variant });
      const q = quartetRunner(kr, c, v);
      const diff = maxDiff(q.run(), expected);
      if (!(diff < 1e-4)) {
        throw new Error(`${c.name} (${variant}): differs from onnxruntime by ${diff}`);
      }
      row("quartet", variant, await measure(q.run, TIMING));
      q.dispose();
    }
    row("onnxruntime-web", "wasm", await measure(ortRun, TIMING));
    await session.release();
    if (c.op === "LSTM" && !c.stateful) {
      const run = tfjsLstm(c, v);
      const diff = maxDiff(await run(), expected);
      if (!(diff < 1e-4)) throw new Error(`${c.name} (tfjs): differs from onnxruntime by ${diff}`);
      row("tfjs-wasm", "basicLSTMCell", await measure(run, TIMING));
    }
  }
  // Where the LSTM time goes: the input projection is one GEMM over all 64 steps.
  const kr = await loadKernels({ kernels: "relaxed" });
  const [m, k, n] = [64, 256, 1024];
  const w = kr.arena.alloc(k * n * 4);
  kr.arena.f32(w, k * n).set(random(k * n, 0.05, 7));
  const pw = packGemmWeights(kr, w, k, n, { transposed: true });
  const a = kr.arena.alloc(m * k * 4);
  kr.arena.f32(a, m * k).set(random(m * k, 1, 8));
  const cOut = kr.arena.alloc(m * n * 4);
  const g = await measure(() => gemm(kr, m, a, k, pw, cOut, n), TIMING);
  notes.push(
    `LSTM breakdown (relaxed): the input projection X·Wᵀ (${m}x${k}x${n} GEMM) alone takes ` +
      `${g.median_ms.toFixed(3)} ms (${(2 * m * k * n / g.median_ms / 1e6).toFixed(1)} GFLOP/s); ` +
      `the rest is 64 fused recurrent steps (R = 1 MiB read per step).`,
  );
}

async function benchScan(rows: BenchRow[]): Promise<Map<string, number>> {
  const [D, N, L] = [1536, 16, 128];
  const bytes = new Map<string, number>();
  for (const variant of VARIANTS) {
    const kr = await loadKernels({ kernels: variant });
    const f = (count: number, lo: number, hi: number, seed: number) => {
      const off = kr.arena.alloc(count * 4);
      kr.arena.f32(off, count).set(
        random(count, (hi - lo) / 2, seed).map((x) => x + (hi + lo) / 2),
      );
      return off;
    };
    const x = f(L * D, -1, 1, 11);
    const dt = f(L * D, -5, -2, 12);
    const z = f(L * D, -2, 2, 13);
    const A = f(D * N, -16, -1, 14);
    const B = f(L * N, -1, 1, 15);
    const C = f(L * N, -1, 1, 16);
    const dtBias = f(D, -1, 0, 17);
    const skip = f(D, -1, 1, 18);
    const h = f(D * N, -0.1, 0.1, 19);
    const y = kr.arena.alloc(L * D * 4);
    const common = {
      channels: D,
      stateSize: N,
      x,
      dt,
      dtBias,
      softplus: true,
      A,
      B,
      C,
      D: skip,
      z,
      h,
      y,
    };
    const stepCase = `Selective scan step, D ${D}, N ${N} (decode)`;
    const seqCase = `Selective scan, ${L} tokens, D ${D}, N ${N} (prefill)`;
    // Compulsory traffic: A once, h read and written once, every token's x, dt, z, y, B, C.
    const fixed = (D * N * 3 + 2 * D) * 4;
    bytes.set(stepCase, fixed + (4 * D + 2 * N) * 4);
    bytes.set(seqCase, fixed + L * (4 * D + 2 * N) * 4);
    const rStep = await measure(() => selectiveScan(kr, { tokens: 1, ...common }), TIMING);
    rows.push({ case: stepCase, engine: "quartet", variant, threads: 1, ...rStep });
    const rSeq = await measure(() => selectiveScan(kr, { tokens: L, ...common }), TIMING);
    rows.push({ case: seqCase, engine: "quartet", variant, threads: 1, ...rSeq });
  }
  return bytes;
}

if (import.meta.main) {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  await benchRnn(rows, notes);
  await report("ops_rnn", "Recurrent ops, 1 thread, batch 1 (median ms, lower is better)", rows, {
    unit: "ms",
  }, [
    ...notes,
    "Every engine is checked against onnxruntime before timing (max abs difference < 1e-4). " +
    "The machine is shared and noisy: compare ratios within one run.",
  ]);
  const scanRows: BenchRow[] = [];
  const bytes = await benchScan(scanRows);
  // The scan is bound by its exponentials (D·N per token), not by memory: say so in time too.
  const perToken = scanRows.map((r) => {
    const tokens = r.case.includes("128 tokens") ? 128 : 1;
    const us = r.median_ms * 1000 / tokens;
    const gexp = 1536 * 16 / (us * 1000);
    return `${r.variant} ${tokens === 1 ? "decode" : "prefill"}: ${us.toFixed(1)} µs/token ` +
      `(${gexp.toFixed(2)} G exp/s)`;
  });
  await report(
    "ops_rnn_scan",
    "Mamba selective scan at mamba-130m shapes, 1 thread (compulsory GB/s)",
    scanRows,
    { unit: "GB/s", work: (c) => bytes.get(c)! },
    [
      "Bytes: A once, the state read and written once, and each token's x, dt, z, y, B, C: " +
      "the least any implementation must move. dt goes through softplus with a bias, y is " +
      "gated by SiLU(z) and gets the D skip, as in the Mamba block.",
      `Per token: ${perToken.join("; ")}.`,
    ],
  );
}
