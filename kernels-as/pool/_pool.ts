// Shared body of the windowed pooling kernels. Each output row is built in place, tap by
// tap, over the range of output columns whose tap lands inside the input (computed once per
// tap, so no per-element border tests); stride 1 and 2 are vectorised along the width.

@inline export function floorDiv(a: i32, b: i32): i32 {
  const q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/** Lowest finite float: what a window with no input element pools to (as onnxruntime). */
export const LOWEST: f32 = -3.4028234663852886e38;

@inline function combine4(isMax: bool, a: v128, b: v128): v128 {
  return isMax ? f32x4.max(a, b) : f32x4.add(a, b);
}

@inline function combine1(isMax: bool, a: f32, b: f32): f32 {
  return isMax ? Mathf.max(a, b) : a + b;
}

/**
 * Reduces (max or sum) the window taps of output row oy into yr (ow floats), for the input
 * plane xc (h x w).
 */
@inline export function poolRow(
  isMax: bool, xc: usize, h: i32, w: i32, yr: usize, oy: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
): void {
  const init: f32 = isMax ? LOWEST : 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vi = f32x4.splat(init);
    for (; i + 4 <= ow; i += 4) v128.store(yr + (<usize>i << 2), vi);
  }
  for (; i < ow; i++) store<f32>(yr + (<usize>i << 2), init);
  const rowBytes = <usize>w << 2;
  for (let ky = 0; ky < kh; ky++) {
    const iy = oy * sh - pt + ky * dh;
    if (iy < 0 || iy >= h) continue;
    const xr = xc + <usize>iy * rowBytes;
    for (let kx = 0; kx < kw; kx++) {
      const off = kx * dw - pl;
      const lo = max(0, floorDiv(-off + sw - 1, sw));
      const hi = min(ow, floorDiv(w - 1 - off, sw) + 1);
      let ox = lo;
      if (ASC_FEATURE_SIMD) {
        if (sw == 1) {
          for (; ox + 4 <= hi; ox += 4) {
            const yo = yr + (<usize>ox << 2);
            v128.store(yo, combine4(isMax, v128.load(yo), v128.load(xr + (<usize>(ox + off) << 2))));
          }
        } else if (sw == 2) {
          for (; ox + 4 <= hi; ox += 4) {
            const yo = yr + (<usize>ox << 2);
            const s = xr + (<usize>(2 * ox + off) << 2);
            const v = i32x4.shuffle(v128.load(s), v128.load(s, 16), 0, 2, 4, 6);
            v128.store(yo, combine4(isMax, v128.load(yo), v));
          }
        }
      }
      let xp = xr + (<usize>(ox * sw + off) << 2);
      const step = <usize>sw << 2;
      for (; ox < hi; ox++) {
        const yo = yr + (<usize>ox << 2);
        store<f32>(yo, combine1(isMax, load<f32>(yo), load<f32>(xp)));
        xp += step;
      }
    }
  }
}

/** Taps t < k with lo <= start + t * d < hi. */
@inline export function countTaps(start: i32, k: i32, d: i32, lo: i32, hi: i32): i32 {
  let n = 0;
  for (let t = 0; t < k; t++) {
    const p = start + t * d;
    if (p >= lo && p < hi) n++;
  }
  return n;
}

/** Max or sum of the n floats at x. */
@inline export function reducePlane(isMax: bool, x: usize, n: i32): f32 {
  let i = 0;
  let r: f32 = isMax ? LOWEST : 0;
  if (ASC_FEATURE_SIMD) {
    // Four independent accumulators hide the add / max latency.
    let a0 = f32x4.splat(r);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      if (isMax) {
        a0 = f32x4.max(a0, v128.load(p));
        a1 = f32x4.max(a1, v128.load(p, 16));
        a2 = f32x4.max(a2, v128.load(p, 32));
        a3 = f32x4.max(a3, v128.load(p, 48));
      } else {
        a0 = f32x4.add(a0, v128.load(p));
        a1 = f32x4.add(a1, v128.load(p, 16));
        a2 = f32x4.add(a2, v128.load(p, 32));
        a3 = f32x4.add(a3, v128.load(p, 48));
      }
    }
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      a0 = isMax ? f32x4.max(a0, v) : f32x4.add(a0, v);
    }
    if (isMax) {
      const m = f32x4.max(f32x4.max(a0, a1), f32x4.max(a2, a3));
      r = Mathf.max(
        Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
        Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)),
      );
    } else {
      const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
      r = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) +
        (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
    }
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    r = isMax ? Mathf.max(r, v) : r + v;
  }
  return r;
}
