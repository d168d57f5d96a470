// e^x for the scan kernels, with its constants held in locals by the caller.
//
// Why: binaryen folds f32x4.splat(constant) into every use, and V8 then rebuilds each v128
// constant at each use inside the loop (several instructions apiece). With ~14 constants per
// exponential that tripled the cost of common/math.ts's exp4 in these kernels (measured:
// 34-39 cycles per vector against 16 with the constants loaded once). Loads from memory are
// opaque to binaryen, so a kernel reads EXP_F / EXP_I once per call and passes the values on.
//
// Method: n = round(x log2 e) by the 1.5 * 2^23 shifter, r = x - n ln2 (two-part ln2),
// e^r by the degree-6 polynomial of common/math.ts, 2^n from the shifter's low bits.
// x is clamped to [-87, 88] (pmin/pmax: one instruction each), relative error ~1.1e-7.
import { madd4 } from "../common/simd";

/** hi, lo, shifter, log2(e), -ln2 (high part), -ln2 (low part), P0..P5, 1. */
export const EXP_F = memory.data<f32>([
  88.0, -87.0, 12582912.0, 1.44269504088896341, -0.693359375, 2.12194440e-4,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1, 1.0,
]);

/** Bits of the shifter minus the exponent bias: (t bits - this) << 23 is 2^n. */
export const EXP_I = memory.data<i32>([0x4b400000 - 127]);

/** e^x with the constants of EXP_F (k0..k12) and EXP_I (ki) in locals. */
@inline export function expk4(
  x0: v128, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128, k6: v128, k7: v128,
  k8: v128, k9: v128, k10: v128, k11: v128, k12: v128, ki: v128,
): v128 {
  const x = f32x4.pmax(f32x4.pmin(x0, k0), k1);
  const t = madd4(x, k3, k2);
  const n = f32x4.sub(t, k2);
  let r = madd4(n, k4, x);
  r = madd4(n, k5, r);
  let p = madd4(k6, r, k7);
  p = madd4(p, r, k8);
  p = madd4(p, r, k9);
  p = madd4(p, r, k10);
  p = madd4(p, r, k11);
  p = madd4(p, f32x4.mul(r, r), f32x4.add(r, k12));
  return f32x4.mul(p, i32x4.shl(i32x4.sub(t, ki), 23));
}
