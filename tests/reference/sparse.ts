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
