// Epilogue pass of the GEMM-based convolutions: residual add and activation over an output
// tile while it is still in cache.
import { activate1, activate4 } from "../common/activation";
import { CLAMP, NONE } from "../common/gen/activation_codes";

@inline function act4(x: v128, act: i32, p0: f32, p1: f32): v128 {
  if (act == CLAMP) return f32x4.min(f32x4.max(x, f32x4.splat(p0)), f32x4.splat(p1));
  return activate4(x, act, p0, p1);
}

/**
 * y = act(y + r) over m rows of n floats; y has row stride ldy, r row stride ldr (floats).
 * r == 0 means no residual (activation only).
 */
export function f32_addact_w4(
  m: i32, n: i32, y: usize, ldy: i32, r: usize, ldr: i32, act: i32, p0: f32, p1: f32,
): void {
  if (r == 0 && act == NONE) return;
  const ldy4 = <usize>ldy << 2;
  const ldr4 = <usize>ldr << 2;
  for (let i = 0; i < m; i++) {
    const yr = y + <usize>i * ldy4;
    const rr = r + <usize>i * ldr4;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      if (r != 0) {
        for (; j + 4 <= n; j += 4) {
          const o = <usize>j << 2;
          v128.store(yr + o, act4(f32x4.add(v128.load(yr + o), v128.load(rr + o)), act, p0, p1));
        }
      } else {
        for (; j + 4 <= n; j += 4) {
          const o = <usize>j << 2;
          v128.store(yr + o, act4(v128.load(yr + o), act, p0, p1));
        }
      }
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      const v = r != 0 ? load<f32>(yr + o) + load<f32>(rr + o) : load<f32>(yr + o);
      store<f32>(yr + o, activate1(v, act, p0, p1));
    }
  }
}
