// Zero-padded row buffers for the depthwise kernels: each input row is copied once into a
// ring slot with its left/right padding materialised as zeros, so the inner loops never
// test borders. Stride-2 slots hold the padded row split into even and odd columns, which
// turns every stride-2 tap into a contiguous vector load.

@inline export function roundUp4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Logical length (floats) of a padded row (stride 1) or of each half (stride 2). */
@inline export function rowLength(k: i32, stride: i32, ow: i32): i32 {
  return stride == 1 ? roundUp4(ow) + k - 1 : roundUp4(ow) + ((k - 1) >> 1);
}

/** Floats per ring slot, with slack for whole-vector overruns. */
@inline export function slotFloats(k: i32, stride: i32, ow: i32): i32 {
  const half = roundUp4(rowLength(k, stride, ow)) + 4;
  return stride == 1 ? half : half * 2;
}

@inline export function zeroFloats(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i < n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  } else {
    for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
  }
}

/**
 * dst[a..b) = src[step * (i - a)], zeros in [0, a) and [b, len). Whole vectors may overrun b
 * by up to 3 floats before the tail is zeroed, so slots keep 4 floats of slack.
 */
@inline function placeRow(dst: usize, len: i32, a: i32, b: i32, src: usize, step: i32): void {
  zeroFloats(dst, a);
  const d = dst + (<usize>a << 2);
  const n = b - a;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    if (step == 1) {
      for (; i < n; i += 4) v128.store(d + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
    } else {
      for (; i < n; i += 4) {
        const s = src + (<usize>i << 3);
        v128.store(d + (<usize>i << 2), i32x4.shuffle(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
      }
    }
  } else {
    for (; i < n; i++) store<f32>(d + (<usize>i << 2), load<f32>(src + (<usize>(i * step) << 2)));
  }
  // Zero from b (not from the end of the last vector) so overrun lanes become padding.
  const tail = dst + (<usize>b << 2);
  let j = 0;
  for (; j < 4 && b + j < len; j++) store<f32>(tail + (<usize>j << 2), 0);
  if (b + j < len) zeroFloats(tail + (<usize>j << 2), len - b - j);
}

/** Fills a ring slot with padded input row `src` (w floats), or zeros when src == 0. */
@inline export function fillSlot(
  slot: usize, src: usize, w: i32, pl: i32, k: i32, stride: i32, ow: i32,
): void {
  const len = rowLength(k, stride, ow);
  if (stride == 1) {
    if (src == 0) {
      zeroFloats(slot, len);
      return;
    }
    const a = min(pl, len);
    const b = max(a, min(len, pl + w));
    placeRow(slot, len, a, b, src, 1);
    return;
  }
  const half = slotFloats(k, stride, ow) >> 1;
  const odd = slot + (<usize>half << 2);
  if (src == 0) {
    zeroFloats(slot, len);
    zeroFloats(odd, len);
    return;
  }
  // Even half: E[i] = P[2i] = src[2i - pl]; odd half: O[i] = P[2i + 1] = src[2i + 1 - pl].
  const ea = min((pl + 1) >> 1, len);
  const eb = max(ea, min(len, (pl + w + 1) >> 1));
  placeRow(slot, len, ea, eb, src + (<usize>(2 * ea - pl) << 2), 2);
  const oa = min(pl >> 1, len);
  const ob = max(oa, min(len, (pl + w) >> 1));
  placeRow(odd, len, oa, ob, src + (<usize>(2 * oa + 1 - pl) << 2), 2);
}
