// e^x for kernels whose loops are dominated by exponentials (the selective scan, the RNN
// gates), with its constants held in v128 globals.
//
// Why: binaryen folds f32x4.splat(constant) into every use, and V8 then rebuilds each v128
// constant at each use inside a loop (several instructions apiece). With 14 constants per
// exponential that made common/math.ts's exp4 cost 34-39 cycles per vector here, against
// 15-17 with the constants loaded once (measured). Values loaded from memory are opaque to
// binaryen, so a kernel calls loadExpConstants() once per call, before its loops.
//
// Method: n = round(x log2 e) by the 1.5 * 2^23 shifter, r = x - n ln2 (two-part ln2),
// e^r by the degree-6 polynomial of common/math.ts, 2^n from the shifter's low bits.
// x is clamped to [-87, 88] (pmin/pmax: one instruction each), relative error ~1.1e-7.
import { madd4 } from "../common/simd";

/** hi, lo, shifter, log2(e), -ln2 (high part), -ln2 (low part), P0..P5, 1, 2. */
const EXP_F = memory.data<f32>([
  88.0, -87.0, 12582912.0, 1.44269504088896341, -0.693359375, 2.12194440e-4,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1, 1.0, 2.0,
]);

/** Bits of the shifter minus the exponent bias: (t bits - this) << 23 is 2^n. */
const EXP_I = memory.data<i32>([0x4b400000 - 127]);

@lazy let HI = i32x4.splat(0);
@lazy let LO = i32x4.splat(0);
@lazy let SHIFT = i32x4.splat(0);
@lazy let LOG2E = i32x4.splat(0);
@lazy let LN2_HI = i32x4.splat(0);
@lazy let LN2_LO = i32x4.splat(0);
@lazy let P0 = i32x4.splat(0);
@lazy let P1 = i32x4.splat(0);
@lazy let P2 = i32x4.splat(0);
@lazy let P3 = i32x4.splat(0);
@lazy let P4 = i32x4.splat(0);
@lazy let P5 = i32x4.splat(0);
@lazy let BITS = i32x4.splat(0);
/** 1.0 in every lane, once loadExpConstants() ran. */
@lazy export let ONE = i32x4.splat(0);
/** 2.0 in every lane, once loadExpConstants() ran. */
@lazy export let TWO = i32x4.splat(0);

/** Loads the constants of expk4 (call once per kernel call, before the loops). */
export function loadExpConstants(): void {
  HI = v128.load32_splat(EXP_F);
  LO = v128.load32_splat(EXP_F, 4);
  SHIFT = v128.load32_splat(EXP_F, 8);
  LOG2E = v128.load32_splat(EXP_F, 12);
  LN2_HI = v128.load32_splat(EXP_F, 16);
  LN2_LO = v128.load32_splat(EXP_F, 20);
  P0 = v128.load32_splat(EXP_F, 24);
  P1 = v128.load32_splat(EXP_F, 28);
  P2 = v128.load32_splat(EXP_F, 32);
  P3 = v128.load32_splat(EXP_F, 36);
  P4 = v128.load32_splat(EXP_F, 40);
  P5 = v128.load32_splat(EXP_F, 44);
  ONE = v128.load32_splat(EXP_F, 48);
  TWO = v128.load32_splat(EXP_F, 52);
  BITS = v128.load32_splat(EXP_I);
}

/** e^x on four lanes (after loadExpConstants()). */
@inline export function expk4(x0: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(x0, HI), LO);
  const t = madd4(x, LOG2E, SHIFT);
  const n = f32x4.sub(t, SHIFT);
  let r = madd4(n, LN2_HI, x);
  r = madd4(n, LN2_LO, r);
  let p = madd4(P0, r, P1);
  p = madd4(p, r, P2);
  p = madd4(p, r, P3);
  p = madd4(p, r, P4);
  p = madd4(p, r, P5);
  p = madd4(p, f32x4.mul(r, r), f32x4.add(r, ONE));
  return f32x4.mul(p, i32x4.shl(i32x4.sub(t, BITS), 23));
}
