// One axis of a separable resize (linear, cubic): every output position is a weighted sum
// of `taps` input positions along the axis. An N-D resize runs this once per scaled axis.
import { madd4 } from "../common/simd";
import { blend2, rowWindowed2 } from "./_resample";

/** dst = sum of 4 weighted rows over n floats. */
function blend4(d: usize, r: usize, w: usize, n: i32): void {
  const r0 = load<usize>(r);
  const r1 = load<usize>(r, 4);
  const r2 = load<usize>(r, 8);
  const r3 = load<usize>(r, 12);
  const w0 = load<f32>(w);
  const w1 = load<f32>(w, 4);
  const w2 = load<f32>(w, 8);
  const w3 = load<f32>(w, 12);
  let x = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f32x4.splat(w0);
    const v1 = f32x4.splat(w1);
    const v2 = f32x4.splat(w2);
    const v3 = f32x4.splat(w3);
    for (; x + 4 <= n; x += 4) {
      const o = <usize>x << 2;
      let acc = f32x4.mul(v0, v128.load(r0 + o));
      acc = madd4(v1, v128.load(r1 + o), acc);
      acc = madd4(v2, v128.load(r2 + o), acc);
      v128.store(d + o, madd4(v3, v128.load(r3 + o), acc));
    }
  }
  for (; x < n; x++) {
    const o = <usize>x << 2;
    store<f32>(
      d + o,
      w0 * load<f32>(r0 + o) + w1 * load<f32>(r1 + o) + w2 * load<f32>(r2 + o) +
        w3 * load<f32>(r3 + o),
    );
  }
}

const ROWS = memory.data(16, 16);

/**
 * src is [outer, inLen, inner], dst is [outer, outLen, inner] (floats, row-major).
 * dst[o, j, :] = sum over t < taps of wts[j*taps + t] * src[o, idx[j*taps + t], :], where
 * idx (i32) and wts (f32) are byte offsets to outLen * taps values. With inner > 1 whole
 * rows are blended with vectors (2 and 4 taps unrolled). With inner == 1 and 2 taps, `win`
 * (or 0) is a table of 80-byte blocks, one per 4 outputs: i32 base at 0 (-1: use idx/wts),
 * i32 flag at 4 (1: tap offsets 0112/1223, 2: 0011/1122, else the masks), byte-swizzle masks
 * for tap 0 and tap 1 at 16 and 32, their weights at 48 and 64 — every tap of the block is
 * read from the 4 floats at `base`, so a block costs one load.
 */
export function f32_resize_axis(
  outer: i32, inLen: i32, outLen: i32, inner: i32, taps: i32,
  idx: usize, wts: usize, win: usize, src: usize, dst: usize,
): void {
  const rowIn = <usize>inLen * <usize>inner << 2;
  const rowOut = <usize>outLen * <usize>inner << 2;
  const innerB = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const s = src + <usize>o * rowIn;
    const d = dst + <usize>o * rowOut;
    if (inner == 1) {
      if (ASC_FEATURE_SIMD && taps == 2 && win != 0) {
        rowWindowed2(s, d, outLen, idx, wts, win);
      } else if (taps == 2) {
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
      if (taps == 2) {
        blend2(
          dr,
          s + <usize>load<i32>(idx + t0) * innerB,
          s + <usize>load<i32>(idx + t0 + 4) * innerB,
          load<f32>(wts + t0),
          load<f32>(wts + t0 + 4),
          inner,
        );
      } else if (taps == 4) {
        for (let t = 0; t < 4; t++) {
          store<usize>(ROWS + (<usize>t << 2), s + <usize>load<i32>(idx + t0 + (<usize>t << 2)) * innerB);
        }
        blend4(dr, ROWS, wts + t0, inner);
      } else {
        for (let x = 0; x < inner; x++) {
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
}
