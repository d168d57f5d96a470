/**
 * C4,2 and C4,3 weights laid out for the matrix-vector kernels `f32_gemv_c4n2_xtab` and
 * `f32_gemv_c4n3_xtab` (kernels-as/c4n/f32_gemv_c4n_xtab.tmpl.ts explains the method).
 *
 * The groups of 4 along a row are taken as units holding 4 survivors (two groups for C4,2,
 * four for C4,3). The kernel builds, for each block of units, a table with one 16-byte entry
 * per unit and per way its survivors can sit; each unit of a row stores its 4 survivor values
 * and the u16 byte offset of its entry in the block's table. The k mod 4 trailing weights stay
 * dense.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

/** How one kernel cuts a row: groups per unit, table entries per unit, units per block. */
export interface C4nGemvShape {
  unitGroups: number;
  ways: number;
  blockUnits: number;
}

/** The kernels' shapes (they must match kernels-as/c4n/f32_gemv_c4n_xtab.tmpl.ts). */
export const C4N_GEMV_SHAPES: Readonly<Record<2 | 3, C4nGemvShape>> = {
  2: { unitGroups: 2, ways: 36, blockUnits: 16 },
  3: { unitGroups: 4, ways: 256, blockUnits: 8 },
};

/** The 6 ways 2 of 4 positions survive, numbered as the C4,2 kernel's table is. */
export const C4N2_PATTERNS: readonly (readonly [number, number])[] = [
  [0, 1],
  [0, 2],
  [0, 3],
  [1, 2],
  [1, 3],
  [2, 3],
];

/** Host-side packed C4n GEMV weights: the kernel's one buffer (see the kernel template). */
export interface PackedC4nGemv {
  /** Zeros per group of 4. */
  n: 2 | 3;
  m: number;
  k: number;
  /** Block by block, row by row: 4 f32 per unit then its u16 table offsets; then the tails. */
  bytes: Uint8Array;
}

/** Bytes of one row's record in a block of `units` units: values, offsets padded to 16. */
function recordBytes(units: number): number {
  return units * 16 + Math.ceil((units * 2) / 16) * 16;
}

/** Where block b's records start, and its unit count. */
function blockAt(m: number, units: number, blockUnits: number, b: number) {
  return {
    start: b * m * recordBytes(blockUnits),
    count: Math.min(blockUnits, units - b * blockUnits),
  };
}

/** Byte length of the packed buffer; the tails start at `length - 16 m`. */
export function c4nGemvBytes(m: number, k: number, n: 2 | 3): number {
  const units = c4nGemvUnits(k, n);
  const { blockUnits } = C4N_GEMV_SHAPES[n];
  const blocks = Math.ceil(units / blockUnits);
  let bytes = 16 * m;
  for (let b = 0; b < blocks; b++) bytes += m * recordBytes(blockAt(m, units, blockUnits, b).count);
  return bytes;
}

/** Units of 4 survivors per row. */
export function c4nGemvUnits(k: number, n: 2 | 3): number {
  return Math.ceil(Math.floor(k / 4) / C4N_GEMV_SHAPES[n].unitGroups);
}

/** Pattern id of one group of W: which 4 - n positions it keeps (zeros fill in first-free). */
function patternOf(w: Float32Array, o: number, n: 2 | 3, row: number, group: number): number {
  const nz = [0, 1, 2, 3].filter((j) => w[o + j] !== 0);
  if (nz.length > 4 - n) {
    throw new RangeError(
      `Cannot pack C4n GEMV weights: row ${row} group ${group} has ${nz.length} non-zeros`,
    );
  }
  const pos = [...nz];
  for (let j = 0; pos.length < 4 - n; j++) if (!pos.includes(j)) pos.push(j);
  pos.sort((a, b) => a - b);
  return n === 3 ? pos[0] : C4N2_PATTERNS.findIndex(([a, b]) => a === pos[0] && b === pos[1]);
}

/** In-group positions a pattern id keeps. */
function positionsOf(n: 2 | 3, id: number): readonly number[] {
  return n === 3 ? [id] : C4N2_PATTERNS[id];
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
  const { unitGroups, ways, blockUnits } = C4N_GEMV_SHAPES[n];
  const groups = Math.floor(k / 4);
  const units = c4nGemvUnits(k, n);
  const bytes = new Uint8Array(c4nGemvBytes(m, k, n));
  const view = new DataView(bytes.buffer);
  const keep = 4 - n;
  for (let b = 0; b * blockUnits < units; b++) {
    const { start, count } = blockAt(m, units, blockUnits, b);
    for (let i = 0; i < m; i++) {
      const rec = start + i * recordBytes(count);
      for (let u = 0; u < count; u++) {
        let way = 0;
        for (let h = 0; h < unitGroups; h++) {
          const g = (b * blockUnits + u) * unitGroups + h;
          const id = g < groups ? patternOf(w, i * ld + 4 * g, n, i, g) : 0;
          way = way * (n === 3 ? 4 : 6) + id;
          if (g >= groups) continue;
          const pos = positionsOf(n, id);
          for (let s = 0; s < keep; s++) {
            view.setFloat32(rec + u * 16 + (h * keep + s) * 4, w[i * ld + 4 * g + pos[s]], true);
          }
        }
        view.setUint16(rec + count * 16 + u * 2, u * ways * 16 + way * 16, true);
      }
    }
  }
  const tails = bytes.length - 16 * m;
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < k % 4; t++) {
      view.setFloat32(tails + (i * 4 + t) * 4, w[i * ld + groups * 4 + t], true);
    }
  }
  return { n, m, k, bytes };
}

/**
 * Rejects metadata a kernel could misread: lengths, and table offsets that are not an entry
 * of the unit's own slice of the table (so the kernel never reads outside its table).
 */
export function validateC4nGemv(p: PackedC4nGemv, what = `C4,${p.n} weights`): void {
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  if (p.n !== 2 && p.n !== 3) throw fail(`n is ${p.n}, 2 or 3 expected`);
  const want = c4nGemvBytes(p.m, p.k, p.n);
  if (p.bytes.length !== want) throw fail(`${p.bytes.length} bytes, ${want} expected`);
  const { ways, blockUnits } = C4N_GEMV_SHAPES[p.n];
  const units = c4nGemvUnits(p.k, p.n);
  const view = new DataView(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  for (let b = 0; b * blockUnits < units; b++) {
    const { start, count } = blockAt(p.m, units, blockUnits, b);
    for (let i = 0; i < p.m; i++) {
      const at = start + i * recordBytes(count) + count * 16;
      for (let u = 0; u < count; u++) {
        const o = view.getUint16(at + u * 2, true);
        if (o % 16 !== 0 || Math.floor(o / (ways * 16)) !== u) {
          throw fail(
            `row ${i}, unit ${b * blockUnits + u}: table offset ${o} is not an entry ` +
              `of its unit`,
          );
        }
      }
    }
  }
}
