// One axis of a separable resize (linear, cubic): every output position is a weighted sum
// of `taps` input positions along the axis. An N-D resize runs this once per scaled axis.
import { madd4 } from "../common/simd";

/**
 * src is [outer, inLen, inner], dst is [outer, outLen, inner] (floats, row-major).
 * dst[o, j, :] = sum over t < taps of wts[j*taps + t] * src[o, idx[j*taps + t], :], where
 * idx (i32) and wts (f32) are byte offsets to outLen * taps values. With inner == 1 the sum
 * gathers along the row; otherwise whole rows are blended with vectors.
 */
export function f32_resize_axis(
  outer: i32, inLen: i32, outLen: i32, inner: i32, taps: i32,
  idx: usize, wts: usize, src: usize, dst: usize,
): void {
  const rowIn = <usize>inLen * <usize>inner << 2;
  const rowOut = <usize>outLen * <usize>inner << 2;
  const innerB = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const s = src + <usize>o * rowIn;
    const d = dst + <usize>o * rowOut;
    if (inner == 1) {
      if (taps == 2) {
        for (let j = 0; j < outLen; j++) {
          const t = <usize>j << 3;
          const a = load<f32>(s + (<usize>load<i32>(idx + t) << 2));
          const b = load<f32>(s + (<usize>load<i32>(idx + t + 4) << 2));
          store<f32>(d + (<usize>j << 2), load<f32>(wts + t) * a + load<f32>(wts + t + 4) * b);
        }
      } else {
        for (let j = 0; j < outLen; j++) {
          const t0 = <usize>j * <usize>taps << 2;
          let acc: f32 = 0;
          for (let t = 0; t < taps; t++) {
            const q = t0 + (<usize>t << 2);
            acc += load<f32>(wts + q) * load<f32>(s + (<usize>load<i32>(idx + q) << 2));
          }
          store<f32>(d + (<usize>j << 2), acc);
        }
      }
      continue;
    }
    for (let j = 0; j < outLen; j++) {
      const t0 = <usize>j * <usize>taps << 2;
      const dr = d + <usize>j * innerB;
      let x = 0;
      if (ASC_FEATURE_SIMD) {
        for (; x + 4 <= inner; x += 4) {
          const xo = <usize>x << 2;
          let acc = f32x4.splat(0);
          for (let t = 0; t < taps; t++) {
            const q = t0 + (<usize>t << 2);
            const row = s + <usize>load<i32>(idx + q) * innerB;
            acc = madd4(v128.load32_splat(wts + q), v128.load(row + xo), acc);
          }
          v128.store(dr + xo, acc);
        }
      }
      for (; x < inner; x++) {
        const xo = <usize>x << 2;
        let acc: f32 = 0;
        for (let t = 0; t < taps; t++) {
          const q = t0 + (<usize>t << 2);
          acc += load<f32>(wts + q) * load<f32>(s + <usize>load<i32>(idx + q) * innerB + xo);
        }
        store<f32>(dr + xo, acc);
      }
    }
  }
}
