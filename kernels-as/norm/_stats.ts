// Sums over a contiguous block of floats, shared by the normalisation kernels. Variance is
// computed in two passes (mean, then squared deviations): one-pass sum-of-squares loses all
// precision when |mean| is large against the spread, and these rows stay in cache anyway.
import { hsum4, madd4 } from "../common/simd";

/**
 * Mean of n floats at p, summed relative to the first element: when |mean| is large against
 * the spread, the shifted terms are small and the running sums keep their precision.
 */
@inline export function blockMean(p: usize, n: i32): f32 {
  if (n <= 0) return 0;
  const c = load<f32>(p);
  let i = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f32x4.splat(c);
    let a0 = f32x4.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    for (; i + 16 <= n; i += 16) {
      const q = p + (<usize>i << 2);
      a0 = f32x4.add(a0, f32x4.sub(v128.load(q), vc));
      a1 = f32x4.add(a1, f32x4.sub(v128.load(q, 16), vc));
      a2 = f32x4.add(a2, f32x4.sub(v128.load(q, 32), vc));
      a3 = f32x4.add(a3, f32x4.sub(v128.load(q, 48), vc));
    }
    for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, f32x4.sub(v128.load(p + (<usize>i << 2)), vc));
    s = hsum4(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2)) - c;
  return c + s / <f32>n;
}

/** Sum of (x - c)^2 over n floats at p (c = 0: sum of squares). */
@inline export function blockSumSq(p: usize, n: i32, c: f32): f32 {
  let i = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f32x4.splat(c);
    let a0 = f32x4.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    for (; i + 16 <= n; i += 16) {
      const q = p + (<usize>i << 2);
      const d0 = f32x4.sub(v128.load(q), vc);
      const d1 = f32x4.sub(v128.load(q, 16), vc);
      const d2 = f32x4.sub(v128.load(q, 32), vc);
      const d3 = f32x4.sub(v128.load(q, 48), vc);
      a0 = madd4(d0, d0, a0);
      a1 = madd4(d1, d1, a1);
      a2 = madd4(d2, d2, a2);
      a3 = madd4(d3, d3, a3);
    }
    for (; i + 4 <= n; i += 4) {
      const d = f32x4.sub(v128.load(p + (<usize>i << 2)), vc);
      a0 = madd4(d, d, a0);
    }
    s = hsum4(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  for (; i < n; i++) {
    const d = load<f32>(p + (<usize>i << 2)) - c;
    s += d * d;
  }
  return s;
}

/** y = x * a + b over n floats (a, b scalars). */
@inline export function blockAffine(x: usize, y: usize, n: i32, a: f32, b: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a);
    const vb = f32x4.splat(b);
    for (; i + 8 <= n; i += 8) {
      const q = <usize>i << 2;
      v128.store(y + q, madd4(v128.load(x + q), va, vb));
      v128.store(y + q, madd4(v128.load(x + q, 16), va, vb), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(y + q, madd4(v128.load(x + q), va, vb));
    }
  }
  for (; i < n; i++) {
    const q = <usize>i << 2;
    store<f32>(y + q, load<f32>(x + q) * a + b);
  }
}

/** y = (x - c) * a + b over n floats: centring first keeps x̂ exact when the spread is tiny. */
@inline export function blockAffineCentred(
  x: usize, y: usize, n: i32, c: f32, a: f32, b: f32,
): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f32x4.splat(c);
    const va = f32x4.splat(a);
    const vb = f32x4.splat(b);
    for (; i + 8 <= n; i += 8) {
      const q = <usize>i << 2;
      v128.store(y + q, madd4(f32x4.sub(v128.load(x + q), vc), va, vb));
      v128.store(y + q, madd4(f32x4.sub(v128.load(x + q, 16), vc), va, vb), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(y + q, madd4(f32x4.sub(v128.load(x + q), vc), va, vb));
    }
  }
  for (; i < n; i++) {
    const q = <usize>i << 2;
    store<f32>(y + q, (load<f32>(x + q) - c) * a + b);
  }
}
