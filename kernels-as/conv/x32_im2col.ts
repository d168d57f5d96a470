// im2col for NCHW convolution, one tile of output pixels at a time.

/** Copies n floats (unaligned pointers, no overlap between dst and src). */
@inline function copyRow(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    if (n >= 4) {
      for (; i + 4 <= n; i += 4) {
        v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
      }
      // The ragged end as one vector overlapping the last one: no scalar loop.
      if (i < n) v128.store(dst + (<usize>(n - 4) << 2), v128.load(src + (<usize>(n - 4) << 2)));
      return;
    }
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** Copies every second float: dst[i] = src[2i]. */
@inline function copyRowStride2(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const s = src + (<usize>i << 3);
      v128.store(dst + (<usize>i << 2), i32x4.shuffle(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
    }
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 3)));
}

@inline function copyRowStrided(dst: usize, src: usize, n: i32, stride: i32): void {
  const step = <usize>stride << 2;
  let s = src;
  for (let i = 0; i < n; i++) {
    store<f32>(dst + (<usize>i << 2), load<f32>(s));
    s += step;
  }
}

@inline function zeroRow(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** Rows of the padded window a tile of np output pixels reads (see x32_im2col). */
@inline function windowRows(kh: i32, sh: i32, dh: i32, ow: i32, p0: i32, np: i32): i32 {
  const oyA = p0 / ow;
  const oyB = (p0 + np - 1) / ow;
  return (oyB - oyA) * sh + (kh - 1) * dh + 1;
}

/** Floats of a padded window row: every column the taps of ow outputs read. */
@inline function windowWidth(kw: i32, sw: i32, dw: i32, ow: i32): i32 {
  return (ow - 1) * sw + (kw - 1) * dw + 1;
}

/** Scratch bytes x32_im2col needs for tiles of up to np pixels (any start). */
export function x32_im2col_scratch_size(
  c: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, ow: i32, np: i32,
): usize {
  // A tile starting mid-row covers one more output row than np / ow.
  const rows = ((np + ow - 1) / ow) * sh + (kh - 1) * dh + 1;
  return (<usize>c * <usize>rows * <usize>windowWidth(kw, sw, dw, ow) + 4) << 2;
}

/**
 * Writes the receptive fields of output pixels [p0, p0 + np) (row-major over an output of
 * width ow) of the c channels at x (each h x w) into col: row (ch, ky, kx), of stride ldc
 * floats, holds per pixel the input under that tap, or 0 where it falls in the padding.
 * Strides sh/sw, dilations dh/dw, top/left padding pt/pl.
 *
 * The input rows the tile reads are first copied into a zero-padded window (scratch:
 * x32_im2col_scratch_size bytes), so every segment of a col row is a plain copy: no
 * clipping, no zero fill, per output row.
 */
export function x32_im2col(
  x: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  pt: i32, pl: i32, ow: i32, p0: i32, np: i32, col: usize, ldc: i32, scratch: usize,
): void {
  if (np <= 0) return;
  const plane = <usize>h * <usize>w << 2;
  const ldc4 = <usize>ldc << 2;
  const w4 = <usize>w << 2;
  const oyA = p0 / ow;
  const oxA = p0 - oyA * ow;
  const rows = windowRows(kh, sh, dh, ow, p0, np);
  const wp = windowWidth(kw, sw, dw, ow);
  const wp4 = <usize>wp << 2;
  const iyA = oyA * sh - pt;
  // The padded window: rows iyA.., columns -pl.. of every channel.
  const left = min(pl, wp);
  const count = max(0, min(w, wp - left));
  let dst = scratch;
  for (let ch = 0; ch < c; ch++) {
    const xc = x + <usize>ch * plane;
    for (let r = 0; r < rows; r++) {
      const iy = iyA + r;
      if (iy < 0 || iy >= h) {
        zeroRow(dst, wp);
      } else {
        zeroRow(dst, left);
        copyRow(dst + (<usize>left << 2), xc + <usize>iy * w4, count);
        zeroRow(dst + (<usize>(left + count) << 2), wp - left - count);
      }
      dst += wp4;
    }
  }
  const chBytes = <usize>rows * wp4;
  let row = col;
  for (let ch = 0; ch < c; ch++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        let src = scratch + <usize>ch * chBytes + <usize>(ky * dh) * wp4 + (<usize>(kx * dw) << 2);
        let ox0 = oxA;
        let t = 0;
        while (t < np) {
          const seg = min(ow - ox0, np - t);
          const s = src + (<usize>(ox0 * sw) << 2);
          const d = row + (<usize>t << 2);
          if (sw == 1) copyRow(d, s, seg);
          else if (sw == 2) copyRowStride2(d, s, seg);
          else copyRowStrided(d, s, seg, sw);
          t += seg;
          ox0 = 0;
          src += <usize>sh * wp4;
        }
        row += ldc4;
      }
    }
  }
}
