import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { activationCode, ACTIVATIONS } from "../../kernels-as/activations.ts";
import { GEMM_TILES } from "../../kernels-as/gemm/kernels.ts";
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference, testParams } from "../reference/activations.ts";
import { gemmReference, transpose2d } from "../reference/gemm.ts";

const SIZES = [1, 3, 7, 17, 63, 64, 65, 257];
// Shapes (m, k, n) that cross every tile edge; a few large ones.
function shapes(rng: Random): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const m of SIZES) out.push([m, rng.int(1, 40), rng.int(1, 40)]);
  for (const k of SIZES) out.push([rng.int(1, 20), k, rng.int(1, 20)]);
  for (const n of SIZES) out.push([rng.int(1, 20), rng.int(1, 20), n]);
  out.push([1, 1, 1], [5, 1, 9], [1, 257, 65], [64, 65, 63], [130, 200, 97]);
  return out;
}

for (const variant of VARIANTS) {
  Deno.test(`f32_gemm (every tile) matches the reference over awkward shapes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(42);
    for (const [mr, nr] of GEMM_TILES) {
      const fn = kr.fn[`f32_gemm_${mr}x${nr}` as keyof KernelExports] as KernelExports[
        "f32_gemm_4x8"
      ];
      for (const [m, k, n] of shapes(rng)) {
        const a = rng.floats(m * k);
        const b = rng.floats(k * n);
        const bias = rng.floats(n);
        const transposed = rng.next() < 0.5;
        const bStored = transposed ? transpose2d(b, k, n) : b;
        const pa = upload(kr, a);
        const pb = upload(kr, bStored);
        const pbias = upload(kr, bias);
        const pw = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, n, nr));
        kr.fn.x32_pack_gemm(k, n, nr, pb, transposed ? k : n, transposed ? 1 : 0, pbias, pw);
        const pc = kr.arena.alloc(m * n * 4);
        fn(m, n, k, pa, k, pw, pc, n, 0, 0, 0);
        const want = gemmReference(a, b, m, k, n, bias);
        assertClose(
          download(kr, pc, m * n),
          want,
          tolerance(k),
          `${mr}x${nr} m=${m} k=${k} n=${n}`,
        );
        for (const p of [pa, pb, pbias, pw, pc]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`f32_gemm_nchw (every tile) matches the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(7);
    for (const [mr, nr] of GEMM_TILES) {
      const fn = kr.fn[`f32_gemm_nchw_${mr}x${nr}` as keyof KernelExports] as KernelExports[
        "f32_gemm_nchw_4x8"
      ];
      for (const [m, k, n] of shapes(rng)) {
        const w = rng.floats(m * k);
        const x = rng.floats(k * n);
        const bias = rng.floats(m);
        const pw = upload(kr, w);
        const px = upload(kr, x);
        const pbias = upload(kr, bias);
        const pp = kr.arena.alloc(kr.fn.x32_pack_gemm_nchw_size(m, k, mr));
        kr.fn.x32_pack_gemm_nchw(m, k, mr, pw, k, pbias, pp);
        const pc = kr.arena.alloc(m * n * 4);
        fn(m, n, k, pp, px, n, pc, n, 0, 0, 0);
        const want = gemmReference(w, x, m, k, n).map((v, i) => v + bias[Math.floor(i / n)]);
        assertClose(download(kr, pc, m * n), want, tolerance(k), `nchw ${mr}x${nr} ${m}x${k}x${n}`);
        for (const p of [pw, px, pbias, pp, pc]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`f32_gemv_1x8 matches the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(3);
    for (const k of [...SIZES, 1024]) {
      for (const n of [1, 5, 8, 9, 63, 257]) {
        const a = rng.floats(k);
        const b = rng.floats(k * n);
        const pa = upload(kr, a);
        const pb = upload(kr, b);
        const pw = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, n, 8));
        kr.fn.x32_pack_gemm(k, n, 8, pb, n, 0, 0, pw);
        const pc = kr.arena.alloc(n * 4);
        kr.fn.f32_gemv_1x8(n, k, pa, pw, pc, 0, 0, 0);
        assertClose(
          download(kr, pc, n),
          gemmReference(a, b, 1, k, n),
          tolerance(k),
          `k=${k} n=${n}`,
        );
        for (const p of [pa, pb, pw, pc]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`GEMM epilogues apply every activation: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(11);
    const [m, k, n] = [7, 13, 19];
    for (const name of ACTIVATIONS) {
      const [p0, p1] = testParams(name);
      const a = rng.floats(m * k, -2, 2);
      const b = rng.floats(k * n, -2, 2);
      const pa = upload(kr, a);
      const pb = upload(kr, b);
      const pw = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, n, 8));
      kr.fn.x32_pack_gemm(k, n, 8, pb, n, 0, 0, pw);
      const pc = kr.arena.alloc(m * n * 4);
      kr.fn.f32_gemm_6x8(m, n, k, pa, k, pw, pc, n, activationCode(name), p0, p1);
      const want = gemmReference(a, b, m, k, n, undefined, activationReference(name, p0, p1));
      assertClose(download(kr, pc, m * n), want, { rtol: 1e-4, atol: 1e-5 }, name);
      kr.fn.f32_gemv_1x8(n, k, pa, pw, pc, activationCode(name), p0, p1);
      assertClose(download(kr, pc, n), want.subarray(0, n), { rtol: 1e-4, atol: 1e-5 }, name);
      for (const p of [pa, pb, pw, pc]) kr.arena.free(p);
    }
  });
}

Deno.test("loadKernels reports the variant it loaded", async () => {
  for (const variant of VARIANTS) {
    const kr = await kernelsFor(variant);
    assertEquals(kr.variant, variant);
    assertEquals(["scalar", "simd", "relaxed"][kr.fn.kernel_variant()], variant);
  }
});
