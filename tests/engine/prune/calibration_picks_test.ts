/**
 * The refit reads a subset of a layer's calibration columns; the subset must cover every phase
 * of a regular grid (pixels of an upscaler repeat with period 2, 4…), not one of them.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { calibrationPicks } from "../../../engine/prune/prune.ts";

Deno.test("calibration picks: all when few; else one per stratum, every grid phase seen", () => {
  deepStrictEqual(calibrationPicks(5, 8), [0, 1, 2, 3, 4]);
  deepStrictEqual(calibrationPicks(8, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
  for (const [total, max] of [[4 * 4096, 4096], [3 * 1000, 1000], [4096 * 4 + 7, 4096], [97, 13]]) {
    const p = calibrationPicks(total, max);
    deepStrictEqual(p.length, max);
    for (let i = 0; i < max; i++) {
      // In its stratum, so spread over the whole range and strictly increasing.
      ok(p[i] >= Math.floor((i * total) / max) && p[i] < Math.floor(((i + 1) * total) / max));
    }
    if (max < 100) continue;
    for (const period of [2, 3, 4, 8]) {
      const seen = new Array(period).fill(0);
      for (const q of p) seen[q % period]++;
      for (const count of seen) {
        ok(
          Math.abs(count - max / period) < 0.2 * (max / period),
          `total ${total}, period ${period}: phases seen ${seen}`,
        );
      }
    }
  }
});
