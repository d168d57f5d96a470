/**
 * C4n masks chosen by optimal brain surgeon (OBS) error instead of magnitude, after SparseGPT
 * (Frantar & Alistarh 2023, Algorithm 1, N:M variant). A row's output error from a weight
 * change δ is δᵀHδ with H the Gram matrix of the layer's input features, so which weights
 * to drop depends on how the features correlate, not only on their size: a weight whose
 * feature the others can stand in for is cheap to drop even when it is large.
 *
 * The columns of a row are processed left to right in groups of 4. At the start of a group
 * the n weights of least OBS error w_j² / [U]_jj² are dropped, U being the upper Cholesky
 * factor of H⁻¹ (so [U]_jj² is [H⁻¹]_jj with the earlier columns frozen), and each dropped
 * weight's error is pushed onto the columns not yet processed (w ← w − (w_j / U_jj) · U_j,:),
 * so the next groups choose on the compensated weights. Only the mask is kept: the pruner's
 * least-squares refit then fits the survivors.
 *
 * @module
 */
import type { MaskShape } from "./masks.ts";
import { solveSpd } from "./refit.ts";

/**
 * Columns per OBS block. Larger K is cut into diagonal blocks of H (no compensation across
 * blocks): the factorization costs K³ and each row K², which for K = 3000 would be tens of
 * seconds per layer in JavaScript.
 */
const OBS_BLOCK = 1024;

/** Options of `inputHessian`. */
export interface InputHessianOptions {
  /** First feature (default 0): an LSTM's R reads the h part of [x; h]. */
  from?: number;
  /** Features (default all from `from` on). */
  k?: number;
  /**
   * Subtract the features' means (default false): right when the refit also fits a bias,
   * which absorbs any error that is constant over the columns.
   */
  centred?: boolean;
  /** Damping added to the diagonal, as a fraction of its mean (default 0.01). */
  damp?: number;
}

/**
 * The damped input Gram matrix H = P Pᵀ / cols + damp · mean(diag) · I (k × k, row-major)
 * from `featureGram` of the features P: what a row's output error δᵀHδ is measured with.
 *
 * @example
 * ```ts
 * import { inputHessian } from "./obs_mask.ts";
 * import { featureGram } from "./refit.ts";
 * const h = inputHessian(featureGram(new Float64Array([1, -1, 2, 2]), 2, 2), { damp: 0 });
 * console.log(h); // [1, 0, 0, 4]
 * ```
 */
export function inputHessian(
  gram: Float64Array,
  options: InputHessianOptions = {},
): Float64Array {
  const n = Math.round(Math.sqrt(gram.length));
  const f = n - 1;
  const from = options.from ?? 0;
  const k = options.k ?? f - from;
  const cols = Math.max(gram[f * n + f], 1);
  const mean = (i: number) => (options.centred ? gram[(from + i) * n + f] / cols : 0);
  const h = new Float64Array(k * k);
  let trace = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      h[i * k + j] = gram[(from + i) * n + from + j] / cols - mean(i) * mean(j);
    }
    trace += h[i * k + i];
  }
  const lambda = (options.damp ?? 0.01) * (trace / Math.max(k, 1)) + 1e-12;
  for (let i = 0; i < k; i++) h[i * k + i] += lambda;
  return h;
}

/**
 * The upper triangular U with H⁻¹ = Uᵀ U, for H symmetric positive definite (k × k,
 * row-major; not modified). H is factored as V Vᵀ with V upper (Cholesky run from the last
 * column back), so H⁻¹ = V⁻ᵀ V⁻¹ and U = V⁻¹: one factorization and one triangular inverse,
 * without forming H⁻¹.
 *
 * @example
 * ```ts
 * import { inverseCholeskyUpper } from "./obs_mask.ts";
 * console.log(inverseCholeskyUpper(new Float64Array([4, 0, 0, 1]), 2)); // [0.5, 0, 0, 1]
 * ```
 */
export function inverseCholeskyUpper(h: Float64Array, k: number): Float64Array {
  const v = new Float64Array(k * k);
  for (let j = k - 1; j >= 0; j--) {
    const vj = v.subarray(j * k, (j + 1) * k);
    let d = h[j * k + j];
    for (let m = j + 1; m < k; m++) d -= vj[m] * vj[m];
    const djj = Math.sqrt(Math.max(d, 1e-12 * Math.abs(h[j * k + j]) + 1e-300));
    vj[j] = djj;
    for (let i = 0; i < j; i++) {
      const vi = v.subarray(i * k, (i + 1) * k);
      let s = h[i * k + j];
      for (let m = j + 1; m < k; m++) s -= vi[m] * vj[m];
      vi[j] = s / djj;
    }
  }
  // vt = Vᵀ (lower), so that the inverse reads both operands along rows.
  const vt = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = i; j < k; j++) vt[j * k + i] = v[i * k + j];
  // U V = I, row by row: U_ic = −(Σ_{i≤m<c} U_im V_mc) / V_cc.
  const u = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const ui = u.subarray(i * k, (i + 1) * k);
    ui[i] = 1 / vt[i * k + i];
    for (let c = i + 1; c < k; c++) {
      const vc = vt.subarray(c * k, (c + 1) * k);
      let s = 0;
      for (let m = i; m < c; m++) s += ui[m] * vc[m];
      ui[c] = -s / vc[c];
    }
  }
  return u;
}

/**
 * The C4n keep mask (rows × K, 1 = kept) of weights `w` read through `t.index`, chosen by
 * OBS error on the input Gram matrix `hessian` (K × K, row-major, positive definite; see
 * `inputHessian`). Every full group of 4 along K keeps exactly 4 − n weights; the K % 4 tail
 * stays dense, as with `magnitudeMask`. With H = I it is the magnitude mask.
 *
 * @example
 * ```ts
 * import { obsMask } from "./obs_mask.ts";
 * const t = { rows: 1, k: 4, index: (_r: number, j: number) => j };
 * const identity = new Float64Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
 * console.log(obsMask(t, new Float32Array([0.1, -3, 2, 0.5]), identity, 2)); // [0, 1, 1, 0]
 * ```
 */
export function obsMask(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
  n: number,
): Uint8Array {
  const { rows, k } = t;
  const keep = new Uint8Array(rows * k);
  const full = k - (k % 4);
  for (let r = 0; r < rows; r++) {
    for (let j = full; j < k; j++) keep[r * k + j] = 1;
  }
  forEachBlock(hessian, k, full, 4, (b0, size, u) => {
    const row = new Float64Array(size);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < size; j++) row[j] = w[t.index(r, b0 + j)];
      for (let g = 0; g < size; g += 4) {
        const score = (j: number) => (row[g + j] / u[(g + j) * size + g + j]) ** 2;
        const order = [0, 1, 2, 3].sort((a, b) => score(a) - score(b));
        for (const j of order.slice(n)) keep[r * k + b0 + g + j] = 1;
        for (let j = g; j < g + 4; j++) {
          if (keep[r * k + b0 + j]) continue;
          // Drop w_j and let the later columns absorb it: δ = −(w_j / U_jj) U_j,:.
          const e = row[j] / u[j * size + j];
          const uj = u.subarray(j * size, (j + 1) * size);
          for (let m = j + 1; m < size; m++) row[m] -= e * uj[m];
          row[j] = 0;
        }
      }
    }
  });
  return keep;
}

/**
 * Pattern keep mask of a 3x3 conv (rows = filters, k = channels x 9 taps) by OBS error: each
 * row's kernels in order take the `library` shape (9-bit tap masks, see `patternLibrary`)
 * whose zeroed taps cost the least output error, compensated on the taps and kernels not yet
 * chosen; kernels marked in `dropped` (per filter, per channel) lose all 9 taps, compensated
 * alike.
 *
 * @example
 * ```ts
 * import { obsPatternMask } from "./obs_mask.ts";
 * const t = { rows: 1, k: 9, index: (_r: number, j: number) => j };
 * const identity = new Float64Array(81).map((_, i) => (i % 10 === 0 ? 1 : 0));
 * const w = new Float32Array([1, 0, 0, 0, 1, 0, 0, 1, 1]);
 * const keep = obsPatternMask(t, w, identity, [0b000010111, 0b110010001], new Uint8Array(1));
 * console.log(keep); // [1, 0, 0, 0, 1, 0, 0, 1, 1]
 * ```
 */
export function obsPatternMask(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
  library: readonly number[],
  dropped: Uint8Array,
): Uint8Array {
  const { rows, k } = t;
  const perRow = k / 9;
  const keep = new Uint8Array(rows * k);
  const taps = (mask: number) => [...Array(9).keys()].filter((i) => !(mask & (1 << i)));
  const candidates = library.map((shape) => ({ shape, zeroed: taps(shape) }));
  const all = [{ shape: 0, zeroed: taps(0) }];
  forEachBlock(hessian, k, k, 9, (b0, size, u) => {
    const row = new Float64Array(size);
    const uk = new Float64Array(81);
    const m9 = new Float64Array(81);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < size; j++) row[j] = w[t.index(r, b0 + j)];
      for (let a = 0; a < size; a += 9) {
        // H⁻¹ of the columns from this kernel on, restricted to its taps: Ukᵀ Uk.
        for (let i = 0; i < 9; i++) {
          for (let j = 0; j < 9; j++) uk[i * 9 + j] = u[(a + i) * size + a + j];
        }
        for (let i = 0; i < 9; i++) {
          for (let j = 0; j < 9; j++) {
            let s = 0;
            for (let m = 0; m <= Math.min(i, j); m++) s += uk[m * 9 + i] * uk[m * 9 + j];
            m9[i * 9 + j] = s;
          }
        }
        // Zeroing taps S costs w_Sᵀ (M_SS)⁻¹ w_S.
        let best = {
          shape: 0,
          zeroed: [] as number[],
          z: new Float64Array(0) as Float64Array,
          cost: Infinity,
        };
        const kernel = row.subarray(a, a + 9);
        for (const c of dropped[r * perRow + (b0 + a) / 9] ? all : candidates) {
          const { cost, z } = zeroTaps(m9, kernel, c.zeroed);
          if (cost < best.cost) best = { ...c, z, cost };
        }
        for (let i = 0; i < 9; i++) {
          if (best.shape & (1 << i)) keep[r * k + b0 + a + i] = 1;
        }
        // δw = −H⁻¹[:, S] z = −Uᵀ v with v = U[:, S] z, non-zero on this kernel's rows only.
        for (let m = 0; m < 9; m++) {
          let v = 0;
          best.zeroed.forEach((i, x) => (v += uk[m * 9 + i] * best.z[x]));
          if (v === 0) continue;
          const um = u.subarray((a + m) * size, (a + m + 1) * size);
          for (let c = a + m; c < size; c++) row[c] -= v * um[c];
        }
        for (const i of best.zeroed) row[a + i] = 0;
      }
    }
  });
  return keep;
}

/**
 * Which 3x3 kernels of a conv (rows = filters, k = channels x 9 taps) to remove, `removed`
 * of them, by OBS error: removing kernel q of a row costs w_qᵀ ([H⁻¹]_qq)⁻¹ w_q once the
 * row's other weights compensate (the refit does), [H⁻¹]_qq being H⁻¹'s 9 x 9 block of the
 * kernel's taps. Correlated taps matter: on smooth inputs a kernel whose taps cancel costs
 * little whatever its magnitude. Returns one flag per kernel (row-major: filter, channel).
 *
 * @example
 * ```ts
 * import { obsKernelDrops } from "./obs_mask.ts";
 * const t = { rows: 1, k: 18, index: (_r: number, j: number) => j };
 * const identity = new Float64Array(18 * 18).map((_, i) => (i % 19 === 0 ? 1 : 0));
 * const w = new Float32Array(18).map((_, j) => (j < 9 ? 0.1 : 1));
 * console.log(obsKernelDrops(t, w, identity, 0.5)); // [1, 0]: the weaker kernel goes
 * ```
 */
export function obsKernelDrops(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
  removed: number,
): Uint8Array {
  const { rows, k } = t;
  const perRow = k / 9;
  const cost = new Float64Array(rows * perRow);
  const all = [...Array(9).keys()];
  forEachKernelBlock(hessian, k, (c, inv) => {
    for (let r = 0; r < rows; r++) {
      cost[r * perRow + c] = zeroTaps(inv, kernelOf(t, w, r, c), all).cost;
    }
  });
  const order = [...cost.keys()].sort((x, y) => cost[x] - cost[y]);
  const dropped = new Uint8Array(cost.length);
  for (const q of order.slice(0, Math.round(removed * cost.length))) dropped[q] = 1;
  return dropped;
}

/**
 * The pattern library of a 3x3 conv by OBS error: every kernel votes for the shape (centre
 * and 3 other taps) whose 5 zeroed taps cost it the least, w_Sᵀ ([H⁻¹]_SS)⁻¹ w_S; the 8
 * shapes with the most votes. With H = I that is the shape keeping the 3 largest non-centre
 * taps, as `patternLibrary` picks.
 *
 * @example
 * ```ts
 * import { obsPatternLibrary } from "./obs_mask.ts";
 * const t = { rows: 1, k: 9, index: (_r: number, j: number) => j };
 * const identity = new Float64Array(81).map((_, i) => (i % 10 === 0 ? 1 : 0));
 * const w = new Float32Array([3, 0, 0, 0, 1, 0, 0, 2, 1]);
 * console.log(obsPatternLibrary(t, w, identity)); // [401]: taps 0, 4, 7, 8
 * ```
 */
export function obsPatternLibrary(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
): number[] {
  const shapes: { shape: number; zeroed: number[] }[] = [];
  for (let shape = 0; shape < 512; shape++) {
    let bits = 0;
    for (let i = 0; i < 9; i++) bits += (shape >> i) & 1;
    if (bits !== 4 || !(shape & (1 << 4))) continue;
    shapes.push({ shape, zeroed: [...Array(9).keys()].filter((i) => !(shape & (1 << i))) });
  }
  const votes = new Map<number, number>();
  forEachKernelBlock(hessian, t.k, (c, inv) => {
    for (let r = 0; r < t.rows; r++) {
      const kernel = kernelOf(t, w, r, c);
      let best = shapes[0];
      let least = Infinity;
      for (const s of shapes) {
        const { cost } = zeroTaps(inv, kernel, s.zeroed);
        if (cost < least) [least, best] = [cost, s];
      }
      votes.set(best.shape, (votes.get(best.shape) ?? 0) + 1);
    }
  });
  return [...votes].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 8).map((e) => e[0]);
}

/**
 * Calls `visit` with each input channel c of a 3x3 conv and [H⁻¹]_cc, the 9 x 9 block of H⁻¹
 * for its taps (row-major), from the U of H's diagonal blocks (see `forEachBlock`):
 * [H⁻¹]_cc = Σ_m U[m, c]ᵀ U[m, c] over the rows m of U up to the channel's last tap.
 */
function forEachKernelBlock(
  hessian: Float64Array,
  k: number,
  visit: (channel: number, inv: Float64Array) => void,
) {
  const inv = new Float64Array(81);
  forEachBlock(hessian, k, k, 9, (b0, size, u) => {
    for (let a = 0; a < size; a += 9) {
      inv.fill(0);
      for (let m = 0; m < a + 9; m++) {
        const um = u.subarray(m * size + a, m * size + a + 9);
        for (let i = 0; i < 9; i++) {
          if (um[i] === 0) continue;
          for (let j = 0; j < 9; j++) inv[i * 9 + j] += um[i] * um[j];
        }
      }
      visit((b0 + a) / 9, inv);
    }
  });
}

/** The 9 taps of filter r's kernel on input channel c. */
function kernelOf(t: MaskShape, w: Float32Array, r: number, c: number): Float64Array {
  return Float64Array.from({ length: 9 }, (_, i) => w[t.index(r, c * 9 + i)]);
}

/**
 * OBS cost of zeroing taps `zeroed` of a kernel (its 9 taps `kernel`, `inv` the 9 x 9 block
 * of H⁻¹ for them): w_Sᵀ (inv_SS)⁻¹ w_S, and z = (inv_SS)⁻¹ w_S, which sets the compensation.
 */
function zeroTaps(
  inv: Float64Array,
  kernel: ArrayLike<number>,
  zeroed: readonly number[],
): { cost: number; z: Float64Array } {
  const s = zeroed.length;
  const m = new Float64Array(s * s);
  const ws = new Float64Array(s);
  for (let x = 0; x < s; x++) {
    ws[x] = kernel[zeroed[x]];
    for (let y = 0; y < s; y++) m[x * s + y] = inv[zeroed[x] * 9 + zeroed[y]];
  }
  const z = solveSpd(m, ws.slice(), s);
  let cost = 0;
  for (let x = 0; x < s; x++) cost += ws[x] * z[x];
  return { cost, z };
}

/**
 * Calls `visit` with each diagonal block of H over the first `full` columns: its first
 * column, its size (at most OBS_BLOCK, a multiple of `group`) and its U (see
 * `inverseCholeskyUpper`).
 */
function forEachBlock(
  hessian: Float64Array,
  k: number,
  full: number,
  group: number,
  visit: (b0: number, size: number, u: Float64Array) => void,
) {
  const step = Math.max(group, OBS_BLOCK - (OBS_BLOCK % group));
  for (let b0 = 0; b0 < full; b0 += step) {
    const size = Math.min(step, full - b0);
    const hb = new Float64Array(size * size);
    for (let i = 0; i < size; i++) {
      hb.set(hessian.subarray((b0 + i) * k + b0, (b0 + i) * k + b0 + size), i * size);
    }
    visit(b0, size, inverseCholeskyUpper(hb, size));
  }
}
