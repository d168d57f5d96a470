/**
 * Float64 references of Mamba-1's sequence operations, written from the Mamba block's
 * equations (Gu & Dao 2023; the `mamba_simple` block): the causal depthwise conv1d with its
 * carried input history, and the selective scan
 *   h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t,  y_t = C_t · h_t + D x_t,  out_t = y_t silu(z_t).
 * Token-major layouts: x [L][D], B and C [L][N], states as documented per function.
 */

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const silu = (v: number) => v * sigmoid(v);
const softplus = (v: number) => (v > 30 ? v : Math.log1p(Math.exp(v)));

/** A causal conv1d case: K taps per channel. */
export interface ConvCase {
  /** Tokens, channels, taps. */
  L: number;
  D: number;
  K: number;
  /** x [L][D]. */
  x: Float32Array;
  /** Weights as PyTorch stores Conv1d(groups = D): [D][K], tap K-1 on the current token. */
  w: Float32Array;
  /** Bias [D]. */
  bias?: Float32Array;
  /** The K-1 inputs before x, oldest first: [K-1][D] (zeros when absent). */
  state?: Float32Array;
  /** Apply SiLU to the output. */
  silu?: boolean;
}

/** y [L][D] and the new state [K-1][D] (the last K-1 inputs of state then x). */
export function causalConv1dReference(c: ConvCase): { y: Float64Array; state: Float64Array } {
  const { L, D, K } = c;
  const hist = K - 1;
  // The padded input: the carried history then the new tokens.
  const at = (j: number, d: number) =>
    j < hist ? (c.state ? c.state[j * D + d] : 0) : c.x[(j - hist) * D + d];
  const y = new Float64Array(L * D);
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < D; d++) {
      let s = c.bias ? c.bias[d] : 0;
      for (let k = 0; k < K; k++) s += c.w[d * K + k] * at(t + k, d);
      y[t * D + d] = c.silu ? silu(s) : s;
    }
  }
  const state = new Float64Array(hist * D);
  for (let j = 0; j < hist; j++) {
    for (let d = 0; d < D; d++) state[j * D + d] = at(L + j, d);
  }
  return { y, state };
}

/** A selective scan case. */
export interface ScanCase {
  /** Tokens, channels, state size. */
  L: number;
  D: number;
  N: number;
  /** x, dt [L][D]. */
  x: Float32Array;
  dt: Float32Array;
  /** Added to dt before the optional softplus: [D]. */
  dtBias?: Float32Array;
  /** dt = softplus(dt + dtBias). */
  softplus?: boolean;
  /** A [D][N] (negative: -exp(A_log)). */
  A: Float32Array;
  /** B, C [L][N]. */
  B: Float32Array;
  C: Float32Array;
  /** The D skip [D]. */
  Dskip?: Float32Array;
  /** The gate z [L][D]. */
  z?: Float32Array;
  /** Initial state [D][N] (zeros when absent). */
  h0?: Float32Array;
}

/** Outputs [L][D] and the final state [D][N]. */
export function selectiveScanReference(c: ScanCase): { y: Float64Array; h: Float64Array } {
  const { L, D, N } = c;
  const h = new Float64Array(D * N);
  if (c.h0) h.set(c.h0);
  const y = new Float64Array(L * D);
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < D; d++) {
      let dt = c.dt[t * D + d] + (c.dtBias ? c.dtBias[d] : 0);
      if (c.softplus) dt = softplus(dt);
      const xv = c.x[t * D + d];
      let s = 0;
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        h[i] = Math.exp(dt * c.A[i]) * h[i] + dt * c.B[t * N + n] * xv;
        s += c.C[t * N + n] * h[i];
      }
      if (c.Dskip) s += c.Dskip[d] * xv;
      if (c.z) s *= silu(c.z[t * D + d]);
      y[t * D + d] = s;
    }
  }
  return { y, h };
}
