/**
 * Pruning masks: which weights of a layer survive under each scheme. A layer is seen as rows
 * (outputs) × K (its reduction axis); `index` maps (row, k) to the element of the weight as the
 * layer reads it, so one mask function serves Conv (1-D and 2-D), MatMul, Gemm and LSTM.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** A weight seen as rows × K. */
export interface MaskShape {
  /** Output rows. */
  rows: number;
  /** Reduction length K. */
  k: number;
  /** Element (r, k) of the weight's data. */
  index: (r: number, k: number) => number;
  /** A 3x3 group-1 conv: k runs over input channels x 9 taps. */
  kernel3x3?: boolean;
}

/** A parsed pruning scheme. */
export type Scheme =
  | { kind: "c4n"; n: number; name: string }
  | { kind: "pattern"; removed: number; name: string }
  | { kind: "block"; keep: number; name: string };

/** Parses "c4n:<n>", "pattern[:<removed>]" or "block:<kept>". */
export function parseScheme(scheme: string): Scheme {
  const c4n = /^c4n:([123])$/.exec(scheme);
  if (c4n) return { kind: "c4n", n: Number(c4n[1]), name: scheme };
  const pattern = /^pattern(?::([0-9.]+))?$/.exec(scheme);
  const removed = pattern ? Number(pattern[1] ?? 0.3) : NaN;
  if (pattern && removed >= 0 && removed < 1) {
    return { kind: "pattern", removed, name: `pattern:${removed}` };
  }
  const block = /^block:([0-9.]+)$/.exec(scheme);
  const keep = block ? Number(block[1]) : NaN;
  if (block && keep > 0 && keep < 1) return { kind: "block", keep, name: scheme };
  throw new InvalidArgumentError(
    `Unknown pruning scheme "${scheme}": use c4n:1, c4n:2, c4n:3, pattern[:<removed ` +
      `fraction in [0, 1)>] or block:<kept fraction in (0, 1)>`,
  );
}

/** Keeps the 4 − n largest |w| of every full group of 4 in each row; returns the mask. */
export function magnitudeMask(t: MaskShape, w: Float32Array, n: number): Uint8Array {
  const keep = new Uint8Array(t.rows * t.k);
  for (let r = 0; r < t.rows; r++) {
    for (let g = 0; g + 4 <= t.k; g += 4) {
      const order = [0, 1, 2, 3].sort((a, b) =>
        Math.abs(w[t.index(r, g + b)]) - Math.abs(w[t.index(r, g + a)])
      );
      for (const j of order.slice(0, 4 - n)) keep[r * t.k + g + j] = 1;
    }
    for (let j = t.k - (t.k % 4); j < t.k; j++) keep[r * t.k + j] = 1;
  }
  return keep;
}

/**
 * The pattern library of a 3x3 conv (rows = filters, k = channels x 9): the 8 most common
 * "centre + 3 strongest taps" shapes over its kernels, as 9-bit tap masks (bit i = tap i,
 * row-major), most common first.
 */
export function patternLibrary(t: MaskShape, w: Float32Array): number[] {
  const counts = new Map<number, number>();
  for (let r = 0; r < t.rows; r++) {
    for (let c = 0; c < t.k / 9; c++) {
      const tap = (i: number) => Math.abs(w[t.index(r, c * 9 + i)]);
      const others = [0, 1, 2, 3, 5, 6, 7, 8].sort((a, b) => tap(b) - tap(a));
      const shape = (1 << 4) | (1 << others[0]) | (1 << others[1]) | (1 << others[2]);
      counts.set(shape, (counts.get(shape) ?? 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
}

/**
 * Pattern mask of a 3x3 conv (rows = filters, k = channels x 9): a library of the 8 most
 * common "centre + 3 strongest taps" shapes, each kernel on the library shape keeping most of
 * its squared magnitude, then the `removed` fraction of kernels with the least kept energy
 * dropped.
 */
export function patternMask(t: MaskShape, w: Float32Array, removed: number): Uint8Array {
  const kernels = t.rows * (t.k / 9);
  const tap = (q: number, i: number) => {
    const r = Math.floor(q / (t.k / 9));
    return w[t.index(r, (q % (t.k / 9)) * 9 + i)];
  };
  const library = patternLibrary(t, w);
  const choice = new Int32Array(kernels);
  const energy = new Float64Array(kernels);
  for (let q = 0; q < kernels; q++) {
    for (const shape of library) {
      let e = 0;
      for (let i = 0; i < 9; i++) if (shape & (1 << i)) e += tap(q, i) ** 2;
      if (e > energy[q] || choice[q] === 0) [energy[q], choice[q]] = [e, shape];
    }
  }
  const order = [...energy.keys()].sort((a, b) => energy[a] - energy[b]);
  const dropped = new Uint8Array(kernels);
  for (const q of order.slice(0, Math.round(removed * kernels))) dropped[q] = 1;
  const keep = new Uint8Array(t.rows * t.k);
  for (let q = 0; q < kernels; q++) {
    if (dropped[q]) continue;
    for (let i = 0; i < 9; i++) if (choice[q] & (1 << i)) keep[q * 9 + i] = 1;
  }
  return keep;
}

/**
 * Block column-row mask (rows = outputs, k = inputs): in every 16 x 256 block, the √keep
 * fraction of columns with the largest norm over the block's rows, then the √keep fraction of
 * rows with the largest norm over the kept columns.
 */
export function blockMask(t: MaskShape, w: Float32Array, keep: number): Uint8Array {
  const [br, bc] = [16, 256];
  const share = Math.sqrt(keep);
  const mask = new Uint8Array(t.rows * t.k);
  for (let r0 = 0; r0 < t.rows; r0 += br) {
    const rows = Math.min(br, t.rows - r0);
    for (let c0 = 0; c0 < t.k; c0 += bc) {
      const cols = Math.min(bc, t.k - c0);
      const colNorm = Array.from({ length: cols }, (_, j) => {
        let e = 0;
        for (let r = 0; r < rows; r++) e += w[t.index(r0 + r, c0 + j)] ** 2;
        return e;
      });
      const keptCols = [...colNorm.keys()].sort((a, b) => colNorm[b] - colNorm[a])
        .slice(0, Math.max(1, Math.round(share * cols)));
      const rowNorm = Array.from({ length: rows }, (_, r) => {
        let e = 0;
        for (const j of keptCols) e += w[t.index(r0 + r, c0 + j)] ** 2;
        return e;
      });
      const keptRows = [...rowNorm.keys()].sort((a, b) => rowNorm[b] - rowNorm[a])
        .slice(0, Math.max(1, Math.round(share * rows)));
      for (const r of keptRows) for (const j of keptCols) mask[(r0 + r) * t.k + c0 + j] = 1;
    }
  }
  return mask;
}

/** The keep mask of a target under a scheme. */
export function schemeMask(scheme: Scheme, t: MaskShape, w: Float32Array): Uint8Array {
  if (scheme.kind === "c4n") return magnitudeMask(t, w, scheme.n);
  if (scheme.kind === "pattern") return patternMask(t, w, scheme.removed);
  return blockMask(t, w, scheme.keep);
}
