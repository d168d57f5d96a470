import { equal, ok } from "node:assert/strict";
import {
  magnitudeMask,
  type MaskShape,
  patternLibrary,
  patternMask,
} from "../../../engine/prune/masks.ts";
import {
  inputHessian,
  inverseCholeskyUpper,
  obsKernelDrops,
  obsMask,
  obsPatternLibrary,
  obsPatternMask,
} from "../../../engine/prune/obs_mask.ts";
import { featureGram, type RefitRow, refitRows } from "../../../engine/prune/refit.ts";
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
    const h = inputHessian(featureGram(twinned(rng, 2 * k, 64), k, 64));
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
  const h = inputHessian(featureGram(twinned(rng, 2 * k, 50), k, 50));
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

/**
 * ‖y_fit − y_dense‖ / ‖y_dense‖ over the columns after the pruner's refit of the kept
 * weights and the bias, the outputs computed straight from the columns.
 */
function refitError(
  p: Float64Array,
  cols: number,
  w: Float32Array,
  bias: Float32Array,
  keep: Uint8Array,
): number {
  const [rows, k] = [bias.length, w.length / bias.length];
  const problems = Array.from({ length: rows }, (_, r): RefitRow => {
    const dense = new Float64Array(k + 1);
    const kp = new Uint8Array(k + 1);
    for (let j = 0; j < k; j++) [dense[j], kp[j]] = [w[r * k + j], keep[r * k + j]];
    [dense[k], kp[k]] = [bias[r], 1];
    return { dense, keep: kp };
  });
  const fits = refitRows({ features: k, cols, pruned: p, dense: p }, problems);
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
}

/** |w| × RMS of its feature, as the pruner scores weights for magnitude masks. */
function activationScores(w: Float32Array, p: Float64Array, k: number, cols: number) {
  const rms = Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let c = 0; c < cols; c++) s += p[j * cols + c] ** 2;
    return Math.sqrt(s / cols);
  });
  return w.map((v, i) => v * rms[i % k]);
}

Deno.test("on features with near copies, OBS masks leave a smaller error after the refit than magnitude", () => {
  const rng = new Random(14);
  const [rows, k, cols] = [24, 64, 400];
  const p = twinned(rng, k, cols);
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j };
  const w = rng.floats(rows * k);
  const bias = rng.floats(rows);
  const scores = activationScores(w, p, k, cols);
  const h = inputHessian(featureGram(p, k, cols), { centred: true });
  for (const n of [1, 2, 3]) {
    const magnitude = refitError(p, cols, w, bias, magnitudeMask(t, scores, n));
    const obs = refitError(p, cols, w, bias, obsMask(t, w, h, n));
    ok(obs < 0.8 * magnitude, `n ${n}: OBS ${obs} vs magnitude ${magnitude}`);
  }
});

Deno.test("obsPatternMask takes a library shape per kernel (none when dropped); with H = I the energy choice", () => {
  const rng = new Random(15);
  const [rows, k] = [6, 9 * 5];
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j, kernel3x3: true };
  const w = rng.floats(rows * k);
  const library = patternLibrary(t, w);
  const dropped = Uint8Array.from({ length: rows * 5 }, () => (rng.next() < 0.3 ? 1 : 0));
  const keep = obsPatternMask(
    t,
    w,
    inputHessian(featureGram(twinned(rng, 2 * k, 80), k, 80)),
    library,
    dropped,
  );
  for (let q = 0; q < rows * 5; q++) {
    const shape = keep.subarray(q * 9, q * 9 + 9).reduce((s, v, i) => s | (v << i), 0);
    if (dropped[q]) equal(shape, 0, `kernel ${q} is dropped`);
    else ok(library.includes(shape), `kernel ${q}: shape ${shape.toString(2)} not in the library`);
  }
  const identity = new Float64Array(k * k).map((_, i) => (i % (k + 1) === 0 ? 1 : 0));
  const none = new Uint8Array(rows * 5);
  ok(obsPatternMask(t, w, identity, library, none).every((v, i) => v === patternMask(t, w, 0)[i]));
});

Deno.test("on features with near copies, OBS pattern masks leave a smaller error after the refit", () => {
  const rng = new Random(16);
  const [rows, k, cols] = [16, 9 * 8, 400];
  const p = twinned(rng, k, cols);
  const t: MaskShape = { rows, k, index: (r, j) => r * k + j, kernel3x3: true };
  const w = rng.floats(rows * k);
  const bias = rng.floats(rows);
  const scores = activationScores(w, p, k, cols);
  const h = inputHessian(featureGram(p, k, cols), { centred: true });
  const base = patternMask(t, scores, 0);
  const magnitude = refitError(p, cols, w, bias, base);
  const library = patternLibrary(t, scores);
  const obs = refitError(
    p,
    cols,
    w,
    bias,
    obsPatternMask(t, w, h, library, new Uint8Array(rows * 8)),
  );
  ok(obs < 0.8 * magnitude, `OBS ${obs} vs magnitude ${magnitude}`);
});

Deno.test("obsKernelDrops: with H = I the kernels of least energy; a kernel whose taps cancel on correlated inputs goes first", () => {
  const rng = new Random(404);
  const [rows, channels] = [3, 4];
  const k = 9 * channels;
  const t = { rows, k, index: (r: number, j: number) => r * k + j };
  const w = rng.floats(rows * k, -1, 1);
  const identity = new Float64Array(k * k).map((_, i) => (i % (k + 1) === 0 ? 1 : 0));
  const drops = obsKernelDrops(t, w, identity, 0.25);
  // Independently: the 3 of 12 kernels with the least squared magnitude.
  const energy = Array.from({ length: rows * channels }, (_, q) => {
    let e = 0;
    for (let i = 0; i < 9; i++) e += w[q * 9 + i] ** 2;
    return e;
  });
  const least = [...energy.keys()].sort((a, b) => energy[a] - energy[b]).slice(0, 3);
  equal(
    [...drops].map((d, q) => (d ? q : -1)).filter((q) => q >= 0).join(),
    least.sort((a, b) => a - b).join(),
  );

  // One filter, two channels. Channel 0's taps 0 and 1 see nearly the same feature, and its
  // kernel is +1 / −1 on them: large, but its output nearly cancels. Channel 1's kernel is
  // small and alone. Magnitude would drop channel 1; OBS drops channel 0.
  const t2 = { rows: 1, k: 18, index: (_r: number, j: number) => j };
  const w2 = new Float32Array(18);
  [w2[0], w2[1], w2[9]] = [1, -1, 0.3];
  const h = new Float64Array(18 * 18).map((_, i) => (i % 19 === 0 ? 1 : 0));
  [h[0 * 18 + 1], h[1 * 18 + 0]] = [0.999, 0.999];
  equal([...obsKernelDrops(t2, w2, h, 0.5)].join(), "1,0");
});

Deno.test("obsPatternLibrary: with H = I the shapes patternLibrary picks; near-copy taps change the vote", () => {
  const rng = new Random(405);
  // 2 filters x 2 channels: at most 4 kernels, so every voted shape is in both libraries.
  const t = { rows: 2, k: 18, index: (r: number, j: number) => r * 18 + j };
  const w = rng.floats(36, -1, 1);
  const identity = new Float64Array(18 * 18).map((_, i) => (i % 19 === 0 ? 1 : 0));
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b).join();
  equal(sorted(obsPatternLibrary(t, w, identity)), sorted(patternLibrary(t, w)));

  // One kernel; taps 0 and 1 see nearly the same feature. Magnitude keeps taps 0, 1, 2 (and
  // the centre); OBS lets tap 0 stand in for tap 1 and keeps 0, 2, 3.
  const t1 = { rows: 1, k: 9, index: (_r: number, j: number) => j };
  const w1 = new Float32Array([1, 0.9, 0.8, 0.7, 0.5, 0, 0, 0, 0]);
  const h = new Float64Array(81).map((_, i) => (i % 10 === 0 ? 1 : 0));
  [h[1], h[9]] = [0.999, 0.999];
  equal(patternLibrary(t1, w1).join(), String((1 << 0) | (1 << 1) | (1 << 2) | (1 << 4)));
  equal(obsPatternLibrary(t1, w1, h).join(), String((1 << 0) | (1 << 2) | (1 << 3) | (1 << 4)));
});
