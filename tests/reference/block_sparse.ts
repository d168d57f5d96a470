/**
 * Block column-row sparse weights for tests, written from the definition: W is cut into blocks
 * of br rows x bc columns; in each block a random subset of rows and a random subset of columns
 * is kept, and exactly the entries at kept (row, column) pairs are non-zero.
 */
import type { Random } from "../_random.ts";

/** Options of `blockSparseWeights`. */
export interface BlockSparseWeightOptions {
  /** Rows per block (default 16). */
  br?: number;
  /** Columns per block (default 256). */
  bc?: number;
  /** Fraction of each block's rows kept (rounded; default 0.5). */
  rowKeep?: number;
  /** Fraction of each block's columns kept (rounded; default 0.5). */
  colKeep?: number;
  /** Probability that a block keeps anything at all (default 1). */
  blockKeep?: number;
}

/** `count` distinct integers of [0, n), in increasing order. */
function choose(rng: Random, n: number, count: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = rng.int(i, n - 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/** m x k row-major weights, non-zero exactly on each block's kept rows x kept columns. */
export function blockSparseWeights(
  rng: Random,
  m: number,
  k: number,
  options: BlockSparseWeightOptions = {},
): Float32Array {
  const br = options.br ?? 16;
  const bc = options.bc ?? 256;
  const rowKeep = options.rowKeep ?? 0.5;
  const colKeep = options.colKeep ?? 0.5;
  const blockKeep = options.blockKeep ?? 1;
  const w = new Float32Array(m * k);
  for (let i0 = 0; i0 < m; i0 += br) {
    const rows = Math.min(br, m - i0);
    for (let j0 = 0; j0 < k; j0 += bc) {
      const cols = Math.min(bc, k - j0);
      if (rng.next() >= blockKeep) continue;
      const keptRows = choose(rng, rows, Math.round(rowKeep * rows));
      const keptCols = choose(rng, cols, Math.round(colKeep * cols));
      for (const r of keptRows) {
        for (const c of keptCols) {
          let v = rng.uniform();
          if (v === 0) v = 0.5;
          w[(i0 + r) * k + j0 + c] = v;
        }
      }
    }
  }
  return w;
}
