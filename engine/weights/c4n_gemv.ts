/**
 * C4,2 weights laid out for the matrix-vector kernel `f32_gemv_c4n2_1x4`: per row, pairs of
 * groups with their 4 surviving values contiguous and one pattern id (which 2 of the 4
 * positions survive) per group; the k mod 4 trailing weights stay dense.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

/** The 6 ways 2 of 4 positions survive, in the order the kernel's mask tables use. */
export const C4N2_PATTERNS: readonly (readonly [number, number])[] = [
  [0, 1],
  [0, 2],
  [0, 3],
  [1, 2],
  [1, 3],
  [2, 3],
];

/** Host-side packed C4,2 GEMV weights. */
export interface PackedC4n2Gemv {
  m: number;
  k: number;
  /** m x P x 4 survivor values (P = group pairs). */
  values: Float32Array;
  /** m x P x 2 pattern ids. */
  patterns: Uint8Array;
  /** m x 4 trailing dense weights (zero padded). */
  tails: Float32Array;
}

/** Group pairs per row. */
export function c4n2Pairs(k: number): number {
  return (Math.floor(k / 4) + 1) >> 1;
}

/** Packs W (m x k, row stride ld) in which every full group of 4 has at least 2 zeros. */
export function packC4n2Gemv(w: Float32Array, m: number, k: number, ld = k): PackedC4n2Gemv {
  const groups = Math.floor(k / 4);
  const pairs = c4n2Pairs(k);
  const values = new Float32Array(m * pairs * 4);
  const patterns = new Uint8Array(m * pairs * 2);
  const tails = new Float32Array(m * 4);
  for (let i = 0; i < m; i++) {
    for (let g = 0; g < groups; g++) {
      const o = i * ld + 4 * g;
      const nz = [0, 1, 2, 3].filter((j) => w[o + j] !== 0);
      if (nz.length > 2) {
        throw new RangeError(`packC4n2Gemv: row ${i} group ${g} has ${nz.length} non-zeros`);
      }
      const pos = [...nz];
      for (let j = 0; pos.length < 2; j++) if (!pos.includes(j)) pos.push(j);
      pos.sort((a, b) => a - b);
      const id = C4N2_PATTERNS.findIndex(([a, b]) => a === pos[0] && b === pos[1]);
      patterns[i * pairs * 2 + g] = id;
      values[(i * pairs * 2 + g) * 2] = w[o + pos[0]];
      values[(i * pairs * 2 + g) * 2 + 1] = w[o + pos[1]];
    }
    for (let t = 0; t < k % 4; t++) tails[i * 4 + t] = w[i * ld + groups * 4 + t];
  }
  return { m, k, values, patterns, tails };
}

/** Rejects metadata a kernel could misread: lengths and pattern ids. */
export function validateC4n2Gemv(p: PackedC4n2Gemv, what = "C4,2 weights"): void {
  const pairs = c4n2Pairs(p.k);
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  if (p.values.length !== p.m * pairs * 4) {
    throw fail(`${p.values.length} values, ${p.m * pairs * 4} expected`);
  }
  if (p.patterns.length !== p.m * pairs * 2) {
    throw fail(`${p.patterns.length} pattern ids, ${p.m * pairs * 2} expected`);
  }
  if (p.tails.length !== p.m * 4) throw fail(`${p.tails.length} tail values, ${p.m * 4} expected`);
  for (let i = 0; i < p.patterns.length; i++) {
    if (p.patterns[i] >= C4N2_PATTERNS.length) throw fail(`pattern id ${p.patterns[i]} at ${i}`);
  }
}
