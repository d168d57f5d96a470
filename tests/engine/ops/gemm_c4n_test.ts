import { deepStrictEqual, ok } from "node:assert/strict";
import { gemm } from "../../../engine/ops/gemm.ts";
import { loadSparsePackers } from "../../../engine/weights/sparse_packers.ts";
import { setGemvWeights } from "../../../engine/weights/f16_gemv.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { assertClose } from "../../_assert.ts";
import {
  download,
  kernelsFor,
  packSparseGemm,
  tolerance,
  upload,
  withKernels,
} from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { gemmReference, transpose2d } from "../../reference/gemm.ts";
import { c4nWeights } from "../../reference/sparse.ts";

/** The C4n kernels `body` calls on this thread (kr.fn swapped for a spying copy), and its result. */
function calls<T>(kr: Kernels, body: () => T): { names: Set<string>; result: T } {
  const names = new Set<string>();
  const original = kr.fn;
  const spied: Record<string, unknown> = { ...original };
  for (const [name, f] of Object.entries(original)) {
    if (!/_c4n[23]_swizzle$/.test(name)) continue;
    spied[name] = (...a: number[]) => {
      names.add(name);
      return (f as (...a: number[]) => void)(...a);
    };
  }
  kr.fn = spied as unknown as Kernels["fn"];
  try {
    return { names, result: body() };
  } finally {
    kr.fn = original;
  }
}

/** C = A · W for C4n W (k x n as gemm takes it), m rows of A, through packGemmWeights + gemm. */
function c4nProduct(kr: Kernels, rng: Random, m: number, k: number, n: number, zeros: 2 | 3) {
  const wt = c4nWeights(rng, n, k, zeros); // n outputs x k inputs: C4n along k
  const w = transpose2d(wt, n, k); // k x n, as gemm takes it
  const a = rng.floats(m * k);
  const bias = rng.floats(n);
  const { packed, packedBytes, uploads } = packSparseGemm(kr, w, bias, k, n);
  const pa = upload(kr, a);
  const pc = kr.arena.alloc(m * n * 4);
  const { names } = calls(
    kr,
    () => gemm(kr, m, pa, k, packed, pc, n, { activation: "clamp", p0: 0, p1: Infinity }),
  );
  const got = download(kr, pc, m * n);
  const want = gemmReference(a, w, m, k, n, bias, (v) => Math.max(v, 0));
  for (const o of [...uploads, pa, pc]) kr.arena.free(o);
  return {
    names,
    got,
    want,
    format: packed.c4n ? `c4n:${packed.c4n.zeros}` : "dense",
    densePanels: packed.offset !== 0,
    packedBytes,
  };
}

Deno.test("gemm with C4n weights: the GEMV up to 4 rows, then the several-input kernel, with no dense copy kept", async () => {
  await loadSparsePackers();
  const kr = await kernelsFor("relaxed");
  const rng = new Random(8);
  // [rows of A, k, n, zeros, kernel expected]
  const cases = [
    [1, 300, 40, 3, "f32_gemv_c4n3_swizzle"],
    [4, 300, 40, 3, "f32_gemv_c4n3_swizzle"],
    [5, 300, 40, 3, "f32_gemm_c4n3_swizzle"],
    [64, 257, 131, 3, "f32_gemm_c4n3_swizzle"],
    [9, 2048, 2061, 2, "f32_gemm_c4n2_swizzle"],
  ] as const;
  for (const [m, k, n, zeros, kernel] of cases) {
    const { names, got, want, format, densePanels, packedBytes } = c4nProduct(
      kr,
      rng,
      m,
      k,
      n,
      zeros,
    );
    const what = `${m} rows, ${k}x${n}, C4,${zeros}`;
    deepStrictEqual(format, `c4n:${zeros}`, what);
    // Only the survivors are kept (a quarter or a half of the weights, with their ids, the
    // bias and the tails), no dense panels.
    deepStrictEqual(densePanels, false, what);
    const denseBytes = 4 * k * n;
    ok(
      packedBytes < (zeros === 3 ? 0.35 : 0.6) * denseBytes,
      `${what}: ${packedBytes} bytes packed for ${denseBytes} dense`,
    );
    deepStrictEqual([...names], [kernel], what);
    assertClose(got, want, tolerance(k), what);
  }
});

Deno.test("gemm with C4n weights over many rows gives the same result on 2 threads as on one", async () => {
  await loadSparsePackers();
  // C4,2 goes C4n only for weights that stream from memory (a model of 64 MB here).
  for (const zeros of [3, 2] as const) {
    const product = (kr: Kernels) => {
      setGemvWeights(kr, undefined, zeros === 2 ? 64 << 20 : 0);
      const r = c4nProduct(kr, new Random(9), 37, 512, 520, zeros);
      deepStrictEqual(r.format, `c4n:${zeros}`);
      return r;
    };
    // On one thread the spy sees the kernel (on two, the workers call it).
    const { got: one, names } = await withKernels(1, product);
    deepStrictEqual([...names], [`f32_gemm_c4n${zeros}_swizzle`]);
    const two = await withKernels(2, (kr, split) => {
      const { got } = product(kr);
      if (!split()) throw new Error("the product was not split");
      return got;
    });
    assertClose(two, one, { rtol: 0, atol: 0 }, `C4,${zeros} on 2 threads`);
  }
});

Deno.test("a C4,3 GEMV whose model streams from memory splits across 2 threads; in cache it stays on one", async () => {
  // Mamba-130m's in_proj shape: 2.8 MFLOP-equivalent at the C4,3 cost. In cache that is below
  // two threads' worth; streamed, the GEMV runs at a quarter of GEMM speed per flop
  // (GEMV_STREAM_TIME_PER_FLOP), which is worth a second thread.
  await loadSparsePackers();
  for (const [modelBytes, splits] of [[0, false], [64 << 20, true]] as const) {
    await withKernels(2, (kr, split) => {
      setGemvWeights(kr, undefined, modelBytes);
      split();
      const r = c4nProduct(kr, new Random(10), 1, 768, 3072, 3);
      deepStrictEqual(r.format, "c4n:3");
      deepStrictEqual(split(), splits, `model of ${modelBytes} bytes`);
      assertClose(r.got, r.want, tolerance(768));
    });
  }
});
