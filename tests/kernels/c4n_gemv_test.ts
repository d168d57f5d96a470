import {
  c4nGemvBytes,
  packC4nGemv,
  type PackedC4nGemv,
  validateC4nGemv,
} from "../../engine/weights/c4n_gemv.ts";
import { ModelFormatError } from "../../engine/errors.ts";
import { activationCode } from "../../kernels-as/activations.ts";
import { throws } from "node:assert/strict";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { gemmReference } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

// m x k shapes: one row, k below one group and below one unit, k not a multiple of 4, primes,
// a partial last block, exactly one block, large, rows past one chunk (512 rows).
const SHAPES = [
  [1, 4],
  [1, 3],
  [3, 7],
  [5, 8],
  [7, 12],
  [2, 1],
  [9, 65],
  [4, 257],
  [13, 128],
  [11, 129],
  [33, 1024],
  [130, 515],
  [1100, 70],
];

/** C4n weights with some extra zeros (groups sparser than n: the packer fills the pattern). */
function weights(rng: Random, m: number, k: number, n: number): Float32Array {
  const w = c4nWeights(rng, m, k, n);
  for (let i = 0; i < w.length; i += 7) w[i] = 0;
  return w;
}

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_c4n2/3_xtab equal the dense mat-vec of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(23);
    for (const n of [2, 3] as const) {
      const fn = n === 2 ? kr.fn.f32_gemv_c4n2_xtab : kr.fn.f32_gemv_c4n3_xtab;
      const scratchSize = n === 2
        ? kr.fn.f32_gemv_c4n2_xtab_scratch_size
        : kr.fn.f32_gemv_c4n3_xtab_scratch_size;
      for (const [m, k] of SHAPES) {
        const w = weights(rng, m, k, n);
        // NaN right after x: the kernel must never read an input past k.
        const xs = new Float32Array(k + 8).fill(NaN);
        xs.set(rng.floats(k));
        const x = xs.subarray(0, k);
        const bias = rng.floats(m);
        const p = packC4nGemv(w, m, k, n);
        validateC4nGemv(p);
        const pw = kr.arena.alloc(p.bytes.length);
        kr.arena.u8(pw, p.bytes.length).set(p.bytes);
        const px = upload(kr, xs);
        const pb = upload(kr, bias);
        const py = kr.arena.alloc(m * 4);
        const wt = new Float32Array(k * m);
        for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) wt[j * m + i] = w[i * k + j];
        // Whole product, with bias and ReLU (clamp to [0, inf)).
        const scratch = kr.arena.alloc(scratchSize(k));
        fn(m, k, 0, m, pw, px, pb, py, activationCode("clamp"), 0, Infinity, scratch);
        const relu = (v: number) => Math.max(v, 0);
        const what = `n=${n} ${m}x${k}`;
        assertClose(
          download(kr, py, m),
          gemmReference(x, wt, 1, k, m, bias, relu),
          tolerance(k),
          what,
        );
        // A row range (a thread's share) writes only its rows; no bias.
        const r0 = Math.floor(m / 3);
        const r1 = Math.max(r0 + 1, Math.floor((2 * m) / 3));
        kr.arena.f32(py, m).fill(-7);
        fn(m, k, r0, r1, pw, px, 0, py, 0, 0, 0, scratch);
        const got = download(kr, py, m);
        const want = gemmReference(x, wt, 1, k, m);
        assertClose(got.subarray(r0, r1), want.subarray(r0, r1), tolerance(k), `${what} rows`);
        for (let i = 0; i < m; i++) {
          if ((i < r0 || i >= r1) && got[i] !== -7) throw new Error(`${what}: row ${i} written`);
        }
        for (const o of [pw, px, pb, py, scratch]) kr.arena.free(o);
      }
    }
  });
}

Deno.test("C4n GEMV packing refuses denser groups; validation rejects bad metadata", () => {
  throws(() => packC4nGemv(new Float32Array([1, 2, 3, 0]), 1, 4, 2), RangeError);
  throws(() => packC4nGemv(new Float32Array([1, 2, 0, 0]), 1, 4, 3), /row 0 group 0/);
  const p = packC4nGemv(new Float32Array([1, 0, 2, 0, 0, 0, 3, 4]), 1, 8, 2);
  const broken = (edit: (v: DataView) => void): PackedC4nGemv => {
    const bytes = p.bytes.slice();
    edit(new DataView(bytes.buffer));
    return { ...p, bytes };
  };
  // The one unit's offset sits after its 16 value bytes.
  throws(() => validateC4nGemv(broken((v) => v.setUint16(16, 36 * 16))), ModelFormatError);
  throws(() => validateC4nGemv(broken((v) => v.setUint16(16, 9, true))), ModelFormatError);
  throws(() => validateC4nGemv({ ...p, bytes: p.bytes.subarray(1) }), ModelFormatError);
  throws(() => validateC4nGemv({ ...p, n: 1 as 2 }), ModelFormatError);
  const q = packC4nGemv(new Float32Array(64 * 3).fill(0), 3, 64, 3);
  if (q.bytes.length !== c4nGemvBytes(3, 64, 3)) throw new Error("length");
  validateC4nGemv(q);
});
