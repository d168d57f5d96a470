// Fused activation epilogue shared by GEMM, conv and elementwise kernels.
// Codes come from kernels-as/activations.ts through the generated constants.
import * as ACT from "./gen/activation_codes";
import {
  F_HALF,
  F_INV_6,
  F_ONE,
  kf,
  elu1,
  elu4,
  geluErf1,
  geluErf4,
  geluTanh1,
  geluTanh4,
  sigmoid1,
  sigmoid4,
  softplus1,
  softplus4,
  tanh1,
  tanh4,
} from "./math";

/** Applies activation `act` with parameters p0, p1 to four lanes. */
export function activate4(x: v128, act: i32, p0: f32, p1: f32): v128 {
  switch (act) {
    case ACT.CLAMP:
      return f32x4.pmin(f32x4.pmax(x, f32x4.splat(p0)), f32x4.splat(p1));
    case ACT.SILU:
      return f32x4.mul(x, sigmoid4(x));
    case ACT.GELU_ERF:
      return geluErf4(x);
    case ACT.GELU_TANH:
      return geluTanh4(x);
    case ACT.SIGMOID:
      return sigmoid4(x);
    case ACT.TANH:
      return tanh4(x);
    case ACT.LEAKYRELU: {
      const neg = f32x4.lt(x, f32x4.splat(0.0));
      return v128.bitselect(f32x4.mul(x, f32x4.splat(p0)), x, neg);
    }
    case ACT.HARDSIGMOID: {
      const y = f32x4.add(f32x4.mul(x, f32x4.splat(p0)), f32x4.splat(p1));
      return f32x4.pmin(f32x4.pmax(y, f32x4.splat(0.0)), kf(F_ONE));
    }
    case ACT.HARDSWISH: {
      const y = f32x4.add(f32x4.mul(x, kf(F_INV_6)), kf(F_HALF));
      return f32x4.mul(x, f32x4.pmin(f32x4.pmax(y, f32x4.splat(0.0)), kf(F_ONE)));
    }
    case ACT.HARDSWISH_AFFINE: {
      const y = f32x4.add(f32x4.mul(x, kf(F_INV_6)), kf(F_HALF));
      const h = f32x4.mul(x, f32x4.pmin(f32x4.pmax(y, f32x4.splat(0.0)), kf(F_ONE)));
      return f32x4.add(f32x4.mul(h, f32x4.splat(p0)), f32x4.splat(p1));
    }
    case ACT.SOFTPLUS:
      return softplus4(x);
    case ACT.ELU:
      return elu4(x, p0);
    default:
      return x;
  }
}

/** Scalar twin of activate4. */
export function activate1(x: f32, act: i32, p0: f32, p1: f32): f32 {
  switch (act) {
    case ACT.CLAMP:
      return Mathf.min(Mathf.max(x, p0), p1);
    case ACT.SILU:
      return x * sigmoid1(x);
    case ACT.GELU_ERF:
      return geluErf1(x);
    case ACT.GELU_TANH:
      return geluTanh1(x);
    case ACT.SIGMOID:
      return sigmoid1(x);
    case ACT.TANH:
      return tanh1(x);
    case ACT.LEAKYRELU:
      return x < 0 ? x * p0 : x;
    case ACT.HARDSIGMOID:
      return Mathf.min(Mathf.max(x * p0 + p1, 0.0), 1.0);
    case ACT.HARDSWISH:
      return x * Mathf.min(Mathf.max(x * <f32>(1.0 / 6.0) + 0.5, 0.0), 1.0);
    case ACT.HARDSWISH_AFFINE:
      return x * Mathf.min(Mathf.max(x * <f32>(1.0 / 6.0) + 0.5, 0.0), 1.0) * p0 + p1;
    case ACT.SOFTPLUS:
      return softplus1(x);
    case ACT.ELU:
      return elu1(x, p0);
    default:
      return x;
  }
}

/** Applies an activation in place to n floats at byte offset p. */
export function activateRange(p: usize, n: i32, act: i32, p0: f32, p1: f32): void {
  if (act == ACT.NONE) return;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const q = p + (<usize>i << 2);
      v128.store(q, activate4(v128.load(q), act, p0, p1));
    }
  }
  for (; i < n; i++) {
    const q = p + (<usize>i << 2);
    store<f32>(q, activate1(load<f32>(q), act, p0, p1));
  }
}
