import { equal, ok } from "node:assert/strict";
import { magnitudeMask, type MaskShape } from "../../../engine/prune/masks.ts";
import { inputHessian, obsMask } from "../../../engine/prune/obs_mask.ts";
import { featureGram } from "../../../engine/prune/refit.ts";
import { maskError, SWAP_BLOCK, swapMask } from "../../../engine/prune/swap_mask.ts";
import { Random } from "../../_random.ts";

/**
 * K correlated features × cols columns: each feature leans on the one before it and every
 * third shares a common component, so OBS's left-to-right greedy choice is not the best.
 */
function correlated(rng: Random, k: number, cols: number): Float64Array {
  const shared = rng.floats(cols);
  const p = new Float64Array(k * cols);
  for (let i = 0; i < k; i++) {
    for (let c = 0; c < cols; c++) {
      p[i * cols + c] = rng.uniform() + (i % 3 === 0 ? shared[c] : 0) +
        (i > 0 ? 0.7 * p[(i - 1) * cols + c] : 0);
    }
  }
  return p;
}

/** Rows × K weights read through a transposed index, as a MatMul's [K, N] weight is. */
function transposed(rows: number, k: number): MaskShape {
  return { rows, k, index: (r, j) => j * rows + r };
}

Deno.test("swapMask never raises a row's error, keeps the scheme, and tracks E exactly", () => {
  const rng = new Random(21);
  let lowered = 0;
  for (const [rows, k] of [[5, 4], [6, 30], [4, 64], [3, 2]]) {
    const t = transposed(rows, k);
    const h = inputHessian(featureGram(correlated(rng, k, 300), k, 300), { centred: true });
    const w = rng.floats(rows * k);
    for (const n of [1, 2, 3]) {
      const where = `rows ${rows}, K ${k}, n ${n}`;
      const obs = obsMask(t, w, h, n);
      const { keep, errorBefore, errorAfter, swaps } = swapMask(t, w, h, obs, n);
      const before = maskError(t, w, h, obs);
      const after = maskError(t, w, h, keep);
      for (let r = 0; r < rows; r++) {
        const scale = Math.max(before[r], 1e-12);
        ok(after[r] <= before[r] * (1 + 1e-12), `${where}, row ${r}: ${after[r]} > ${before[r]}`);
        ok(Math.abs(errorBefore[r] - before[r]) < 1e-9 * scale, `${where}, row ${r}: before`);
        ok(Math.abs(errorAfter[r] - after[r]) < 1e-9 * scale, `${where}, row ${r}: after`);
        for (let g = 0; g + 4 <= k; g += 4) {
          const kept = keep.subarray(r * k + g, r * k + g + 4).reduce((s, v) => s + v, 0);
          equal(kept, 4 - n, `${where}: row ${r}, group ${g}`);
        }
        for (let j = k - (k % 4); j < k; j++) equal(keep[r * k + j], 1, `${where}: tail ${j}`);
      }
      if (swaps > 0) lowered++;
    }
  }
  ok(lowered >= 4, `swaps lowered the error in only ${lowered} cases`);
});

Deno.test("with H = I swapMask turns any C4n mask into the magnitude mask", () => {
  const rng = new Random(22);
  const [rows, k] = [4, 22];
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j };
  const identity = new Float64Array(k * k).map((_, i) => (i % (k + 1) === 0 ? 1 : 0));
  const w = rng.floats(rows * k);
  for (const n of [1, 2, 3]) {
    // Each group keeps its first 4 − n weights.
    const first = Uint8Array.from({ length: rows * k }, (_, i) => {
      const j = i % k;
      return j >= k - (k % 4) || j % 4 < 4 - n ? 1 : 0;
    });
    const { keep } = swapMask(t, w, identity, first, n, 1);
    const magnitude = magnitudeMask(t, w, n);
    ok(keep.every((v, i) => v === magnitude[i]), `n ${n}`);
  }
});

Deno.test("swapMask's incremental state stays exact over many swaps (K 384, two passes)", () => {
  const rng = new Random(23);
  const [rows, k] = [4, 384];
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j };
  const h = inputHessian(featureGram(correlated(rng, k, 600), k, 600), { centred: true });
  const w = rng.floats(rows * k);
  for (const n of [1, 2, 3]) {
    const { keep, errorAfter, swaps } = swapMask(t, w, h, obsMask(t, w, h, n), n);
    const after = maskError(t, w, h, keep);
    ok(swaps > 20, `n ${n}: ${swaps} swaps`);
    for (let r = 0; r < rows; r++) {
      ok(Math.abs(errorAfter[r] - after[r]) < 1e-9 * after[r], `n ${n}, row ${r}`);
    }
  }
});

Deno.test("swapMask cuts K past SWAP_BLOCK into blocks, the last one with the K % 4 tail", () => {
  const rng = new Random(24);
  const [rows, k] = [2, SWAP_BLOCK + 10];
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j };
  const h = inputHessian(featureGram(correlated(rng, k, 700), k, 700), { centred: true });
  const w = rng.floats(rows * k);
  const obs = obsMask(t, w, h, 2);
  const { keep, errorBefore, errorAfter } = swapMask(t, w, h, obs, 2, 1);
  const [before, after] = [maskError(t, w, h, obs), maskError(t, w, h, keep)];
  for (let r = 0; r < rows; r++) {
    ok(after[r] <= before[r] * (1 + 1e-12), `row ${r}: ${after[r]} > ${before[r]}`);
    ok(Math.abs(errorBefore[r] - before[r]) < 1e-9 * before[r], `row ${r}: before`);
    ok(Math.abs(errorAfter[r] - after[r]) < 1e-9 * after[r], `row ${r}: after`);
    for (let g = 0; g + 4 <= k; g += 4) {
      equal(keep.subarray(r * k + g, r * k + g + 4).reduce((s, v) => s + v, 0), 2, `group ${g}`);
    }
    for (let j = k - (k % 4); j < k; j++) equal(keep[r * k + j], 1, `row ${r}: tail ${j}`);
  }
});
