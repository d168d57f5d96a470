// LogSumExp over the middle axis of an [outer, r, inner] view: max first, so exp never
// overflows, then log of the sum of e^(x - max).
import { expNonPos4, log4 } from "../common/math";
import { hsum4 } from "../common/simd";

const NEG_INF: f32 = -Infinity;

@inline function finish1(m: f32, s: f32): f32 {
  // All -inf (or r = 0) gives -inf; a +inf input gives +inf (x - max would be NaN).
  return m == NEG_INF || m == Infinity ? m : m + Mathf.log(s);
}

/** y[o, i] = log(sum over k of e^x[o, k, i]); `scale` is unused (uniform reduce ABI). */
export function f32_reduce_logsumexp_x8(
  outer: i32, r: i32, inner: i32, x: usize, y: usize, scale: f32,
): void {
  const rowBytes = <usize>inner << 2;
  if (ASC_FEATURE_SIMD) {
    if (inner == 1) {
      for (let o = 0; o < outer; o++) {
        const base = x + ((<usize>o * <usize>r) << 2);
        let m0 = f32x4.splat(NEG_INF);
        let m1 = m0;
        let kk = 0;
        for (; kk + 8 <= r; kk += 8) {
          const p = base + (<usize>kk << 2);
          m0 = f32x4.max(m0, v128.load(p));
          m1 = f32x4.max(m1, v128.load(p, 16));
        }
        m0 = f32x4.max(m0, m1);
        m0 = f32x4.max(m0, i32x4.shuffle(m0, m0, 2, 3, 0, 1));
        let m = f32x4.extract_lane(f32x4.max(m0, i32x4.shuffle(m0, m0, 1, 0, 3, 2)), 0);
        for (let k2 = kk; k2 < r; k2++) m = max<f32>(m, load<f32>(base + (<usize>k2 << 2)));
        const vm = f32x4.splat(m);
        let s0 = f32x4.splat(0);
        let s1 = s0;
        kk = 0;
        for (; kk + 8 <= r; kk += 8) {
          const p = base + (<usize>kk << 2);
          s0 = f32x4.add(s0, expNonPos4(f32x4.sub(v128.load(p), vm)));
          s1 = f32x4.add(s1, expNonPos4(f32x4.sub(v128.load(p, 16), vm)));
        }
        let s = hsum4(f32x4.add(s0, s1));
        for (; kk < r; kk++) s += Mathf.exp(load<f32>(base + (<usize>kk << 2)) - m);
        store<f32>(y + (<usize>o << 2), finish1(m, s));
      }
      return;
    }
    for (let o = 0; o < outer; o++) {
      const base = x + <usize>o * <usize>r * rowBytes;
      const out = y + <usize>o * rowBytes;
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const col = base + (<usize>i << 2);
        let m = f32x4.splat(NEG_INF);
        for (let kk = 0; kk < r; kk++) m = f32x4.max(m, v128.load(col + <usize>kk * rowBytes));
        let s = f32x4.splat(0);
        for (let kk = 0; kk < r; kk++) {
          s = f32x4.add(s, expNonPos4(f32x4.sub(v128.load(col + <usize>kk * rowBytes), m)));
        }
        const ls = f32x4.add(m, log4(s));
        const edge = v128.or(
          f32x4.eq(m, f32x4.splat(NEG_INF)),
          f32x4.eq(m, f32x4.splat(Infinity)),
        );
        v128.store(out + (<usize>i << 2), v128.bitselect(m, ls, edge));
      }
      for (; i < inner; i++) {
        const col = base + (<usize>i << 2);
        let m = NEG_INF;
        for (let kk = 0; kk < r; kk++) m = max<f32>(m, load<f32>(col + <usize>kk * rowBytes));
        let s: f32 = 0;
        for (let kk = 0; kk < r; kk++) s += Mathf.exp(load<f32>(col + <usize>kk * rowBytes) - m);
        store<f32>(out + (<usize>i << 2), finish1(m, s));
      }
    }
  } else {
    for (let o = 0; o < outer; o++) {
      const base = x + <usize>o * <usize>r * rowBytes;
      for (let i = 0; i < inner; i++) {
        const col = base + (<usize>i << 2);
        let m = NEG_INF;
        for (let kk = 0; kk < r; kk++) m = max<f32>(m, load<f32>(col + <usize>kk * rowBytes));
        let s: f32 = 0;
        for (let kk = 0; kk < r; kk++) s += Mathf.exp(load<f32>(col + <usize>kk * rowBytes) - m);
        store<f32>(y + ((<usize>o * <usize>inner + <usize>i) << 2), finish1(m, s));
      }
    }
  }
}
