/**
 * C4n weights: in every group of 4 consecutive weights along the reduction axis, at least n
 * are zero (n = 1, 2, 3). A trailing group (k not a multiple of 4) stays dense.
 *
 * Packed layout (what `f32_spmm_c4n_1x48` reads): per output row, S = G·(4−n) + k mod 4
 * survivors, each a pair (value: f32, index along k: i32), groups in order. A group with more
 * zeros than n keeps zero-valued survivors so every row has the same length.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

/** The largest n such that every full group of 4 along each row has at least n zeros. */
export function detectC4n(w: Float32Array, m: number, k: number, ld = k): number {
  let n = 3;
  const groups = Math.floor(k / 4);
  if (groups === 0) return 0;
  for (let i = 0; i < m && n > 0; i++) {
    const row = i * ld;
    for (let g = 0; g < groups; g++) {
      const o = row + 4 * g;
      const zeros = (w[o] === 0 ? 1 : 0) + (w[o + 1] === 0 ? 1 : 0) + (w[o + 2] === 0 ? 1 : 0) +
        (w[o + 3] === 0 ? 1 : 0);
      if (zeros < n) {
        n = zeros;
        if (n === 0) return 0;
      }
    }
  }
  return n;
}

/** Survivors per row for C4n with reduction length k. */
export function c4nSurvivors(k: number, n: number): number {
  return Math.floor(k / 4) * (4 - n) + (k % 4);
}

/** Packed C4n weights, host side: `pairs` holds (value bits, index) per survivor. */
export interface PackedC4n {
  /** Zeros per group. */
  n: number;
  /** Output rows. */
  m: number;
  /** Reduction length. */
  k: number;
  /** Survivors per row. */
  s: number;
  /** m·s pairs as [f32 bits, i32 index], row by row. */
  pairs: Int32Array;
}

/** Packs W (m x k, row stride ld) whose groups all have ≥ n zeros. */
export function packC4n(w: Float32Array, m: number, k: number, n: number, ld = k): PackedC4n {
  if (!(n >= 1 && n <= 3)) {
    throw new RangeError(`Cannot pack C4n weights: n must be 1, 2 or 3, got ${n}`);
  }
  const s = c4nSurvivors(k, n);
  const pairs = new Int32Array(m * s * 2);
  const f = new Float32Array(pairs.buffer);
  const keep = 4 - n;
  const groups = Math.floor(k / 4);
  let o = 0;
  for (let i = 0; i < m; i++) {
    const row = i * ld;
    for (let g = 0; g < groups; g++) {
      let kept = 0;
      // Non-zeros first; pad with zero-valued positions of the same group.
      for (let j = 0; j < 4 && kept < keep; j++) {
        if (w[row + 4 * g + j] !== 0) {
          f[o] = w[row + 4 * g + j];
          pairs[o + 1] = 4 * g + j;
          o += 2;
          kept++;
        }
      }
      for (let j = 0; j < 4 && kept < keep; j++) {
        if (w[row + 4 * g + j] === 0) {
          f[o] = 0;
          pairs[o + 1] = 4 * g + j;
          o += 2;
          kept++;
        }
      }
      for (let j = 0; j < 4; j++) {
        if (w[row + 4 * g + j] !== 0 && !isKept(pairs, o - 2 * keep, keep, 4 * g + j)) {
          throw new RangeError(
            `Cannot pack C4n weights: row ${i} group ${g} has fewer than ${n} zeros`,
          );
        }
      }
    }
    for (let j = groups * 4; j < k; j++) {
      f[o] = w[row + j];
      pairs[o + 1] = j;
      o += 2;
    }
  }
  return { n, m, k, s, pairs };
}

function isKept(pairs: Int32Array, from: number, count: number, index: number): boolean {
  for (let t = 0; t < count; t++) if (pairs[from + 2 * t + 1] === index) return true;
  return false;
}

/** Dense m x k weights back from a packed C4n (round trips exactly). */
export function unpackC4n(p: PackedC4n): Float32Array {
  validateC4n(p);
  const out = new Float32Array(p.m * p.k);
  const f = new Float32Array(p.pairs.buffer, p.pairs.byteOffset, p.pairs.length);
  for (let i = 0; i < p.m; i++) {
    for (let t = 0; t < p.s; t++) {
      const o = 2 * (i * p.s + t);
      out[i * p.k + p.pairs[o + 1]] += f[o];
    }
  }
  return out;
}

/**
 * Checks packed metadata before a kernel reads it: lengths agree, every index is inside its
 * own group (so no kernel can read outside the input), no index repeats within a group.
 */
export function validateC4n(p: PackedC4n, what = "C4n weights"): void {
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  if (![1, 2, 3].includes(p.n)) throw fail(`n is ${p.n}, not 1, 2 or 3`);
  if (!(Number.isInteger(p.m) && p.m >= 0 && Number.isInteger(p.k) && p.k >= 0)) {
    throw fail(`bad shape ${p.m} x ${p.k}`);
  }
  if (p.s !== c4nSurvivors(p.k, p.n)) {
    throw fail(`${p.s} survivors per row, ${c4nSurvivors(p.k, p.n)} expected`);
  }
  if (p.pairs.length !== p.m * p.s * 2) {
    throw fail(`${p.pairs.length / 2} survivors stored, ${p.m * p.s} expected`);
  }
  const keep = 4 - p.n;
  const groups = Math.floor(p.k / 4);
  for (let i = 0; i < p.m; i++) {
    for (let t = 0; t < p.s; t++) {
      const idx = p.pairs[2 * (i * p.s + t) + 1];
      const g = t < groups * keep ? Math.floor(t / keep) : -1;
      const ok = g >= 0
        ? idx >= 4 * g && idx < 4 * g + 4
        : idx === groups * 4 + (t - groups * keep);
      if (!ok) throw fail(`row ${i} survivor ${t} has index ${idx}, outside its group`);
      if (g >= 0) {
        const first = 2 * (i * p.s + g * keep);
        for (let u = first; u < 2 * (i * p.s + t); u += 2) {
          if (p.pairs[u + 1] === idx) throw fail(`row ${i} repeats index ${idx}`);
        }
      }
    }
  }
}
