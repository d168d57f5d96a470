// im2col for NHWC convolution (the layout alternative measured in engine/ops/README.md): one
// row per output pixel, (ky, kx, c) along the row, so each tap is one contiguous copy of C
// channels.

/**
 * Writes, for output pixels [p0, p0 + np) of an output of width ow, the receptive fields of
 * the NHWC image x (h x w x c) into col (one row of kh*kw*c floats per pixel, row stride ldc),
 * zeros where a tap falls in the padding.
 */
export function x32_im2col_nhwc(
  x: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  pt: i32, pl: i32, ow: i32, p0: i32, np: i32, col: usize, ldc: i32,
): void {
  const c4 = <usize>c << 2;
  for (let t = 0; t < np; t++) {
    const p = p0 + t;
    const oy = p / ow;
    const ox = p - oy * ow;
    let dst = col + (<usize>t * <usize>ldc << 2);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh - pt + ky * dh;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw - pl + kx * dw;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
          memory.fill(dst, 0, c4);
        } else {
          memory.copy(dst, x + (<usize>(iy * w + ix) * c4), c4);
        }
        dst += c4;
      }
    }
  }
}
