/** Helpers for sparse tests: weights with exact C4n structure, made from random dense ones. */
import type { Random } from "../_random.ts";

/** m x k weights where every full group of 4 has exactly n zeros (random positions). */
export function c4nWeights(rng: Random, m: number, k: number, n: number): Float32Array {
  const w = rng.floats(m * k);
  for (let i = 0; i < m * k; i++) if (w[i] === 0) w[i] = 0.5;
  for (let i = 0; i < m; i++) {
    for (let g = 0; g + 4 <= k; g += 4) {
      const pos = [0, 1, 2, 3];
      for (let z = 0; z < n; z++) {
        const p = pos.splice(rng.int(0, pos.length - 1), 1)[0];
        w[i * k + g + p] = 0;
      }
    }
  }
  return w;
}

/**
 * m x c x 3 x 3 pattern-sparse weights: a library of `patterns` random 4-tap shapes that
 * include the centre; each kernel removed with probability `removed`, else one library
 * shape with random non-zero values; every 7th kept kernel loses one more tap (3 non-zeros).
 */
export function patternWeights(
  rng: Random,
  m: number,
  c: number,
  patterns: number,
  removed: number,
): Float32Array {
  const library: number[][] = [];
  while (library.length < patterns) {
    const taps = [4];
    while (taps.length < 4) {
      const t = rng.int(0, 8);
      if (!taps.includes(t)) taps.push(t);
    }
    library.push(taps);
  }
  const w = new Float32Array(m * c * 9);
  let kept = 0;
  for (let k = 0; k < m * c; k++) {
    if (rng.next() < removed) continue;
    const taps = library[rng.int(0, patterns - 1)];
    for (const t of taps) w[k * 9 + t] = rng.uniform(0.1, 1) * (rng.next() < 0.5 ? -1 : 1);
    if (++kept % 7 === 0) w[k * 9 + taps[rng.int(1, 3)]] = 0;
  }
  return w;
}
