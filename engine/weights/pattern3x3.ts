/**
 * Pattern-sparse 3x3 convolution weights: every kept 3x3 kernel (one input channel of one
 * filter) has at most 4 non-zeros, and all-zero kernels are removed (connectivity pruning).
 * Each kept kernel is stored as one pattern of exactly 4 tap positions from a per-layer
 * library (a kernel with fewer non-zeros takes a library pattern that covers it) plus its 4
 * values; a filter's kernels are sorted by pattern, so the kernel
 * (`f32_conv3x3_pattern_4x8`) runs one branch-free loop per run of equal patterns.
 *
 * @module
 */
import {
  PATTERN_TILE_COLS,
  PATTERN_TILE_ROWS,
  patternColumnWord,
  patternStripWords,
} from "../../kernels-as/conv/f32_conv3x3_pattern.tmpl.ts";
import { ModelFormatError } from "../errors.ts";
import { popcount } from "./popcount.ts";

/** Packed pattern-sparse weights, host side (layout documented in the kernel). */
export interface PackedPattern3x3 {
  /** Output channels (filters). */
  m: number;
  /** Input channels. */
  c: number;
  /** The library: 4 ascending tap positions (3 · dy + dx) per pattern. */
  patterns: Uint8Array;
  /** m + 1 pairs [first run, first kernel]. */
  filters: Int32Array;
  /** Pairs [pattern id, kernel count]. */
  runs: Int32Array;
  /** 5 words per kept kernel: input channel, then the 4 tap values as f32 bits. */
  kernels: Int32Array;
}

/** What a layer's 3x3 weights look like: null when some kernel has more than 4 non-zeros. */
export interface Pattern3x3Structure {
  /** Kept (not all-zero) kernels. */
  kept: number;
  /** Distinct non-zero position sets among the kept kernels. */
  shapes: number;
}

/** Non-zero positions of kernel (o, i) as a 9-bit mask. */
function nonZeroMask(w: Float32Array, c: number, o: number, i: number): number {
  let mask = 0;
  const base = (o * c + i) * 9;
  for (let t = 0; t < 9; t++) if (w[base + t] !== 0) mask |= 1 << t;
  return mask;
}

/** Checks W (m x c x 3 x 3) for pattern structure. */
export function detectPattern3x3(
  w: Float32Array,
  m: number,
  c: number,
): Pattern3x3Structure | null {
  let kept = 0;
  const shapes = new Set<number>();
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < c; i++) {
      const mask = nonZeroMask(w, c, o, i);
      if (mask === 0) continue;
      if (popcount(mask) > 4) return null;
      kept++;
      shapes.add(mask);
    }
  }
  return { kept, shapes: shapes.size };
}

/** A 4-tap pattern covering `mask`: a library pattern if one does, else centre first. */
function cover(mask: number, library: number[]): number {
  const found = library.find((p) => (p & mask) === mask);
  if (found !== undefined) return found;
  let p = mask;
  for (const t of [4, 0, 1, 2, 3, 5, 6, 7, 8]) if (popcount(p) < 4) p |= 1 << t;
  return p;
}

/** Packs W (m x c x 3 x 3, every kernel with ≤ 4 non-zeros). */
export function packPattern3x3(w: Float32Array, m: number, c: number): PackedPattern3x3 {
  if (w.length !== m * c * 9) {
    throw new RangeError(
      `Cannot pack pattern weights: ${w.length} weights for ${m} x ${c} x 3 x 3`,
    );
  }
  const masks = new Int32Array(m * c);
  const library: number[] = [];
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < c; i++) {
      const mask = nonZeroMask(w, c, o, i);
      if (popcount(mask) > 4) {
        throw new RangeError(
          `Cannot pack pattern weights: kernel (${o}, ${i}) has ${popcount(mask)} non-zeros`,
        );
      }
      masks[o * c + i] = mask;
      if (popcount(mask) === 4 && !library.includes(mask)) library.push(mask);
    }
  }
  for (const mask of masks) {
    if (mask !== 0 && popcount(mask) < 4) {
      const p = cover(mask, library);
      if (!library.includes(p)) library.push(p);
    }
  }
  const id = new Map(library.map((p, i) => [p, i]));
  const patterns = new Uint8Array(library.length * 4);
  library.forEach((p, j) => {
    let t = 0;
    for (let pos = 0; pos < 9; pos++) if (p & (1 << pos)) patterns[4 * j + t++] = pos;
  });
  const filters = new Int32Array((m + 1) * 2);
  const runs: number[] = [];
  const kernels: number[] = [];
  const bits = new Int32Array(1);
  const value = new Float32Array(bits.buffer);
  for (let o = 0; o < m; o++) {
    filters[2 * o] = runs.length / 2;
    filters[2 * o + 1] = kernels.length / 5;
    const own: [number, number][] = [];
    for (let i = 0; i < c; i++) {
      const mask = masks[o * c + i];
      if (mask !== 0) own.push([id.get(cover(mask, library))!, i]);
    }
    own.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [pid, i] of own) {
      if (runs.length === 2 * filters[2 * o] || runs[runs.length - 2] !== pid) runs.push(pid, 0);
      runs[runs.length - 1]++;
      kernels.push(i);
      for (let t = 0; t < 4; t++) {
        value[0] = w[(o * c + i) * 9 + patterns[4 * pid + t]];
        kernels.push(bits[0]);
      }
    }
  }
  filters[2 * m] = runs.length / 2;
  filters[2 * m + 1] = kernels.length / 5;
  return {
    m,
    c,
    patterns,
    filters,
    runs: Int32Array.from(runs),
    kernels: Int32Array.from(kernels),
  };
}

/** Dense m x c x 3 x 3 weights back from packed ones (exact). */
export function unpackPattern3x3(p: PackedPattern3x3): Float32Array {
  validatePattern3x3(p);
  const w = new Float32Array(p.m * p.c * 9);
  const values = new Float32Array(p.kernels.buffer, p.kernels.byteOffset, p.kernels.length);
  for (let o = 0; o < p.m; o++) {
    let k = p.filters[2 * o + 1];
    for (let r = p.filters[2 * o]; r < p.filters[2 * o + 2]; r++) {
      const pid = p.runs[2 * r];
      for (let q = 0; q < p.runs[2 * r + 1]; q++, k++) {
        const i = p.kernels[5 * k];
        for (let t = 0; t < 4; t++) {
          w[(o * p.c + i) * 9 + p.patterns[4 * pid + t]] = values[5 * k + 1 + t];
        }
      }
    }
  }
  return w;
}

/**
 * Checks packed metadata before a kernel reads it: lengths agree, offsets are monotonic,
 * pattern ids, tap positions and input channels are in range, so no kernel can read outside
 * its input.
 */
export function validatePattern3x3(p: PackedPattern3x3, what = "pattern 3x3 weights"): void {
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  if (!(Number.isInteger(p.m) && p.m >= 0 && Number.isInteger(p.c) && p.c >= 0)) {
    throw fail(`bad shape ${p.m} x ${p.c}`);
  }
  if (p.patterns.length % 4 !== 0) {
    throw fail(`${p.patterns.length} tap positions, not 4 per pattern`);
  }
  const count = p.patterns.length / 4;
  for (let j = 0; j < count; j++) {
    for (let t = 0; t < 4; t++) {
      const pos = p.patterns[4 * j + t];
      if (pos > 8 || (t > 0 && pos <= p.patterns[4 * j + t - 1])) {
        throw fail(`pattern ${j} has taps ${[...p.patterns.slice(4 * j, 4 * j + 4)].join(", ")}`);
      }
    }
  }
  if (p.filters.length !== 2 * (p.m + 1)) {
    throw fail(`${p.filters.length / 2} filter entries, ${p.m + 1} expected`);
  }
  if (p.filters[0] !== 0 || p.filters[1] !== 0) throw fail("the first filter does not start at 0");
  const runs = p.filters[2 * p.m];
  const kernels = p.filters[2 * p.m + 1];
  if (p.runs.length !== 2 * runs) throw fail(`${p.runs.length / 2} runs stored, ${runs} expected`);
  if (p.kernels.length !== 5 * kernels) {
    throw fail(`${p.kernels.length / 5} kernels stored, ${kernels} expected`);
  }
  for (let o = 0; o < p.m; o++) {
    const [r0, k0, r1, k1] = [
      p.filters[2 * o],
      p.filters[2 * o + 1],
      p.filters[2 * o + 2],
      p.filters[2 * o + 3],
    ];
    if (r1 < r0 || k1 < k0) throw fail(`filter ${o} has a negative run or kernel count`);
    let k = k0;
    for (let r = r0; r < r1; r++) {
      const pid = p.runs[2 * r];
      const n = p.runs[2 * r + 1];
      if (!(pid >= 0 && pid < count)) throw fail(`run ${r} uses pattern ${pid} of ${count}`);
      if (n < 0) throw fail(`run ${r} has ${n} kernels`);
      k += n;
    }
    if (k !== k1) throw fail(`filter ${o}'s runs hold ${k - k0} kernels, ${k1 - k0} expected`);
  }
  for (let k = 0; k < kernels; k++) {
    const i = p.kernels[5 * k];
    if (!(i >= 0 && i < p.c)) throw fail(`kernel ${k} reads input channel ${i} of ${p.c}`);
  }
}

/** Geometry of the input strips `x32_pad_pattern` writes for one image. */
export interface PatternStrips {
  /** Strips per channel: one per 8 output columns. */
  strips: number;
  /** Rows per strip: the tiles' input rows, past the last output row included. */
  rows: number;
  /** Words per strip row. */
  rowWords: number;
  /** Words per channel. */
  planeWords: number;
}

/**
 * Strip geometry for an output of oh x ow at stride s (1 or 2). The kernel computes whole
 * 4 x 8 tiles, so the strips cover ⌈oh / 4⌉ · 4 output rows and ⌈ow / 8⌉ · 8 columns.
 */
export function patternStrips(oh: number, ow: number, s: 1 | 2): PatternStrips {
  const tileRows = Math.ceil(oh / PATTERN_TILE_ROWS) * PATTERN_TILE_ROWS;
  const strips = Math.max(1, Math.ceil(ow / PATTERN_TILE_COLS));
  const rows = s * (tileRows - 1) + 3;
  const rowWords = patternStripWords(s);
  return { strips, rows, rowWords, planeWords: strips * rows * rowWords };
}

/**
 * Byte offsets of each pattern's 4 taps in a strip, from a tile's first output: tap (dy, dx)
 * sits dy rows down, at column `patternColumnWord(s, dx)`.
 */
export function patternTapOffsets(patterns: Uint8Array, s: 1 | 2): Int32Array {
  const rw = patternStripWords(s);
  return Int32Array.from(
    patterns,
    (pos) => 4 * (Math.floor(pos / 3) * rw + patternColumnWord(s, pos % 3)),
  );
}
