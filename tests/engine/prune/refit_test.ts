import { ok } from "node:assert/strict";
import { type RefitRow, refitRows, solveCg, solveSpd } from "../../../engine/prune/refit.ts";
import { Random } from "../../_random.ts";

const rng = new Random(97);

/** F features × cols columns: a few latent factors plus noise, and a perturbed copy. */
function features(f: number, cols: number) {
  const latent = Array.from({ length: 6 }, () => rng.floats(cols));
  const dense = new Float64Array(f * cols);
  const pruned = new Float64Array(f * cols);
  for (let i = 0; i < f; i++) {
    const mix = rng.floats(6);
    for (let c = 0; c < cols; c++) {
      let s = 0.2 * rng.uniform();
      for (let k = 0; k < 6; k++) s += mix[k] * latent[k][c];
      dense[i * cols + c] = s;
      pruned[i * cols + c] = s + 0.05 * rng.uniform();
    }
  }
  return { features: f, cols, dense, pruned };
}

/** A row keeping 2 of every 4 weights (and its bias). */
function row(f: number): RefitRow {
  const dense = Float64Array.from({ length: f + 1 }, () => rng.uniform());
  const keep = Uint8Array.from({ length: f + 1 }, (_, i) => (i === f || i % 4 < 2 ? 1 : 0));
  return { dense, keep };
}

/** ‖w·[P; 1] − dense·[D; 1]‖², straight from the columns. */
function error(x: ReturnType<typeof features>, w: Float64Array, dense: Float64Array): number {
  let e = 0;
  for (let c = 0; c < x.cols; c++) {
    let yp = w[x.features];
    let yd = dense[x.features];
    for (let i = 0; i < x.features; i++) {
      yp += w[i] * x.pruned[i * x.cols + c];
      yd += dense[i] * x.dense[i * x.cols + c];
    }
    e += (yp - yd) ** 2;
  }
  return e;
}

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(a, b);

Deno.test("solveCg matches solveSpd on an SPD system; a truncated run only lowers the objective", () => {
  const n = 40;
  const a = rng.floats(n * n);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * a[j * n + k];
      A[i * n + j] = s;
    }
  }
  const b = Float64Array.from(rng.floats(n));
  const x0 = new Float64Array(n);
  const exact = solveSpd(A.slice(), b.slice(), n);
  const cg = solveCg(A, b, x0, n, 4 * n);
  for (let i = 0; i < n; i++) ok(Math.abs(cg[i] - exact[i]) < 1e-6, `x[${i}]`);
  const objective = (x: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let j = 0; j < n; j++) t += A[i * n + j] * x[j];
      s += 0.5 * x[i] * t - b[i] * x[i];
    }
    return s;
  };
  let last = objective(x0);
  for (const steps of [1, 3, 8]) {
    const next = objective(solveCg(A, b, x0, n, steps));
    ok(next < last, `${steps} steps: ${next} vs ${last}`);
    last = next;
  }
});

Deno.test("refitRows: errors agree with the columns, one row alone or among many, large rows by CG", () => {
  // 24 features: one row alone takes the per-row target path, 40 rows the Gram path.
  const x = features(24, 300);
  const rows = Array.from({ length: 40 }, () => row(24));
  const many = refitRows(x, rows);
  for (const [r, one] of [0, 17, 39].map((r) => [r, refitRows(x, [rows[r]])[0]] as const)) {
    const got = many[r];
    ok(close(one.errRefit, got.errRefit, 1e-9), `row ${r}: ${one.errRefit} vs ${got.errRefit}`);
    ok(close(got.errRefit, error(x, got.row, rows[r].dense), 1e-8), `row ${r}: refit error`);
    const magnitude = rows[r].dense.map((v, i) => (rows[r].keep[i] ? v : 0));
    ok(close(got.errMagnitude, error(x, magnitude, rows[r].dense), 1e-8), `row ${r}: magnitude`);
    ok(got.errRefit < 0.5 * got.errMagnitude, `row ${r}: ${got.errRefit} vs ${got.errMagnitude}`);
  }
  // 800 features, 401 kept: solved by conjugate gradients, close to the exact damped solve.
  const big = features(800, 900);
  const r = row(800);
  const [fit] = refitRows(big, [r]);
  ok(close(fit.errRefit, error(big, fit.row, r.dense), 1e-8));
  const S = [...r.keep.keys()].filter((i) => r.keep[i]);
  const m = S.length;
  const G = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  const col = (i: number, c: number) => (i === 800 ? 1 : big.pruned[i * big.cols + c]);
  for (let c = 0; c < big.cols; c++) {
    let y = r.dense[800];
    for (let i = 0; i < 800; i++) y += r.dense[i] * big.dense[i * big.cols + c];
    for (let a = 0; a < m; a++) {
      rhs[a] += col(S[a], c) * y;
      for (let b = 0; b <= a; b++) G[a * m + b] += col(S[a], c) * col(S[b], c);
    }
  }
  let trace = 0;
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < a; b++) G[b * m + a] = G[a * m + b];
    trace += G[a * m + a];
  }
  const lambda = 1e-2 * (trace / m);
  for (let a = 0; a < m; a++) {
    G[a * m + a] += lambda;
    rhs[a] += lambda * r.dense[S[a]];
  }
  const exact = solveSpd(G, rhs, m);
  const w = new Float64Array(801);
  S.forEach((i, a) => (w[i] = exact[a]));
  const best = error(big, w, r.dense);
  ok(fit.errRefit < 0.5 * fit.errMagnitude, `${fit.errRefit} vs ${fit.errMagnitude}`);
  ok(fit.errRefit < 1.05 * best, `CG ${fit.errRefit} vs exact ${best}`);
});
