// Private row helpers of the resize kernels.
import { madd4 } from "../common/simd";

/** Bytes per 4-output block of the window table (see f32_resize_axis). */
const WIN_BLOCK: usize = 80;

/** The 4 outputs of block j (table block b) without vectors. */
function blockScalar(s: usize, d: usize, j: i32, idx: usize, wts: usize): void {
  for (let k = j; k < j + 4; k++) {
    const t = <usize>k << 3;
    const x0 = load<f32>(s + (<usize>load<i32>(idx + t) << 2));
    const x1 = load<f32>(s + (<usize>load<i32>(idx + t + 4) << 2));
    store<f32>(d + (<usize>k << 2), load<f32>(wts + t) * x0 + load<f32>(wts + t + 4) * x1);
  }
}

/** The 4 outputs of a block through its byte-swizzle masks. */
function blockSwizzle(s: usize, d: usize, j: i32, b: usize, base: i32): void {
  const v = v128.load(s + (<usize>base << 2));
  const a0 = i8x16.swizzle(v, v128.load(b, 16));
  const a1 = i8x16.swizzle(v, v128.load(b, 32));
  v128.store(d + (<usize>j << 2), madd4(v128.load(b, 64), a1, f32x4.mul(v128.load(b, 48), a0)));
}

/**
 * Two-tap gather along a row: 4 outputs per step from one 4-element window. Blocks flagged
 * 1 or 2 (the two patterns of 2x upsampling) use constant shuffles; their loop is kept free
 * of the other cases so V8 keeps the vectors in registers.
 */
export function rowWindowed2(s: usize, d: usize, outLen: i32, idx: usize, wts: usize, win: usize): void {
  let j = 0;
  for (; j + 4 <= outLen; j += 4) {
    const b = win + (<usize>(j >> 2)) * WIN_BLOCK;
    const base = load<i32>(b);
    const flag = load<i32>(b, 4);
    if (flag == 1) {
      const v = v128.load(s + (<usize>base << 2));
      const a0 = i32x4.shuffle(v, v, 0, 1, 1, 2);
      const a1 = i32x4.shuffle(v, v, 1, 2, 2, 3);
      v128.store(d + (<usize>j << 2), madd4(v128.load(b, 64), a1, f32x4.mul(v128.load(b, 48), a0)));
    } else if (flag == 2) {
      const v = v128.load(s + (<usize>base << 2));
      const a0 = i32x4.shuffle(v, v, 0, 0, 1, 1);
      const a1 = i32x4.shuffle(v, v, 1, 1, 2, 2);
      v128.store(d + (<usize>j << 2), madd4(v128.load(b, 64), a1, f32x4.mul(v128.load(b, 48), a0)));
    } else if (base >= 0) {
      blockSwizzle(s, d, j, b, base);
    } else {
      blockScalar(s, d, j, idx, wts);
    }
  }
  for (; j < outLen; j++) {
    const t = <usize>j << 3;
    const x0 = load<f32>(s + (<usize>load<i32>(idx + t) << 2));
    const x1 = load<f32>(s + (<usize>load<i32>(idx + t + 4) << 2));
    store<f32>(d + (<usize>j << 2), load<f32>(wts + t) * x0 + load<f32>(wts + t + 4) * x1);
  }
}

/** dst = w0 * r0 + w1 * r1 over n floats. */
export function blend2(d: usize, r0: usize, r1: usize, w0: f32, w1: f32, n: i32): void {
  let x = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f32x4.splat(w0);
    const v1 = f32x4.splat(w1);
    for (; x + 8 <= n; x += 8) {
      const o = <usize>x << 2;
      v128.store(d + o, madd4(v1, v128.load(r1 + o), f32x4.mul(v0, v128.load(r0 + o))));
      v128.store(d + o + 16, madd4(v1, v128.load(r1 + o + 16), f32x4.mul(v0, v128.load(r0 + o + 16))));
    }
    for (; x + 4 <= n; x += 4) {
      const o = <usize>x << 2;
      v128.store(d + o, madd4(v1, v128.load(r1 + o), f32x4.mul(v0, v128.load(r0 + o))));
    }
  }
  for (; x < n; x++) {
    const o = <usize>x << 2;
    store<f32>(d + o, w0 * load<f32>(r0 + o) + w1 * load<f32>(r1 + o));
  }
}

