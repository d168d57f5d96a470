/**
 * C4,2 and C4,3 weights laid out for the matrix-vector kernels `f32_gemv_c4n2_swizzle` and
 * `f32_gemv_c4n3_swizzle` (kernels-as/c4n/f32_gemv_c4n_swizzle.tmpl.ts explains the method and
 * the layout).
 *
 * Rows are taken in blocks of 4 vectors. In each group of 4 inputs, a vector's lanes hold the
 * survivors of 4 rows (C4,3) or of 2 rows, 2 each (C4,2), and one byte per vector says which
 * input each lane multiplies. The k mod 4 trailing weights of each row stay dense.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import {
  SWIZZLE_QUAD_BYTES as QUAD_BYTES,
  swizzleBlockRows,
} from "../../kernels-as/c4n/_swizzle_layout.ts";

/** Host-side packed C4n GEMV weights: the kernel's one buffer (see the kernel template). */
export interface PackedC4nGemv {
  /** Zeros per group of 4. */
  n: 2 | 3;
  m: number;
  k: number;
  /** Row block by row block, quad of groups by quad: mask ids then values; then the tails. */
  bytes: Uint8Array;
}

/** Row blocks and quads of groups of an m x k weight. */
function gridOf(m: number, k: number, n: 2 | 3): { blocks: number; quads: number } {
  return {
    blocks: Math.ceil(m / swizzleBlockRows(n)),
    quads: Math.ceil(Math.floor(k / 4) / 4),
  };
}

/** Byte length of the packed buffer; the tails start at `length - 16 m`. */
export function c4nGemvBytes(m: number, k: number, n: 2 | 3): number {
  const { blocks, quads } = gridOf(m, k, n);
  return blocks * quads * QUAD_BYTES + 16 * m;
}

/**
 * The kept in-group positions of one group of W, 2 bits each, lowest first: the survivor's
 * position for C4,3 (0 for an all-zero group), the two survivors' for C4,2 (a group with fewer
 * takes the first free positions). Throws a RangeError naming a denser group.
 */
function keptPositions(w: Float32Array, o: number, n: 2 | 3, row: number, group: number): number {
  let count = 0;
  let first = -1;
  let second = -1;
  for (let j = 0; j < 4; j++) {
    if (w[o + j] === 0) continue;
    count++;
    if (first < 0) first = j;
    else second = j;
  }
  if (count > 4 - n) {
    throw new RangeError(
      `Cannot pack C4n GEMV weights: row ${row} group ${group} has ${count} non-zeros`,
    );
  }
  if (n === 3) return Math.max(first, 0);
  if (count === 2) return first | (second << 2);
  // One survivor or none: positions 0 and 1, or 0 and the survivor's.
  return first <= 0 ? 1 << 2 : first << 2;
}

/**
 * Packs W (m x k, row stride ld) in which every full group of 4 has at least n zeros.
 * Throws a RangeError naming the first group that does not.
 */
export function packC4nGemv(
  w: Float32Array,
  m: number,
  k: number,
  n: 2 | 3,
  ld = k,
): PackedC4nGemv {
  const rows = swizzleBlockRows(n);
  const groups = Math.floor(k / 4);
  const { blocks, quads } = gridOf(m, k, n);
  const bytes = new Uint8Array(c4nGemvBytes(m, k, n));
  const f32 = new Float32Array(bytes.buffer);
  const keep = 4 - n;
  const rowsPerVector = 4 / keep;
  for (let b = 0; b < blocks; b++) {
    for (let g = 0; g < groups; g++) {
      const quad = (b * quads + (g >> 2)) * QUAD_BYTES;
      const h = g & 3;
      for (let v = 0; v < 4; v++) {
        // The vector's lanes: rowsPerVector rows, keep survivors each; padding rows stay zero.
        const lane0 = (quad + 16 + 64 * h + 16 * v) / 4;
        let id = 0;
        for (let s = 0; s < rowsPerVector; s++) {
          const r = b * rows + rowsPerVector * v + s;
          if (r >= m) break;
          const o = r * ld + 4 * g;
          const kept = keptPositions(w, o, n, r, g);
          id |= kept << (2 * keep * s);
          for (let l = 0; l < keep; l++) f32[lane0 + keep * s + l] = w[o + ((kept >> (2 * l)) & 3)];
        }
        bytes[quad + 4 * h + v] = id;
      }
    }
  }
  const tails = bytes.length / 4 - 4 * m;
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < k % 4; t++) f32[tails + 4 * i + t] = w[i * ld + groups * 4 + t];
  }
  return { n, m, k, bytes };
}

/**
 * Rejects metadata a kernel could misread: the shape and the length. Every byte is a valid mask
 * id (2 bits per lane), so no id can make the kernel read outside its mask table or x's group.
 */
export function validateC4nGemv(p: PackedC4nGemv, what = `C4,${p.n} weights`): void {
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  if (p.n !== 2 && p.n !== 3) throw fail(`n is ${p.n}, 2 or 3 expected`);
  if (!Number.isInteger(p.m) || !Number.isInteger(p.k) || p.m < 0 || p.k < 0) {
    throw fail(`shape ${p.m} x ${p.k}`);
  }
  const want = c4nGemvBytes(p.m, p.k, p.n);
  if (p.bytes.length !== want) throw fail(`${p.bytes.length} bytes, ${want} expected`);
}
