import { equal, ok } from "node:assert/strict";
import { magnitudeMask, type MaskShape } from "../../../engine/prune/masks.ts";
import { inputHessian, inverseCholeskyUpper, obsMask } from "../../../engine/prune/obs_mask.ts";
import { type RefitRow, refitRows } from "../../../engine/prune/refit.ts";
import { Random } from "../../_random.ts";

/**
 * K features × cols columns: the first half a strong shared component plus a signal of its
 * own each, the second half near copies of the first half. Dropping a weight of the first
 * half costs almost nothing when its copy stays (the copy's weight takes it over); dropping
 * both copies loses the signal, which no refit of the others can bring back.
 */
function twinned(rng: Random, k: number, cols: number): Float64Array {
  const half = k / 2;
  const shared = rng.floats(cols);
  const p = new Float64Array(k * cols);
  for (let i = 0; i < half; i++) {
    const a = rng.uniform(0.5, 2);
    for (let c = 0; c < cols; c++) {
      const v = a * shared[c] + rng.uniform();
      p[i * cols + c] = v;
      p[(half + i) * cols + c] = v + 0.05 * rng.uniform();
    }
  }
  return p;
}

/** Rows × K weights read through a transposed index, as a MatMul's [K, N] weight is. */
function transposed(rows: number, k: number): MaskShape {
  return { rows, k, index: (r, j) => j * rows + r };
}

Deno.test("obsMask keeps exactly 4 − n of every full group of 4 and the whole K % 4 tail", () => {
  const rng = new Random(11);
  for (const [rows, k] of [[5, 4], [3, 13], [7, 30], [2, 1]]) {
    const t = transposed(rows, k);
    const h = inputHessian(twinned(rng, 2 * k, 64), k, 64);
    const w = rng.floats(rows * k);
    for (const n of [1, 2, 3]) {
      const keep = obsMask(t, w, h, n);
      equal(keep.length, rows * k);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g + 4 <= k; g += 4) {
          const kept = keep.subarray(r * k + g, r * k + g + 4).reduce((s, v) => s + v, 0);
          equal(kept, 4 - n, `rows ${rows}, K ${k}, n ${n}: row ${r}, group ${g}`);
        }
        for (let j = k - (k % 4); j < k; j++) equal(keep[r * k + j], 1, `tail ${r}, ${j}`);
      }
    }
  }
});

Deno.test("obsMask with H = I is the magnitude mask", () => {
  const rng = new Random(12);
  const [rows, k] = [9, 23];
  const t = transposed(rows, k);
  const w = rng.floats(rows * k);
  const identity = new Float64Array(k * k);
  for (let i = 0; i < k; i++) identity[i * k + i] = 1;
  for (const n of [1, 2, 3]) {
    ok(obsMask(t, w, identity, n).every((v, i) => v === magnitudeMask(t, w, n)[i]), `n ${n}`);
  }
});

Deno.test("inverseCholeskyUpper: U is upper triangular and Uᵀ U H = I", () => {
  const rng = new Random(13);
  const k = 17;
  const h = inputHessian(twinned(rng, 2 * k, 50), k, 50);
  const u = inverseCholeskyUpper(h, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) equal(u[i * k + j], 0);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      // (Uᵀ U H)_ij = Σ_m Σ_a U_mi U_ma H_aj
      let s = 0;
      for (let m = 0; m < k; m++) {
        let t = 0;
        for (let a = 0; a < k; a++) t += u[m * k + a] * h[a * k + j];
        s += u[m * k + i] * t;
      }
      ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `(${i}, ${j}): ${s}`);
    }
  }
});

Deno.test("on features with near copies, OBS masks leave a smaller error after the refit than magnitude", () => {
  const rng = new Random(14);
  const [rows, k, cols] = [24, 64, 400];
  const p = twinned(rng, k, cols);
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j };
  const w = rng.floats(rows * k);
  const bias = rng.floats(rows);
  // Activation-aware magnitude, as the pruner scores it: |w| × RMS of the feature.
  const rms = Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let c = 0; c < cols; c++) s += p[j * cols + c] ** 2;
    return Math.sqrt(s / cols);
  });
  const scores = w.map((v, i) => v * rms[i % k]);
  const h = inputHessian(p, k, cols, { centred: true });
  for (const n of [1, 2, 3]) {
    const errors = [magnitudeMask(t, scores, n), obsMask(t, w, h, n)].map((keep) => {
      const problems = Array.from({ length: rows }, (_, r): RefitRow => {
        const dense = new Float64Array(k + 1);
        const kp = new Uint8Array(k + 1);
        for (let j = 0; j < k; j++) [dense[j], kp[j]] = [w[r * k + j], keep[r * k + j]];
        [dense[k], kp[k]] = [bias[r], 1];
        return { dense, keep: kp };
      });
      const fits = refitRows({ features: k, cols, pruned: p, dense: p }, problems);
      // ‖y_fit − y_dense‖² / ‖y_dense‖², straight from the columns.
      let [err, norm] = [0, 0];
      fits.forEach((f, r) => {
        for (let c = 0; c < cols; c++) {
          let [yf, yd] = [f.row[k], bias[r]];
          for (let j = 0; j < k; j++) {
            yf += f.row[j] * p[j * cols + c];
            yd += w[r * k + j] * p[j * cols + c];
          }
          err += (yf - yd) ** 2;
          norm += yd ** 2;
        }
      });
      return Math.sqrt(err / norm);
    });
    const [magnitude, obs] = errors;
    console.log(n, obs, magnitude);
    ok(obs < 0.8 * magnitude, `n ${n}: OBS ${obs} vs magnitude ${magnitude}`);
  }
});
