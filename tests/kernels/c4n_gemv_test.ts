import { c4nGemvBytes, packC4nGemv, validateC4nGemv } from "../../engine/weights/c4n_gemv.ts";
import { ModelFormatError } from "../../engine/errors.ts";
import { activationCode } from "../../kernels-as/activations.ts";
import { throws } from "node:assert/strict";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { gemmReference } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

// m x k shapes: one row, k below one group and below one quad of groups, k not a multiple of 4,
// primes, rows that fill no block (C4,3: 16, C4,2: 8), exactly one block, a partial last block
// and quad, large, many rows.
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
  [16, 16],
  [8, 20],
  [17, 23],
  [1100, 70],
];

/** C4n weights with some extra zeros (groups sparser than n: the packer fills the pattern). */
function weights(rng: Random, m: number, k: number, n: number): Float32Array {
  const w = c4nWeights(rng, m, k, n);
  for (let i = 0; i < w.length; i += 7) w[i] = 0;
  return w;
}

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_c4n2/3_swizzle equal the dense mat-vec of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(23);
    for (const n of [2, 3] as const) {
      const fn = n === 2 ? kr.fn.f32_gemv_c4n2_swizzle : kr.fn.f32_gemv_c4n3_swizzle;
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
        fn(m, k, 0, m, pw, px, pb, py, activationCode("clamp"), 0, Infinity);
        const relu = (v: number) => Math.max(v, 0);
        const what = `n=${n} ${m}x${k}`;
        assertClose(
          download(kr, py, m),
          gemmReference(x, wt, 1, k, m, bias, relu),
          tolerance(k),
          what,
        );
        // A row range (a thread's share, here not on a block boundary) writes only its rows.
        const r0 = Math.floor(m / 3);
        const r1 = Math.max(r0 + 1, Math.floor((2 * m) / 3));
        kr.arena.f32(py, m).fill(-7);
        fn(m, k, r0, r1, pw, px, 0, py, 0, 0, 0);
        const got = download(kr, py, m);
        const want = gemmReference(x, wt, 1, k, m);
        assertClose(got.subarray(r0, r1), want.subarray(r0, r1), tolerance(k), `${what} rows`);
        for (let i = 0; i < m; i++) {
          if ((i < r0 || i >= r1) && got[i] !== -7) throw new Error(`${what}: row ${i} written`);
        }
        for (const o of [pw, px, pb, py]) kr.arena.free(o);
      }
    }
  });
}

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_c4n2/3_swizzle read any id byte as its lanes' positions: ${variant}`, async () => {
    // Random bytes everywhere (ids and values): the product the layout describes, decoded
    // here from its definition (kernels-as/c4n/f32_gemv_c4n_swizzle.tmpl.ts), not by the packer.
    const kr = await kernelsFor(variant);
    const rng = new Random(5);
    for (const n of [2, 3] as const) {
      const fn = n === 2 ? kr.fn.f32_gemv_c4n2_swizzle : kr.fn.f32_gemv_c4n3_swizzle;
      for (const [m, k] of [[19, 30], [16, 64]]) {
        const bytes = new Uint8Array(c4nGemvBytes(m, k, n));
        const f = new Float32Array(bytes.buffer);
        f.set(rng.floats(f.length));
        const groups = k >> 2;
        const quads = Math.ceil(groups / 4);
        const rows = n === 3 ? 16 : 8;
        for (let q = 0; q < Math.ceil(m / rows) * quads; q++) {
          for (let i = 0; i < 16; i++) bytes[q * 272 + i] = Math.floor(rng.next() * 256);
        }
        const x = rng.floats(k);
        const want = new Float64Array(m);
        for (let q = 0; q < Math.ceil(m / rows) * quads; q++) {
          const b = Math.floor(q / quads);
          for (let h = 0; h < 4; h++) {
            const g = 4 * (q % quads) + h;
            if (g >= groups) continue;
            for (let v = 0; v < 4; v++) {
              const id = bytes[q * 272 + 4 * h + v];
              for (let j = 0; j < 4; j++) {
                const r = b * rows + (n === 3 ? 4 * v + j : 2 * v + (j >> 1));
                const value = f[(q * 272 + 16 + 64 * h + 16 * v) / 4 + j];
                if (r < m) want[r] += value * x[4 * g + ((id >> (2 * j)) & 3)];
              }
            }
          }
        }
        const tails = f.length - 4 * m;
        for (let r = 0; r < m; r++) {
          for (let t = 0; t < k % 4; t++) want[r] += f[tails + 4 * r + t] * x[4 * groups + t];
        }
        const pw = kr.arena.alloc(bytes.length);
        kr.arena.u8(pw, bytes.length).set(bytes);
        const px = upload(kr, x);
        const py = kr.arena.alloc(m * 4);
        fn(m, k, 0, m, pw, px, 0, py, 0, 0, 0);
        assertClose(download(kr, py, m), Float32Array.from(want), tolerance(k), `n=${n} ${m}x${k}`);
        for (const o of [pw, px, py]) kr.arena.free(o);
      }
    }
  });
}

Deno.test("C4n GEMV packing refuses denser groups and lays out ids; validation rejects bad metadata", () => {
  throws(() => packC4nGemv(new Float32Array([1, 2, 3, 0]), 1, 4, 2), RangeError);
  throws(() => packC4nGemv(new Float32Array([1, 2, 0, 0]), 1, 4, 3), /row 0 group 0/);
  const p = packC4nGemv(new Float32Array([1, 0, 2, 0, 0, 0, 3, 4]), 1, 8, 2);
  // Row 0 keeps positions 0, 2 in group 0 and 2, 3 in group 1 (2 bits per lane, lowest first);
  // the padding row 1 stays zero. Values in lane order.
  const f = new Float32Array(p.bytes.buffer);
  if (p.bytes[0] !== 0b1000 || p.bytes[4] !== 0b1110 || f[4] !== 1 || f[5] !== 2 || f[20] !== 3) {
    throw new Error(`layout: ids ${p.bytes.subarray(0, 8)}, values ${f.subarray(4, 24)}`);
  }
  throws(() => validateC4nGemv({ ...p, bytes: p.bytes.subarray(1) }), ModelFormatError);
  throws(() => validateC4nGemv({ ...p, n: 1 as 2 }), ModelFormatError);
  throws(() => validateC4nGemv({ ...p, m: 2 }), /bytes/);
  throws(() => validateC4nGemv({ ...p, k: -4 }), /shape/);
  const q = packC4nGemv(new Float32Array(64 * 3).fill(0), 3, 64, 3);
  if (q.bytes.length !== c4nGemvBytes(3, 64, 3)) throw new Error("length");
  validateC4nGemv(q);
});
