// im2col for NCHW convolution, one tile of output pixels at a time.

/** Copies n floats (unaligned pointers). */
@inline function copyRow(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
    }
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

@inline function zeroRow(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** floor(a / b) for b > 0 and any sign of a. */
@inline function floorDiv(a: i32, b: i32): i32 {
  const q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/**
 * Writes the receptive fields of output pixels [p0, p0 + np) (row-major over an output of
 * width ow) of the c channels at x (each h x w) into col: row (ch, ky, kx), of stride ldc
 * floats, holds per pixel the input under that tap, or 0 where it falls in the padding.
 * Strides sh/sw, dilations dh/dw, top/left padding pt/pl.
 */
export function x32_im2col(
  x: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  pt: i32, pl: i32, ow: i32, p0: i32, np: i32, col: usize, ldc: i32,
): void {
  const plane = <usize>h * <usize>w << 2;
  const ldc4 = <usize>ldc << 2;
  const w4 = <usize>w << 2;
  let row = col;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + <usize>ch * plane;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        // Output columns whose tap lands inside the input row: ox in [lo, hi).
        const off = kx * dw - pl;
        const lo = max(0, floorDiv(-off + sw - 1, sw));
        const hi = max(lo, floorDiv(w - 1 - off, sw) + 1);
        let p = p0;
        let t = 0;
        while (t < np) {
          const oy = p / ow;
          const ox0 = p - oy * ow;
          const seg = min(ow - ox0, np - t);
          const ox1 = ox0 + seg;
          const dst = row + (<usize>t << 2);
          const iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= h) {
            zeroRow(dst, seg);
          } else {
            const a = min(max(lo, ox0), ox1);
            const b = max(min(hi, ox1), a);
            zeroRow(dst, a - ox0);
            const src = xc + <usize>iy * w4;
            const d = dst + (<usize>(a - ox0) << 2);
            if (sw == 1) {
              copyRow(d, src + (<usize>(a + off) << 2), b - a);
            } else {
              let s = src + (<usize>(a * sw + off) << 2);
              const step = <usize>sw << 2;
              for (let i = 0; i < b - a; i++) {
                store<f32>(d + (<usize>i << 2), load<f32>(s));
                s += step;
              }
            }
            zeroRow(dst + (<usize>(b - ox0) << 2), ox1 - b);
          }
          p += seg;
          t += seg;
        }
        row += ldc4;
      }
    }
  }
}
