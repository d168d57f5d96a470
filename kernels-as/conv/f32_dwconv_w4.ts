// Depthwise convolution for any kernel size, stride, dilation and padding: the fallback of
// the fixed-shape kernels in gen/. Accumulates tap by tap into the (L1-resident) output row,
// vectorised along the width when the stride is 1.
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { CLAMP, NONE } from "../common/gen/activation_codes";
import { zeroRowFloats } from "./_dwrows";

@inline function act4(x: v128, act: i32, p0: f32, p1: f32): v128 {
  if (act == CLAMP) return f32x4.min(f32x4.max(x, f32x4.splat(p0)), f32x4.splat(p1));
  return activate4(x, act, p0, p1);
}

@inline function floorDiv(a: i32, b: i32): i32 {
  const q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/** Scratch bytes the fixed-shape kernels f32_dwconv{k}x{k}s{s}_* need for inputs w wide. */
export function f32_dwconv_scratch_size(w: i32): usize {
  return <usize>zeroRowFloats(w) << 2;
}

/**
 * Depthwise convolution over `channels` output planes (kernel kh x kw, strides sh/sw,
 * dilations dh/dw, top/left padding pt/pl): output channel c reads input plane c / mult,
 * weights[c] (kh*kw floats), bias[c] (0: none), adds residual[c] (0: none), then activates.
 */
export function f32_dwconv_w4(
  channels: i32, mult: i32, x: usize, h: i32, w: i32, y: usize, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
  weights: usize, bias: usize, residual: usize, act: i32, p0: f32, p1: f32,
): void {
  const plane = <usize>h * <usize>w << 2;
  const oplane = <usize>oh * <usize>ow << 2;
  const ow4 = <usize>ow << 2;
  const w4 = <usize>w << 2;
  const kk = kh * kw;
  for (let ch = 0; ch < channels; ch++) {
    const xc = x + <usize>(ch / mult) * plane;
    const yc = y + <usize>ch * oplane;
    const wc = weights + (<usize>(ch * kk) << 2);
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>ch << 2)) : 0;
    for (let oy = 0; oy < oh; oy++) {
      const yr = yc + <usize>oy * ow4;
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const vb = f32x4.splat(b);
        for (; i + 4 <= ow; i += 4) v128.store(yr + (<usize>i << 2), vb);
      }
      for (; i < ow; i++) store<f32>(yr + (<usize>i << 2), b);
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= h) continue;
        const xr = xc + <usize>iy * w4;
        for (let kx = 0; kx < kw; kx++) {
          const wt = load<f32>(wc + (<usize>(ky * kw + kx) << 2));
          const off = kx * dw - pl;
          const lo = max(0, floorDiv(-off + sw - 1, sw));
          const hi = min(ow, floorDiv(w - 1 - off, sw) + 1);
          let ox = lo;
          if (sw == 1) {
            if (ASC_FEATURE_SIMD) {
              const vw = f32x4.splat(wt);
              for (; ox + 4 <= hi; ox += 4) {
                const yo = yr + (<usize>ox << 2);
                v128.store(yo, madd4(vw, v128.load(xr + (<usize>(ox + off) << 2)), v128.load(yo)));
              }
            }
            for (; ox < hi; ox++) {
              const yo = yr + (<usize>ox << 2);
              store<f32>(yo, load<f32>(yo) + wt * load<f32>(xr + (<usize>(ox + off) << 2)));
            }
          } else {
            let xp = xr + (<usize>(ox * sw + off) << 2);
            const step = <usize>sw << 2;
            for (; ox < hi; ox++) {
              const yo = yr + (<usize>ox << 2);
              store<f32>(yo, load<f32>(yo) + wt * load<f32>(xp));
              xp += step;
            }
          }
        }
      }
      if (residual == 0 && act == NONE) continue;
      const rr = residual != 0 ? residual + <usize>ch * oplane + <usize>oy * ow4 : 0;
      i = 0;
      if (ASC_FEATURE_SIMD) {
        for (; i + 4 <= ow; i += 4) {
          const o = <usize>i << 2;
          let v = v128.load(yr + o);
          if (rr != 0) v = f32x4.add(v, v128.load(rr + o));
          v128.store(yr + o, act4(v, act, p0, p1));
        }
      }
      for (; i < ow; i++) {
        const o = <usize>i << 2;
        let v = load<f32>(yr + o);
        if (rr != 0) v += load<f32>(rr + o);
        store<f32>(yr + o, activate1(v, act, p0, p1));
      }
    }
  }
}
