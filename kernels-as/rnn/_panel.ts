// The recurrent matrix-vector product shared by the fused RNN step kernels.
//
// R is packed by x32_pack_rnn into blocks of `units` hidden units: a bias row, then one row
// per input h[k], each row holding every packed gate's `units` columns (gate-major). One block
// row is 32 floats (8 vectors) or 24 (6 vectors), so 8 or 6 independent accumulators hide the
// multiply-add latency, and each h[k] is broadcast once for all gates of the block.
import { madd4 } from "../common/simd";

/** Sums of one 32-column block: acc[j] = bias[j] + sum_k x[k] * w[k][j]; wp is the block. */
@inline export function panel32(k: i32, x: usize, wp: usize, acc: usize): void {
  if (ASC_FEATURE_SIMD) {
    let c0 = v128.load(wp);
    let c1 = v128.load(wp, 16);
    let c2 = v128.load(wp, 32);
    let c3 = v128.load(wp, 48);
    let c4 = v128.load(wp, 64);
    let c5 = v128.load(wp, 80);
    let c6 = v128.load(wp, 96);
    let c7 = v128.load(wp, 112);
    let wk = wp + 128;
    let kk = 0;
    // One vector load of x feeds four broadcasts: fewer (bounds-checked) loads than splats.
    for (; kk + 4 <= k; kk += 4) {
      const xv = v128.load(x + (<usize>kk << 2));
      const s0 = i32x4.shuffle(xv, xv, 0, 0, 0, 0);
      c0 = madd4(s0, v128.load(wk), c0);
      c1 = madd4(s0, v128.load(wk, 16), c1);
      c2 = madd4(s0, v128.load(wk, 32), c2);
      c3 = madd4(s0, v128.load(wk, 48), c3);
      c4 = madd4(s0, v128.load(wk, 64), c4);
      c5 = madd4(s0, v128.load(wk, 80), c5);
      c6 = madd4(s0, v128.load(wk, 96), c6);
      c7 = madd4(s0, v128.load(wk, 112), c7);
      const s1 = i32x4.shuffle(xv, xv, 1, 1, 1, 1);
      c0 = madd4(s1, v128.load(wk, 128), c0);
      c1 = madd4(s1, v128.load(wk, 144), c1);
      c2 = madd4(s1, v128.load(wk, 160), c2);
      c3 = madd4(s1, v128.load(wk, 176), c3);
      c4 = madd4(s1, v128.load(wk, 192), c4);
      c5 = madd4(s1, v128.load(wk, 208), c5);
      c6 = madd4(s1, v128.load(wk, 224), c6);
      c7 = madd4(s1, v128.load(wk, 240), c7);
      const s2 = i32x4.shuffle(xv, xv, 2, 2, 2, 2);
      c0 = madd4(s2, v128.load(wk, 256), c0);
      c1 = madd4(s2, v128.load(wk, 272), c1);
      c2 = madd4(s2, v128.load(wk, 288), c2);
      c3 = madd4(s2, v128.load(wk, 304), c3);
      c4 = madd4(s2, v128.load(wk, 320), c4);
      c5 = madd4(s2, v128.load(wk, 336), c5);
      c6 = madd4(s2, v128.load(wk, 352), c6);
      c7 = madd4(s2, v128.load(wk, 368), c7);
      const s3 = i32x4.shuffle(xv, xv, 3, 3, 3, 3);
      c0 = madd4(s3, v128.load(wk, 384), c0);
      c1 = madd4(s3, v128.load(wk, 400), c1);
      c2 = madd4(s3, v128.load(wk, 416), c2);
      c3 = madd4(s3, v128.load(wk, 432), c3);
      c4 = madd4(s3, v128.load(wk, 448), c4);
      c5 = madd4(s3, v128.load(wk, 464), c5);
      c6 = madd4(s3, v128.load(wk, 480), c6);
      c7 = madd4(s3, v128.load(wk, 496), c7);
      wk += 512;
    }
    for (; kk < k; kk++) {
      const s = v128.load32_splat(x + (<usize>kk << 2));
      c0 = madd4(s, v128.load(wk), c0);
      c1 = madd4(s, v128.load(wk, 16), c1);
      c2 = madd4(s, v128.load(wk, 32), c2);
      c3 = madd4(s, v128.load(wk, 48), c3);
      c4 = madd4(s, v128.load(wk, 64), c4);
      c5 = madd4(s, v128.load(wk, 80), c5);
      c6 = madd4(s, v128.load(wk, 96), c6);
      c7 = madd4(s, v128.load(wk, 112), c7);
      wk += 128;
    }
    v128.store(acc, c0);
    v128.store(acc, c1, 16);
    v128.store(acc, c2, 32);
    v128.store(acc, c3, 48);
    v128.store(acc, c4, 64);
    v128.store(acc, c5, 80);
    v128.store(acc, c6, 96);
    v128.store(acc, c7, 112);
  } else {
    panelScalar(k, x, wp, acc, 32);
  }
}

/** Sums of one 24-column block (three gates of 8 units). */
@inline export function panel24(k: i32, x: usize, wp: usize, acc: usize): void {
  if (ASC_FEATURE_SIMD) {
    let c0 = v128.load(wp);
    let c1 = v128.load(wp, 16);
    let c2 = v128.load(wp, 32);
    let c3 = v128.load(wp, 48);
    let c4 = v128.load(wp, 64);
    let c5 = v128.load(wp, 80);
    let wk = wp + 96;
    let kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      const xv = v128.load(x + (<usize>kk << 2));
      const s0 = i32x4.shuffle(xv, xv, 0, 0, 0, 0);
      c0 = madd4(s0, v128.load(wk), c0);
      c1 = madd4(s0, v128.load(wk, 16), c1);
      c2 = madd4(s0, v128.load(wk, 32), c2);
      c3 = madd4(s0, v128.load(wk, 48), c3);
      c4 = madd4(s0, v128.load(wk, 64), c4);
      c5 = madd4(s0, v128.load(wk, 80), c5);
      const s1 = i32x4.shuffle(xv, xv, 1, 1, 1, 1);
      c0 = madd4(s1, v128.load(wk, 96), c0);
      c1 = madd4(s1, v128.load(wk, 112), c1);
      c2 = madd4(s1, v128.load(wk, 128), c2);
      c3 = madd4(s1, v128.load(wk, 144), c3);
      c4 = madd4(s1, v128.load(wk, 160), c4);
      c5 = madd4(s1, v128.load(wk, 176), c5);
      const s2 = i32x4.shuffle(xv, xv, 2, 2, 2, 2);
      c0 = madd4(s2, v128.load(wk, 192), c0);
      c1 = madd4(s2, v128.load(wk, 208), c1);
      c2 = madd4(s2, v128.load(wk, 224), c2);
      c3 = madd4(s2, v128.load(wk, 240), c3);
      c4 = madd4(s2, v128.load(wk, 256), c4);
      c5 = madd4(s2, v128.load(wk, 272), c5);
      const s3 = i32x4.shuffle(xv, xv, 3, 3, 3, 3);
      c0 = madd4(s3, v128.load(wk, 288), c0);
      c1 = madd4(s3, v128.load(wk, 304), c1);
      c2 = madd4(s3, v128.load(wk, 320), c2);
      c3 = madd4(s3, v128.load(wk, 336), c3);
      c4 = madd4(s3, v128.load(wk, 352), c4);
      c5 = madd4(s3, v128.load(wk, 368), c5);
      wk += 384;
    }
    for (; kk < k; kk++) {
      const s = v128.load32_splat(x + (<usize>kk << 2));
      c0 = madd4(s, v128.load(wk), c0);
      c1 = madd4(s, v128.load(wk, 16), c1);
      c2 = madd4(s, v128.load(wk, 32), c2);
      c3 = madd4(s, v128.load(wk, 48), c3);
      c4 = madd4(s, v128.load(wk, 64), c4);
      c5 = madd4(s, v128.load(wk, 80), c5);
      wk += 96;
    }
    v128.store(acc, c0);
    v128.store(acc, c1, 16);
    v128.store(acc, c2, 32);
    v128.store(acc, c3, 48);
    v128.store(acc, c4, 64);
    v128.store(acc, c5, 80);
  } else {
    panelScalar(k, x, wp, acc, 24);
  }
}

function panelScalar(k: i32, x: usize, wp: usize, acc: usize, width: i32): void {
  for (let j = 0; j < width; j++) store<f32>(acc + (<usize>j << 2), load<f32>(wp + (<usize>j << 2)));
  let wk = wp + (<usize>width << 2);
  for (let kk = 0; kk < k; kk++) {
    const xv = load<f32>(x + (<usize>kk << 2));
    for (let j = 0; j < width; j++) {
      const q = acc + (<usize>j << 2);
      store<f32>(q, load<f32>(q) + xv * load<f32>(wk + (<usize>j << 2)));
    }
    wk += <usize>width << 2;
  }
}
