// The machine's 128-bit ceiling, measured: 12 independent multiply-add chains per step with
// no memory traffic. bench/gemm.ts reports kernels as a fraction of it.
import { madd4 } from "../common/simd";

/**
 * Runs `steps` x 12 vector multiply-adds a = a * mul + add; returns a lane so the work is not
 * optimised away. mul and add come in as arguments: as constants, binaryen would fold them
 * into the loop and V8 would rebuild each v128 constant on every use.
 */
export function f32_fma_peak(steps: i32, mul: f32, add: f32): f32 {
  if (ASC_FEATURE_SIMD) {
    const m = f32x4.splat(mul);
    const c = f32x4.splat(add);
    let a0 = f32x4.splat(1.0), a1 = f32x4.splat(1.1), a2 = f32x4.splat(1.2), a3 = f32x4.splat(1.3);
    let a4 = f32x4.splat(1.4), a5 = f32x4.splat(1.5), a6 = f32x4.splat(1.6), a7 = f32x4.splat(1.7);
    let a8 = f32x4.splat(1.8), a9 = f32x4.splat(1.9), a10 = f32x4.splat(2.0), a11 = f32x4.splat(2.1);
    for (let i = 0; i < steps; i++) {
      a0 = madd4(a0, m, c); a1 = madd4(a1, m, c); a2 = madd4(a2, m, c); a3 = madd4(a3, m, c);
      a4 = madd4(a4, m, c); a5 = madd4(a5, m, c); a6 = madd4(a6, m, c); a7 = madd4(a7, m, c);
      a8 = madd4(a8, m, c); a9 = madd4(a9, m, c); a10 = madd4(a10, m, c); a11 = madd4(a11, m, c);
    }
    const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)),
      f32x4.add(f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)),
        f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
    return f32x4.extract_lane(s, 0);
  }
  let s: f32 = 1.0;
  for (let i = 0; i < steps; i++) s = s * mul + add;
  return s;
}
