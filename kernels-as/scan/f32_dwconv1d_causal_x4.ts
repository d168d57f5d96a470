// Causal depthwise 1-D convolution over a token sequence with carried state (Mamba's conv1d).
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { SILU } from "../common/gen/activation_codes";
import { sigmoid1, sigmoid4 } from "../common/math";

/** Row pointers of the K taps for one token (the generic-K path). */
const TAPS = memory.data(64 * 4, 16);

@inline function act4(v: v128, act: i32): v128 {
  if (act == SILU) return f32x4.mul(v, sigmoid4(v));
  return activate4(v, act, 0, 0);
}

@inline function act1(v: f32, act: i32): f32 {
  if (act == SILU) return v * sigmoid1(v);
  return activate1(v, act, 0, 0);
}

/**
 * y[t][d] = act(bias[d] + sum_k w[k][d] * s[t + k][d]) for t < L, where s is the K-1 rows of
 * `state` followed by the L rows of x: token t sees itself and the K-1 inputs before it.
 * x: L rows of D floats, row stride ldx; w: tap-major [K][D]; bias: D floats or 0; state:
 * [K-1][D], replaced by the last K-1 rows of s; y: row stride ldy. act: a code from
 * kernels-as/activations.ts (parameterless ones: none, silu, sigmoid, tanh…). y must not
 * overlap x or state. K <= 64. L = 1 is the decode step.
 */
export function f32_dwconv1d_causal_x4(
  L: i32, D: i32, K: i32, x: usize, ldx: i32, w: usize, bias: usize, state: usize,
  y: usize, ldy: i32, act: i32,
): void {
  if (K == 4) conv4(L, D, x, ldx, w, bias, state, y, ldy, act);
  else convK(L, D, K, x, ldx, w, bias, state, y, ldy, act);
}

// K = 4 (every Mamba-1 model): per channel group the 3-row window and the 4 taps stay in
// registers across the whole sequence, so each output costs one input load; the window left
// at the end is the new state.
function conv4(
  L: i32, D: i32, x: usize, ldx: i32, w: usize, bias: usize, state: usize,
  y: usize, ldy: i32, act: i32,
): void {
  const row = <usize>D << 2;
  const ldx4 = <usize>ldx << 2;
  const ldy4 = <usize>ldy << 2;
  let d = 0;
  if (ASC_FEATURE_SIMD) {
    for (; d + 4 <= D; d += 4) {
      const o = <usize>d << 2;
      const w0 = v128.load(w + o);
      const w1 = v128.load(w + row + o);
      const w2 = v128.load(w + 2 * row + o);
      const w3 = v128.load(w + 3 * row + o);
      const b = bias != 0 ? v128.load(bias + o) : f32x4.splat(0);
      let s0 = v128.load(state + o);
      let s1 = v128.load(state + row + o);
      let s2 = v128.load(state + 2 * row + o);
      let xp = x + o;
      let yp = y + o;
      for (let t = 0; t < L; t++) {
        const xt = v128.load(xp);
        let acc = madd4(w0, s0, b);
        acc = madd4(w1, s1, acc);
        acc = madd4(w2, s2, acc);
        acc = madd4(w3, xt, acc);
        v128.store(yp, act != 0 ? act4(acc, act) : acc);
        s0 = s1;
        s1 = s2;
        s2 = xt;
        xp += ldx4;
        yp += ldy4;
      }
      v128.store(state + o, s0);
      v128.store(state + row + o, s1);
      v128.store(state + 2 * row + o, s2);
    }
  }
  for (; d < D; d++) {
    const o = <usize>d << 2;
    const w0 = load<f32>(w + o);
    const w1 = load<f32>(w + row + o);
    const w2 = load<f32>(w + 2 * row + o);
    const w3 = load<f32>(w + 3 * row + o);
    const b: f32 = bias != 0 ? load<f32>(bias + o) : 0;
    let s0 = load<f32>(state + o);
    let s1 = load<f32>(state + row + o);
    let s2 = load<f32>(state + 2 * row + o);
    let xp = x + o;
    let yp = y + o;
    for (let t = 0; t < L; t++) {
      const xt = load<f32>(xp);
      const acc = b + w0 * s0 + w1 * s1 + w2 * s2 + w3 * xt;
      store<f32>(yp, act1(acc, act));
      s0 = s1;
      s1 = s2;
      s2 = xt;
      xp += ldx4;
      yp += ldy4;
    }
    store<f32>(state + o, s0);
    store<f32>(state + row + o, s1);
    store<f32>(state + 2 * row + o, s2);
  }
}

// Any K: per token, the K tap rows come from the state or from x; then the state shifts.
function convK(
  L: i32, D: i32, K: i32, x: usize, ldx: i32, w: usize, bias: usize, state: usize,
  y: usize, ldy: i32, act: i32,
): void {
  const row = <usize>D << 2;
  const ldx4 = <usize>ldx << 2;
  const hist = K - 1;
  for (let t = 0; t < L; t++) {
    for (let k = 0; k < K; k++) {
      const j = t + k - hist;
      store<usize>(TAPS + (<usize>k << 2), j >= 0 ? x + <usize>j * ldx4 : state + <usize>(hist + j) * row);
    }
    const yp = y + <usize>t * (<usize>ldy << 2);
    let d = 0;
    if (ASC_FEATURE_SIMD) {
      for (; d + 4 <= D; d += 4) {
        const o = <usize>d << 2;
        let acc = bias != 0 ? v128.load(bias + o) : f32x4.splat(0);
        for (let k = 0; k < K; k++) {
          const tap = load<usize>(TAPS + (<usize>k << 2));
          acc = madd4(v128.load(w + <usize>k * row + o), v128.load(tap + o), acc);
        }
        v128.store(yp + o, act != 0 ? act4(acc, act) : acc);
      }
    }
    for (; d < D; d++) {
      const o = <usize>d << 2;
      let acc: f32 = bias != 0 ? load<f32>(bias + o) : 0;
      for (let k = 0; k < K; k++) {
        const tap = load<usize>(TAPS + (<usize>k << 2));
        acc += load<f32>(w + <usize>k * row + o) * load<f32>(tap + o);
      }
      store<f32>(yp + o, act1(acc, act));
    }
  }
  if (hist == 0) return;
  // The new state is the last K-1 rows of [state; x].
  const keep = hist - L;
  if (keep > 0) memory.copy(state, state + <usize>L * row, <usize>keep * row);
  const from = keep > 0 ? 0 : L - hist;
  for (let j = from; j < L; j++) {
    memory.copy(state + <usize>(hist - (L - j)) * row, x + <usize>j * ldx4, row);
  }
}
