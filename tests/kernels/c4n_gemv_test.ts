import { packC4n2Gemv, validateC4n2Gemv } from "../../engine/weights/c4n_gemv.ts";
import { ModelFormatError } from "../../engine/errors.ts";
import { throws } from "node:assert/strict";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { gemmReference } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_c4n2_1x4 equals the dense mat-vec of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(23);
    for (const n of [2, 3]) {
      for (
        const [m, k] of [[1, 4], [3, 7], [5, 8], [7, 12], [2, 3], [9, 65], [4, 257], [33, 1024]]
      ) {
        const w = c4nWeights(rng, m, k, n);
        const x = rng.floats(k);
        const bias = rng.floats(m);
        const p = packC4n2Gemv(w, m, k);
        validateC4n2Gemv(p);
        const pv = upload(kr, p.values);
        const pp = kr.arena.alloc(Math.max(p.patterns.length, 1));
        kr.arena.u8(pp, p.patterns.length).set(p.patterns);
        const pt = upload(kr, p.tails);
        const px = upload(kr, x);
        const pb = upload(kr, bias);
        const py = kr.arena.alloc(m * 4);
        kr.fn.f32_gemv_c4n2_1x4(m, k, pv, pp, pt, px, pb, py, 0, 0, 0);
        // W x = (x^T W^T)^T: the reference multiplies the 1 x k row by W^T.
        const wt = new Float32Array(k * m);
        for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) wt[j * m + i] = w[i * k + j];
        const want = gemmReference(x, wt, 1, k, m, bias);
        assertClose(download(kr, py, m), want, tolerance(k), `n=${n} ${m}x${k}`);
        for (const o of [pv, pp, pt, px, pb, py]) kr.arena.free(o);
      }
    }
  });
}

Deno.test("C4,2 GEMV packing refuses denser groups and bad metadata", () => {
  throws(() => packC4n2Gemv(new Float32Array([1, 2, 3, 0]), 1, 4), RangeError);
  const p = packC4n2Gemv(new Float32Array([1, 0, 2, 0, 0, 0, 3, 4]), 1, 8);
  throws(() => validateC4n2Gemv({ ...p, patterns: Uint8Array.from([1, 9]) }), ModelFormatError);
  throws(() => validateC4n2Gemv({ ...p, values: new Float32Array(3) }), ModelFormatError);
});
