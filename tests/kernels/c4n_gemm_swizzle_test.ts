import { packC4nGemv } from "../../engine/weights/c4n_gemv.ts";
import { activationCode } from "../../kernels-as/activations.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { gemmReference } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

// [inputs t, rows m, k]: one input (all through the matrix-vector kernel), a whole tile of 4
// and one past it, primes; rows short of a half block and of a block, k not a multiple of 4,
// below one group and one quad, large.
const SHAPES = [
  [1, 16, 64],
  [4, 16, 64],
  [5, 8, 20],
  [7, 13, 30],
  [4, 3, 7],
  [9, 37, 129],
  [8, 1100, 70],
  [12, 96, 516],
  [4, 5, 3],
];

for (const variant of VARIANTS) {
  Deno.test(`f32_gemm_c4n2/3_swizzle equal the dense product of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    for (const n of [2, 3] as const) {
      const fn = n === 2 ? kr.fn.f32_gemm_c4n2_swizzle : kr.fn.f32_gemm_c4n3_swizzle;
      for (const [t, m, k] of SHAPES) {
        const w = c4nWeights(rng, m, k, n);
        for (let i = 0; i < w.length; i += 5) w[i] = 0;
        // Rows of x with a stride past k, NaN in the gap: the kernel must not read past k.
        const ldx = k + 3;
        const xs = new Float32Array(t * ldx).fill(NaN);
        const x = rng.floats(t * k);
        for (let i = 0; i < t; i++) xs.set(x.subarray(i * k, (i + 1) * k), i * ldx);
        const bias = rng.floats(m);
        const p = packC4nGemv(w, m, k, n);
        const pw = kr.arena.alloc(p.bytes.length);
        kr.arena.u8(pw, p.bytes.length).set(p.bytes);
        const px = upload(kr, xs);
        const pb = upload(kr, bias);
        const ldy = m + 2;
        const py = kr.arena.alloc(t * ldy * 4);
        const wt = new Float32Array(k * m);
        for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) wt[j * m + i] = w[i * k + j];
        const relu = (v: number) => Math.max(v, 0);
        const what = `n=${n} t=${t} ${m}x${k}`;
        const rowsOf = (y: Float32Array) =>
          Float32Array.from({ length: t * m }, (_, i) => y[Math.floor(i / m) * ldy + (i % m)]);
        // Every row, with bias and ReLU (clamp to [0, inf)).
        fn(m, k, t, 0, m, pw, px, ldx, pb, py, ldy, activationCode("clamp"), 0, Infinity);
        const want = gemmReference(x, wt, t, k, m, bias, relu);
        assertClose(rowsOf(download(kr, py, t * ldy)), want, tolerance(k), what);
        // A row range (a thread's share, not on a block boundary) writes only its rows.
        const r0 = Math.floor(m / 3);
        const r1 = Math.max(r0 + 1, Math.floor((2 * m) / 3));
        kr.arena.f32(py, t * ldy).fill(-7);
        fn(m, k, t, r0, r1, pw, px, ldx, 0, py, ldy, 0, 0, 0);
        const got = rowsOf(download(kr, py, t * ldy));
        const plain = gemmReference(x, wt, t, k, m);
        for (let i = 0; i < t; i++) {
          assertClose(
            got.subarray(i * m + r0, i * m + r1),
            plain.subarray(i * m + r0, i * m + r1),
            tolerance(k),
            `${what} input ${i} rows ${r0}-${r1}`,
          );
          for (let r = 0; r < m; r++) {
            if ((r < r0 || r >= r1) && got[i * m + r] !== -7) {
              throw new Error(`${what}: input ${i} row ${r} written`);
            }
          }
        }
        for (const o of [pw, px, pb, py]) kr.arena.free(o);
      }
    }
  });
}
