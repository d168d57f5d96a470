// Helpers of the fixed-shape depthwise kernels (gen/f32_dwconv*): the zero row that stands in
// for rows above and below the input, and the one-output fallback for border columns.

/** Floats of the zero row for inputs w wide: vector loads may run up to 16 floats past w. */
@inline export function zeroRowFloats(w: i32): i32 {
  return ((w + 3) & ~3) + 32;
}

/** Zeroes the row at p and returns p. */
@inline export function zeroRow(p: usize, w: i32): usize {
  const n = zeroRowFloats(w);
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) v128.store(p + (<usize>i << 2), f32x4.splat(0));
  } else {
    for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), 0);
  }
  return p;
}

/**
 * b + the k x k window of plane xc (h x w) at top-left (iy0, ix0) times the weights at wc,
 * taps outside the plane counting as zero.
 */
@inline export function dwPoint(
  xc: usize, h: i32, w: i32, iy0: i32, ix0: i32, wc: usize, k: i32, b: f32,
): f32 {
  let t = b;
  for (let ky = 0; ky < k; ky++) {
    const iy = iy0 + ky;
    if (iy < 0 || iy >= h) continue;
    const row = xc + <usize>iy * (<usize>w << 2);
    for (let kx = 0; kx < k; kx++) {
      const ix = ix0 + kx;
      if (ix >= 0 && ix < w) {
        t += load<f32>(wc + (<usize>(ky * k + kx) << 2)) * load<f32>(row + (<usize>ix << 2));
      }
    }
  }
  return t;
}
