import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
// The thread pool takes the host's Worker when it loads, before onnxruntime-web's glue swaps
// in a Node shim that cannot start Quartet's workers.
import "../../engine/threads/pool.ts";
import * as ortWeb from "npm:onnxruntime-web@1.30.0";
import { InvalidArgumentError, ModelFormatError } from "../../engine/errors.ts";
import { packSparseModel } from "../../engine/formats/sparse_package/pack.ts";
import { loadModel } from "../../engine/model.ts";
import { type MambaConfig, MambaModel } from "../../engine/models/mamba/mamba.ts";
import { loadKernels } from "../../engine/wasm/kernels.ts";
import { setGemvWeights } from "../../engine/weights/f16_gemv.ts";
import { Tensor } from "../../engine/tensor.ts";
import { assertClose } from "../_assert.ts";
import { buildModel, type BuildNode } from "../_onnx_builder.ts";
import { runOrt } from "../_ort.ts";
import { Random } from "../_random.ts";
import { MAMBA_LINEAR, type MambaTensor, mambaWeights } from "../_mamba_weights.ts";

// Big enough for the f16 GEMV's cost model (f32 weights that no longer stay in cache).
const K = 1600;
const N = 2000;

/** Random halves like trained weights (|w| < 0.125, some subnormal), as bits. */
function halves(rng: Random, count: number): Uint16Array {
  const bits = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const sign = rng.next() < 0.5 ? 0x8000 : 0;
    bits[i] = sign | (rng.next() < 0.02 ? rng.int(1, 0x3ff) : rng.int(0x400, 0x2fff));
  }
  return bits;
}

/** The float values of half bits (the host's Float16Array, independent of the engine). */
function values(bits: Uint16Array): Float32Array {
  return Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
}

/** Floats rounded to the nearest halves (host Float16Array: ties to even). */
function rounded(x: Float32Array): Float32Array {
  return Float32Array.from(Float16Array.from(x));
}

interface Layer {
  op: "MatMul" | "Gemm";
  /** W as stored: k x n for MatMul and Gemm without transB, n x k with transB. */
  w: Uint16Array;
  transB?: boolean;
  bias?: Uint16Array;
  relu?: boolean;
}

/**
 * One MatMul or Gemm (+ Relu) over float16 initializers. `cast`: float32 input and output with
 * Cast nodes turning the halves into float32 (onnxruntime then computes in float32); else an
 * all-float16 model (Quartet runs float16 models in float32).
 */
function model(l: Layer, cast: boolean): Uint8Array {
  const t = cast ? "float32" : "float16";
  const nodes: BuildNode[] = [];
  const init: Record<string, Tensor> = {
    w: new Tensor("float16", l.w, l.transB ? [N, K] : [K, N]),
  };
  if (l.bias) init.b = new Tensor("float16", l.bias, [N]);
  const w = cast ? "wf" : "w";
  const b = cast ? "bf" : "b";
  if (cast) {
    nodes.push({ op: "Cast", inputs: ["w"], outputs: ["wf"], attributes: { to: 1 } });
    if (l.bias) nodes.push({ op: "Cast", inputs: ["b"], outputs: ["bf"], attributes: { to: 1 } });
  }
  const out = l.relu ? "g" : "y";
  nodes.push(
    l.op === "Gemm"
      ? {
        op: "Gemm",
        inputs: l.bias ? ["x", w, b] : ["x", w],
        outputs: [out],
        attributes: { transB: l.transB ? 1 : 0 },
      }
      : { op: "MatMul", inputs: ["x", w], outputs: [out] },
  );
  if (l.relu) nodes.push({ op: "Relu", inputs: ["g"], outputs: ["y"] });
  return buildModel({
    nodes,
    inputs: [{ name: "x", type: t, dims: ["rows", K] }],
    outputs: [{ name: "y", type: t }],
    initializers: init,
  });
}

/** onnxruntime-web on an all-float16 model (it computes and rounds in float16). */
async function ortFloat16(bytes: Uint8Array, x: Float32Array, rows: number): Promise<Float32Array> {
  ortWeb.env.wasm.numThreads = 1;
  const s = await ortWeb.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const bits = new Uint16Array(Float16Array.from(x).buffer);
    const out = await s.run({ x: new ortWeb.Tensor("float16", bits, [rows, K]) });
    return Float32Array.from(out.y.data as unknown as ArrayLike<number>);
  } finally {
    await s.release();
  }
}

/** Per output, the sum of |x w| (+ |bias|): the scale of rounding errors. */
function scales(x: Float32Array, rows: number, wt: Float32Array, bias?: Float32Array) {
  const s = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < N; j++) {
      let a = bias ? Math.abs(bias[j]) : 0;
      for (let i = 0; i < K; i++) a += Math.abs(x[r * K + i] * wt[j * K + i]);
      s[r * N + j] = a;
    }
  }
  return s;
}

/** Wᵀ (n x k) of a layer's stored weights. */
function wtOf(l: Layer): Float32Array {
  const w = values(l.w);
  if (l.transB) return w;
  const wt = new Float32Array(N * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) wt[j * K + i] = w[i * N + j];
  return wt;
}

const LAYERS: [string, (rng: Random) => Layer][] = [
  ["MatMul", (rng) => ({ op: "MatMul", w: halves(rng, K * N) })],
  [
    "Gemm transB + bias + Relu",
    (rng) => ({
      op: "Gemm",
      w: halves(rng, K * N),
      transB: true,
      bias: halves(rng, N),
      relu: true,
    }),
  ],
  ["Gemm + bias", (rng) => ({ op: "Gemm", w: halves(rng, K * N), bias: halves(rng, N) })],
];

for (const [name, make] of LAYERS) {
  Deno.test(`float16 ${name} runs on the f16 GEMV and matches onnxruntime`, async () => {
    const rng = new Random(name.length);
    const l = make(rng);
    const bytes = model(l, false);
    const m = await loadModel(bytes);
    const f32 = await loadModel(bytes, { gemvWeights: "f32" });
    const wt = wtOf(l);
    // 1 to 4 rows use the f16 kernel; 7 rows pack f32 panels from the halves on first use,
    // and the GEMV keeps working afterwards.
    for (const rows of [1, 2, 3, 4, 7, 1]) {
      const x = rounded(rng.floats(rows * K));
      const got = (await m.run({ x: new Tensor("float32", x, [rows, K]) })).y.data as Float32Array;
      // onnxruntime in float32 on the same halves: the f16 weights must be exact.
      const want = (await runOrt(model(l, true), { x: new Tensor("float32", x, [rows, K]) })).y
        .data as Float32Array;
      assertClose(got, want, { rtol: 1e-4, atol: 1e-4 }, `${name} rows=${rows} vs onnxruntime`);
      // Quartet's own f32 path agrees just as closely.
      const dense = (await f32.run({ x: new Tensor("float32", x, [rows, K]) })).y.data;
      assertClose(got, dense as Float32Array, { rtol: 1e-4, atol: 1e-4 }, `${name} vs f32`);
      if (rows === 1 || rows === 7) {
        // onnxruntime-web runs the float16 model itself in float16: within f16 rounding.
        const half = await ortFloat16(bytes, x, rows);
        const s = scales(x, rows, wt, l.bias ? values(l.bias) : undefined);
        for (let i = 0; i < got.length; i++) {
          const err = Math.abs(got[i] - half[i]);
          ok(
            err <= 2 ** -10 * Math.abs(half[i]) + 2 ** -9 * s[i],
            `${name} rows=${rows} #${i}: ${got[i]} vs onnxruntime-web ${half[i]}`,
          );
        }
      }
    }
    const [choice] = m.summary().kernelChoices;
    strictEqual(choice.format, "f16", JSON.stringify(choice));
    ok(/stored as float16/.test(choice.reason), choice.reason);
    deepStrictEqual(f32.summary().kernelChoices, []);
    m.dispose();
    f32.dispose();
  });
}

Deno.test("f16 GEMV layers give the same numbers on 2 threads", async () => {
  const rng = new Random(2);
  const l: Layer = { op: "Gemm", w: halves(rng, K * N), transB: true, bias: halves(rng, N) };
  const bytes = model(l, false);
  const one = await loadModel(bytes);
  const two = await loadModel(bytes, { threads: 2 });
  try {
    for (const rows of [1, 3]) {
      const x = new Tensor("float32", rounded(rng.floats(rows * K)), [rows, K]);
      deepStrictEqual((await two.run({ x })).y.data, (await one.run({ x })).y.data);
    }
    strictEqual(two.summary().kernelChoices[0].format, "f16");
  } finally {
    one.dispose();
    two.dispose();
  }
});

Deno.test('gemvWeights: "f16" rounds float32 weights; "auto" leaves them alone', async () => {
  const rng = new Random(9);
  const w = rng.floats(K * N, -0.1, 0.1);
  const bias = rng.floats(N);
  const build = (wv: Float32Array) =>
    buildModel({
      nodes: [{ op: "Gemm", inputs: ["x", "w", "b"], outputs: ["y"], attributes: { transB: 1 } }],
      inputs: [{ name: "x", dims: ["rows", K] }],
      outputs: [{ name: "y" }],
      initializers: { w: new Tensor("float32", wv, [N, K]), b: new Tensor("float32", bias, [N]) },
    });
  const bytes = build(w);
  const opted = await loadModel(bytes, { gemvWeights: "f16" });
  const plain = await loadModel(bytes);
  try {
    for (const rows of [1, 5]) {
      const x = new Tensor("float32", rng.floats(rows * K), [rows, K]);
      const got = (await opted.run({ x })).y.data as Float32Array;
      // The rounded weights, for every row count (5 rows: f32 panels made from the halves).
      const want = (await runOrt(build(rounded(w)), { x })).y.data as Float32Array;
      assertClose(got, want, { rtol: 1e-4, atol: 1e-4 }, `rows=${rows}`);
      const exact = (await runOrt(bytes, { x })).y.data as Float32Array;
      assertClose((await plain.run({ x })).y.data as Float32Array, exact, {
        rtol: 1e-4,
        atol: 1e-4,
      });
      // Rounding the weights shows: the opted-in model is not the float32 one.
      ok(got.some((v, i) => Math.abs(v - exact[i]) > 1e-4), "the weights were rounded");
    }
    const [choice] = opted.summary().kernelChoices;
    strictEqual(choice.format, "f16");
    ok(/rounded to f16/.test(choice.reason), choice.reason);
    deepStrictEqual(plain.summary().kernelChoices, []);
  } finally {
    opted.dispose();
    plain.dispose();
  }
  await rejects(
    loadModel(bytes, { gemvWeights: "half" as "f16" }),
    (e: Error) => e instanceof InvalidArgumentError && /gemvWeights/.test(e.message),
  );
});

Deno.test("small float16 layers stay f32: the f16 GEMV only pays off out of cache", async () => {
  const rng = new Random(4);
  const [k, n] = [64, 48];
  const bytes = buildModel({
    nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
    inputs: [{ name: "x", type: "float16", dims: [1, k] }],
    outputs: [{ name: "y", type: "float16" }],
    initializers: { w: new Tensor("float16", halves(rng, k * n), [k, n]) },
  });
  const m = await loadModel(bytes);
  await m.run({ x: new Tensor("float32", rng.floats(k), [1, k]) });
  const [choice] = m.summary().kernelChoices;
  strictEqual(choice.format, "dense");
  ok(/stored as float16 but kept as f32/.test(choice.reason), choice.reason);
  m.dispose();
});

Deno.test("float16 weights whose first products have more than 4 rows keep no f16 copy", async () => {
  // The f16 GEMV serves products of up to 4 rows; a model first run on 7 rows gets f32 panels
  // only (an f16 copy beside them would never be read).
  const rng = new Random(5);
  const l: Layer = { op: "MatMul", w: halves(rng, K * N) };
  const m = await loadModel(model(l, false));
  const x = new Tensor("float32", rounded(rng.floats(7 * K)), [7, K]);
  const got = (await m.run({ x })).y.data as Float32Array;
  const [choice] = m.summary().kernelChoices;
  strictEqual(choice.format, "dense");
  ok(/products have 7 rows/.test(choice.reason), choice.reason);
  const want = (await runOrt(model(l, true), { x })).y.data as Float32Array;
  assertClose(got, want, { rtol: 1e-4, atol: 1e-4 });
  m.dispose();
});

/** A MatMul x[1,k] · w[k,n] over float16 weight bits, through a Cast to float when `cast`. */
function smallMatMul(w: Uint16Array, k: number, n: number, cast: boolean): Uint8Array {
  return buildModel({
    nodes: [
      ...(cast ? [{ op: "Cast", inputs: ["w"], outputs: ["wf"], attributes: { to: 1 } }] : []),
      { op: "MatMul", inputs: ["x", cast ? "wf" : "w"], outputs: ["y"] },
    ],
    inputs: [{ name: "x", dims: [1, k] }],
    outputs: [{ name: "y" }],
    initializers: { w: new Tensor("float16", w, [k, n]) },
  });
}

/** An LSTM (one direction, hidden h) over float16 W and R bits, input x[seq, 1, i]. */
function lstmModel(w: Uint16Array, r: Uint16Array, i: number, h: number): Uint8Array {
  return buildModel({
    nodes: [{
      op: "LSTM",
      inputs: ["x", "W", "R"],
      outputs: ["y"],
      attributes: { hidden_size: h },
    }],
    inputs: [{ name: "x", dims: ["seq", 1, i] }],
    outputs: [{ name: "y" }],
    initializers: {
      W: new Tensor("float16", w, [1, 4 * h, i]),
      R: new Tensor("float16", r, [1, 4 * h, h]),
    },
  });
}

Deno.test("NaN or infinite float16 weights of a product fail at load, naming node and tensor", async () => {
  for (const bad of [0x7c00, 0xfc00, 0x7e00]) {
    const kind = bad === 0x7e00 ? "NaN" : bad === 0x7c00 ? "Infinity" : "-Infinity";
    const fails = (where: RegExp) => (e: Error) =>
      e instanceof ModelFormatError && where.test(e.message) &&
      e.message.includes(` holds ${kind} at element `) && /must be finite/.test(e.message) &&
      /export the model again/.test(e.message);
    const rng = new Random(bad);
    // A layer the f16 GEMV keeps (the check used to wait for its first run)...
    const w = halves(rng, K * N);
    w[12345] = bad;
    await rejects(loadModel(model({ op: "MatMul", w }, false)), fails(/"w"/));
    // ... and, whatever the cost model or gemvWeights say, small ones and ones behind a Cast.
    const small = halves(rng, 64 * 48);
    small[100] = bad;
    for (const cast of [false, true]) {
      for (const gemvWeights of ["auto", "f32"] as const) {
        await rejects(
          loadModel(smallMatMul(small, 64, 48, cast), { gemvWeights }),
          fails(/^Node "MatMul_\d+" \(MatMul\): float16 weight "w" /),
        );
      }
    }
    const lw = halves(rng, 4 * 8 * 16);
    lw[7] = bad;
    await rejects(
      loadModel(lstmModel(lw, halves(rng, 4 * 8 * 8), 16, 8)),
      fails(/\(LSTM\): float16 weight "W" /),
    );
  }
});

Deno.test("infinite float16 constants that are no matrix weight load and run as they are", async () => {
  // An additive mask of -inf: a legitimate float16 constant, decoded like its float32 twin.
  const mask = new Uint16Array([0xfc00, 0, 0x3c00, 0x7c00]);
  const bytes = buildModel({
    nodes: [{ op: "Add", inputs: ["x", "mask"], outputs: ["y"] }],
    inputs: [{ name: "x", type: "float16", dims: [4] }],
    outputs: [{ name: "y", type: "float16" }],
    initializers: { mask: new Tensor("float16", mask, [4]) },
  });
  const m = await loadModel(bytes);
  try {
    const y = (await m.run({ x: new Tensor("float32", new Float32Array([1, 2, 3, 4]), [4]) })).y;
    deepStrictEqual([...(y.data as Float32Array)], [-Infinity, 2, 4, Infinity]);
  } finally {
    m.dispose();
  }
});

Deno.test("float16 weights behind a folded Cast(to=float) still go on the f16 GEMV", async () => {
  const rng = new Random(12);
  const l: Layer = { op: "MatMul", w: halves(rng, K * N) };
  const bytes = model(l, true);
  const m = await loadModel(bytes);
  const f32 = await loadModel(bytes, { gemvWeights: "f32" });
  try {
    for (const rows of [1, 5]) {
      const x = new Tensor("float32", rng.floats(rows * K), [rows, K]);
      const got = (await m.run({ x })).y.data as Float32Array;
      assertClose(got, (await f32.run({ x })).y.data as Float32Array, { rtol: 1e-4, atol: 1e-4 });
    }
    strictEqual(m.summary().foldedConstants, 1);
    const [choice] = m.summary().kernelChoices;
    strictEqual(choice.format, "f16", JSON.stringify(choice));
    ok(/stored as float16/.test(choice.reason), choice.reason);
  } finally {
    m.dispose();
    f32.dispose();
  }
});

Deno.test("float16 weights behind Cast then Transpose or Reshape keep the f16 GEMV", async () => {
  const rng = new Random(13);
  const w = halves(rng, K * N);
  // PyTorch writes Linear weights as [out, in] and transposes them; some exporters reshape.
  for (
    const [moves, dims] of [
      [[{ op: "Transpose", inputs: ["wf"], outputs: ["wm"], attributes: { perm: [1, 0] } }], [
        N,
        K,
      ]],
      [[{ op: "Reshape", inputs: ["wf", "shape"], outputs: ["wm"] }], [K * N]],
    ] as [BuildNode[], number[]][]
  ) {
    const bytes = buildModel({
      nodes: [
        { op: "Cast", inputs: ["w"], outputs: ["wf"], attributes: { to: 1 } },
        ...moves,
        { op: "MatMul", inputs: ["x", "wm"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", dims: [1, K] }],
      outputs: [{ name: "y" }],
      initializers: {
        w: new Tensor("float16", w, dims),
        shape: new Tensor("int64", new BigInt64Array([BigInt(K), BigInt(N)]), [2]),
      },
    });
    const m = await loadModel(bytes);
    const f32 = await loadModel(bytes, { gemvWeights: "f32" });
    try {
      const x = new Tensor("float32", rng.floats(K), [1, K]);
      const got = (await m.run({ x })).y.data as Float32Array;
      assertClose(got, (await f32.run({ x })).y.data as Float32Array, { rtol: 1e-4, atol: 1e-4 });
      const [choice] = m.summary().kernelChoices;
      strictEqual(choice.format, "f16", `${moves[0].op}: ${JSON.stringify(choice)}`);
    } finally {
      m.dispose();
      f32.dispose();
    }
  }
});

Deno.test("an LSTM's float16 input weight W goes on the f16 GEMV like a MatMul's", async () => {
  // 4 gates x 256 units x 3200 inputs: 13 MB as f32, streamed on every step.
  const [I, H] = [3200, 256];
  const rng = new Random(5);
  const bytes = lstmModel(halves(rng, 4 * H * I), halves(rng, 4 * H * H), I, H);
  const m = await loadModel(bytes);
  const f32 = await loadModel(bytes, { gemvWeights: "f32" });
  try {
    // One step (a one-row projection: the f16 GEMV), then 6 (f32 panels of the same halves).
    for (const seq of [1, 6, 1]) {
      const x = new Tensor("float32", rng.floats(seq * I, -0.2, 0.2), [seq, 1, I]);
      const got = (await m.run({ x })).y.data as Float32Array;
      assertClose(got, (await f32.run({ x })).y.data as Float32Array, {
        rtol: 1e-4,
        atol: 1e-5,
      }, `seq=${seq}`);
    }
    const w = m.summary().kernelChoices.find((c) => /W \(packed\)/.test(c.name));
    strictEqual(w?.format, "f16", JSON.stringify(m.summary().kernelChoices));
    ok(/stored as float16/.test(w!.reason), w!.reason);
    deepStrictEqual(f32.summary().kernelChoices, []);
  } finally {
    m.dispose();
    f32.dispose();
  }
});

Deno.test("a float16 sparse package keeps its dense weights as halves for the f16 GEMV", async () => {
  const rng = new Random(31);
  const bytes = buildModel({
    nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [1, K] }],
    outputs: [{ name: "y" }],
    initializers: { w: new Tensor("float32", rng.floats(K * N, -0.1, 0.1), [K, N]) },
  });
  const packed = packSparseModel(bytes, { float16: true });
  deepStrictEqual(packed.tensors.map((t) => [t.name, t.layout, t.dtype]), [
    ["w", "dense", "float16"],
  ]);
  const m = await loadModel(packed.bytes);
  try {
    const x = new Tensor("float32", rng.floats(K), [1, K]);
    await m.run({ x });
    const [choice] = m.summary().kernelChoices;
    strictEqual(choice.format, "f16", JSON.stringify(choice));
    ok(/stored as float16/.test(choice.reason), choice.reason);
  } finally {
    m.dispose();
  }
});

Deno.test('Mamba with gemvWeights "f16" decodes like f32 weights rounded to f16', async () => {
  const cfg: MambaConfig = {
    dModel: 256,
    layers: 2,
    dInner: 512,
    dState: 16,
    dConv: 4,
    dtRank: 16,
    vocab: 8192,
    eps: 1e-5,
  };
  const rng = new Random(77);
  // Scale and shift per role; the projections and the LM head are what goes f16.
  const values: Record<MambaTensor, [number, number?]> = {
    embeddings: [0.5],
    lm_head: [0.1],
    norm: [0.2, 1],
    in_proj: [0.1],
    "conv1d.weight": [0.5],
    "conv1d.bias": [0.1],
    x_proj: [0.05],
    "dt_proj.weight": [0.3],
    "dt_proj.bias": [0.5],
    A_log: [0.5, 0.5],
    D: [1],
    out_proj: [0.05],
    norm_f: [0.2, 1],
  };
  const linear = new Set<string>();
  const w = mambaWeights(cfg, (role, dims, name) => {
    const [scale, shift = 0] = values[role];
    if (MAMBA_LINEAR.has(role)) linear.add(name);
    return rng.floats(dims.reduce((a, b) => a * b)).map((x) => x * scale + shift);
  });
  // The reference: float32 weights already rounded to halves, run as f32.
  const roundedWeights = new Map(
    [...w].map(([k, v]) => [
      k,
      linear.has(k) ? new Tensor("float32", rounded(v.data as Float32Array), v.dims) : v,
    ]),
  );
  const kr = await loadKernels({ kernels: "relaxed" });
  setGemvWeights(kr, "f16");
  const half = new MambaModel(kr, cfg, w);
  // The model's 19 MB of weights stream on every token: all its projections go f16.
  deepStrictEqual(
    kr.choices.filter((c) => c.format === "f16").map((c) => c.name).sort(),
    [...linear].sort(),
  );
  const ref = new MambaModel(await loadKernels({ kernels: "relaxed" }), cfg, roundedWeights);
  // 3 prompt tokens (f16 GEMV with 3 rows), decode steps, then 6 tokens (f32 panels).
  for (const tokens of [[3, 100, 7], [42], [8000], [1, 2, 3, 4, 5, 6], [9]]) {
    assertClose(half.forward(tokens), ref.forward(tokens), { rtol: 1e-4, atol: 1e-4 }, `${tokens}`);
  }
  half.dispose();
  ref.dispose();
});
