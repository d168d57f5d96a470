/**
 * Damped least-squares refit of pruned rows. A layer's output row is y = w·f + b over
 * features f (conv patches, MatMul inputs, an LSTM's [x_t; h_t−1]). The target is the dense
 * row on the dense model's features D; the refit chooses the kept weights (and the bias) on
 * the pruned model's features P. Everything goes through the Gram matrices of [P; 1] and
 * [D; 1], built once per layer, so each row costs a small solve instead of a pass over the
 * calibration columns.
 *
 * @module
 */

/** Calibration features of one group of rows: F features × `cols` columns, row-major. */
export interface RefitFeatures {
  /** Feature count F (without the constant 1 of the bias). */
  features: number;
  /** Columns. */
  cols: number;
  /** Pruned-model features [F][cols]. */
  pruned: Float64Array;
  /** Dense-model features [F][cols]. */
  dense: Float64Array;
  /** `featureGram` of the pruned features, when already computed. */
  gram?: Float64Array;
}

/** One row to refit: its dense weights and bias, and which of them may stay non-zero. */
export interface RefitRow {
  /** Dense weights (F) then the bias (0 when the layer has none). */
  dense: Float64Array;
  /** Per weight, then the bias: 1 where the refit may use it. */
  keep: Uint8Array;
}

/** The refit of one row and its squared errors against the dense output. */
export interface RefitResult {
  /** Chosen weights then bias: the refit where it beats magnitude pruning, else the latter. */
  row: Float64Array;
  /** ‖y_magnitude − y_dense‖² over the columns. */
  errMagnitude: number;
  /** ‖y_chosen − y_dense‖². */
  errRefit: number;
  /** ‖y_dense‖². */
  norm: number;
}

/** Gram matrices of [A; 1] with [B; 1]: (F + 1)², row-major. */
function gram(a: Float64Array, b: Float64Array, f: number, cols: number, sym: boolean) {
  const n = f + 1;
  const g = new Float64Array(n * n);
  for (let i = 0; i < f; i++) {
    let sa = 0;
    let sb = 0;
    for (let c = 0; c < cols; c++) {
      sa += a[i * cols + c];
      sb += b[i * cols + c];
    }
    g[i * n + f] = sa;
    g[f * n + i] = sb;
  }
  g[f * n + f] = cols;
  // Four rows of A per pass over B: the features are megabytes, and reading all of B once
  // per row of A was memory-bound.
  const row = (m: Float64Array, i: number) => m.subarray(i * cols, (i + 1) * cols);
  for (let i0 = 0; i0 < f; i0 += 4) {
    const rows = Math.min(4, f - i0);
    const [a0, a1, a2, a3] = [0, 1, 2, 3].map((d) => row(a, i0 + (d < rows ? d : 0)));
    for (let j = sym ? i0 : 0; j < f; j++) {
      const bj = row(b, j);
      let [s0, s1, s2, s3] = [0, 0, 0, 0];
      for (let c = 0; c < cols; c++) {
        const v = bj[c];
        s0 += a0[c] * v;
        s1 += a1[c] * v;
        s2 += a2[c] * v;
        s3 += a3[c] * v;
      }
      const sums = [s0, s1, s2, s3];
      for (let d = 0; d < rows; d++) {
        const i = i0 + d;
        if (sym && j < i) continue;
        g[i * n + j] = sums[d];
        if (sym) g[j * n + i] = sums[d];
      }
    }
  }
  return g;
}

/**
 * The Gram matrix of [P; 1] for features P [F][cols] (row-major): (F + 1)², the feature sums
 * in the last row and column and `cols` in the corner. The refit and the OBS masks both
 * start from it, so a layer computes it once (`RefitFeatures.gram`).
 */
export function featureGram(p: Float64Array, f: number, cols: number): Float64Array {
  return gram(p, p, f, cols, true);
}

/**
 * Cholesky factor of the symmetric positive definite n × n matrix A, in place: A = L Lᵀ with L
 * left in the lower triangle (the upper one is not touched). A pivot below `floor` is raised to
 * it, so a singular A factors instead of producing NaN.
 *
 * @example
 * ```ts
 * import { choleskyInPlace } from "./refit.ts";
 * const a = new Float64Array([4, 2, 2, 5]);
 * choleskyInPlace(a, 2, 1e-12);
 * console.log(a[0], a[2], a[3]); // 2 1 2
 * ```
 */
export function choleskyInPlace(A: Float64Array, n: number, floor: number): void {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
    const l = Math.sqrt(Math.max(d, floor));
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / l;
    }
  }
}

/** Solves the symmetric positive definite system A x = b (Cholesky, A overwritten). */
export function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  choleskyInPlace(A, n, 1e-12);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= A[i * n + k] * y[k];
    y[i] = s / A[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= A[k * n + i] * y[k];
    y[i] = s / A[i * n + i];
  }
  return y;
}

/** vᵀ G v over the (F + 1)² matrix G. */
function quad(g: Float64Array, v: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    let t = 0;
    for (let j = 0; j < n; j++) t += g[i * n + j] * v[j];
    s += v[i] * t;
  }
  return s;
}

/**
 * Preconditioned (Jacobi) conjugate gradients on the symmetric positive definite system
 * A x = b, from `x0`, for at most `steps` steps. Each step lowers ½xᵀAx − bᵀx, so a
 * truncated run is still a partial refit that only improves on its start.
 */
export function solveCg(
  A: Float64Array,
  b: Float64Array,
  x0: Float64Array,
  n: number,
  steps: number,
): Float64Array {
  const x = Float64Array.from(x0);
  const r = new Float64Array(n);
  const z = new Float64Array(n);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const mul = (v: Float64Array, out: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) s += A[row + j] * v[j];
      out[i] = s;
    }
  };
  mul(x, q);
  let bb = 0;
  let rz = 0;
  for (let i = 0; i < n; i++) {
    r[i] = b[i] - q[i];
    z[i] = r[i] / A[i * n + i];
    p[i] = z[i];
    rz += r[i] * z[i];
    bb += b[i] * b[i];
  }
  for (let step = 0; step < steps; step++) {
    mul(p, q);
    let pq = 0;
    for (let i = 0; i < n; i++) pq += p[i] * q[i];
    if (!(pq > 0)) break;
    const alpha = rz / pq;
    let rr = 0;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
      rr += r[i] * r[i];
    }
    if (rr <= 1e-24 * bb) break;
    let next = 0;
    for (let i = 0; i < n; i++) {
      z[i] = r[i] / A[i * n + i];
      next += r[i] * z[i];
    }
    const beta = next / rz;
    rz = next;
    for (let i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
  }
  return x;
}

/**
 * Kept weights per row above which the refit runs conjugate gradients instead of Cholesky:
 * Cholesky costs m³/6 per row (PP-OCRv4 rec's neck conv: 60 rows of 1440 kept weights took
 * 40 s), CG_STEPS steps cost CG_STEPS·m².
 */
const CHOLESKY_MAX = 384;
/** Conjugate gradient steps per row for larger rows. */
const CG_STEPS = 32;

/**
 * What each row must match: `rhs` = [P; 1]·y and `norm` = ‖y‖² with y = dense·[D; 1] the
 * dense row's output. Through the Gram matrices of [D; 1] and [P; 1] × [D; 1] when there are
 * many rows for few features, else from y itself (2·F·cols per row instead of 1.5·F²·cols).
 */
function targets(
  x: RefitFeatures,
  rows: readonly RefitRow[],
): { rhs: Float64Array; norm: number }[] {
  const f = x.features;
  const n = f + 1;
  const cols = x.cols;
  if (2 * rows.length >= 1.5 * n) {
    const gd = gram(x.dense, x.dense, f, cols, true);
    const cross = gram(x.pruned, x.dense, f, cols, false);
    return rows.map(({ dense }) => {
      const rhs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) if (dense[j] !== 0) s += cross[i * n + j] * dense[j];
        rhs[i] = s;
      }
      return { rhs, norm: Math.max(0, quad(gd, dense, n)) };
    });
  }
  const y = new Float64Array(cols);
  return rows.map(({ dense }) => {
    y.fill(dense[f]);
    for (let j = 0; j < f; j++) {
      const w = dense[j];
      if (w === 0) continue;
      const d = x.dense.subarray(j * cols, (j + 1) * cols);
      for (let c = 0; c < cols; c++) y[c] += w * d[c];
    }
    const rhs = new Float64Array(n);
    let norm = 0;
    for (let c = 0; c < cols; c++) {
      rhs[f] += y[c];
      norm += y[c] * y[c];
    }
    for (let i = 0; i < f; i++) {
      const p = x.pruned.subarray(i * cols, (i + 1) * cols);
      let s = 0;
      for (let c = 0; c < cols; c++) s += p[c] * y[c];
      rhs[i] = s;
    }
    return { rhs, norm };
  });
}

/**
 * Refits each row on its kept weights (plus the bias where kept) so that w·P + b matches the
 * dense row's w·D + b in least squares, damped toward the magnitude-pruned row by 1 % of the
 * mean diagonal. Rows of more than CHOLESKY_MAX kept weights are solved approximately (a
 * truncated conjugate gradient run from the magnitude-pruned row). A row keeps its
 * magnitude-pruned weights when the refit does not lower its error.
 */
export function refitRows(x: RefitFeatures, rows: readonly RefitRow[]): RefitResult[] {
  const f = x.features;
  const n = f + 1;
  const gp = x.gram ?? gram(x.pruned, x.pruned, f, x.cols, true);
  const goals = targets(x, rows);
  return rows.map(({ dense, keep }, r) => {
    const { rhs, norm } = goals[r];
    const err = (v: Float64Array) => {
      let lin = 0;
      for (let i = 0; i < n; i++) lin += v[i] * rhs[i];
      return Math.max(0, quad(gp, v, n) - 2 * lin + norm);
    };
    const magnitude = dense.map((v, i) => (keep[i] || i === f ? v : 0));
    const errMagnitude = err(magnitude);
    const S = [...keep.keys()].filter((i) => keep[i]);
    const m = S.length;
    if (m === 0) return { row: magnitude, errMagnitude, errRefit: errMagnitude, norm };
    const G = new Float64Array(m * m);
    const b = new Float64Array(m);
    let trace = 0;
    for (let a = 0; a < m; a++) {
      for (let c = 0; c < m; c++) G[a * m + c] = gp[S[a] * n + S[c]];
      b[a] = rhs[S[a]];
      trace += G[a * m + a];
    }
    // Damped toward the magnitude-pruned weights, not toward zero: a feature the calibration
    // never excites (a dead ReLU channel) keeps its weight instead of losing it.
    const lambda = 1e-2 * (trace / m) + 1e-12;
    for (let a = 0; a < m; a++) {
      G[a * m + a] += lambda;
      b[a] += lambda * magnitude[S[a]];
    }
    const sol = m <= CHOLESKY_MAX
      ? solveSpd(G, b, m)
      : solveCg(G, b, Float64Array.from(S, (i) => magnitude[i]), m, CG_STEPS);
    const fit = new Float64Array(n);
    if (!keep[f]) fit[f] = dense[f];
    S.forEach((i, s) => (fit[i] = sol[s]));
    const errFit = err(fit);
    return errFit < errMagnitude
      ? { row: fit, errMagnitude, errRefit: errFit, norm }
      : { row: magnitude, errMagnitude, errRefit: errMagnitude, norm };
  });
}
