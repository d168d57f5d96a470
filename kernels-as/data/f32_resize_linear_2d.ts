// Bilinear resize of the last two dims in one pass: each source row is interpolated along
// the width once into a two-row cache, and output rows blend the two cached rows.
import { blend2, rowWindowed2 } from "./_resample";

/**
 * Output plane p (outH x outW) from input plane p (inH x inW). yidx / ywts hold 2 taps per
 * output row, xidx / xwts 2 taps per output column, xwin is the window table of
 * f32_resize_axis for the columns (or 0), cache is scratch for 2 * outW floats.
 */
export function f32_resize_linear_2d(
  planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  yidx: usize, ywts: usize, xidx: usize, xwts: usize, xwin: usize, cache: usize,
  src: usize, dst: usize,
): void {
  const inRow = <usize>inW << 2;
  const outRow = <usize>outW << 2;
  const slotA = cache;
  const slotB = cache + outRow;
  for (let p = 0; p < planes; p++) {
    const sp = src + <usize>p * <usize>inH * inRow;
    let d = dst + <usize>p * <usize>outH * outRow;
    let keyA = -1;
    let keyB = -1;
    for (let y = 0; y < outH; y++) {
      const t = <usize>y << 3;
      const a = load<i32>(yidx + t);
      const b = load<i32>(yidx + t + 4);
      // Keep the row b needs when filling a, and the other way round.
      let ra: usize;
      if (keyA == a) ra = slotA;
      else if (keyB == a) ra = slotB;
      else if (keyA == b) {
        horizontal(sp + <usize>a * inRow, slotB, outW, xidx, xwts, xwin);
        keyB = a;
        ra = slotB;
      } else {
        horizontal(sp + <usize>a * inRow, slotA, outW, xidx, xwts, xwin);
        keyA = a;
        ra = slotA;
      }
      let rb: usize;
      if (keyA == b) rb = slotA;
      else if (keyB == b) rb = slotB;
      else if (ra == slotA) {
        horizontal(sp + <usize>b * inRow, slotB, outW, xidx, xwts, xwin);
        keyB = b;
        rb = slotB;
      } else {
        horizontal(sp + <usize>b * inRow, slotA, outW, xidx, xwts, xwin);
        keyA = b;
        rb = slotA;
      }
      blend2(d, ra, rb, load<f32>(ywts + t), load<f32>(ywts + t + 4), outW);
      d += outRow;
    }
  }
}

function horizontal(s: usize, d: usize, outW: i32, xidx: usize, xwts: usize, xwin: usize): void {
  if (ASC_FEATURE_SIMD && xwin != 0) {
    rowWindowed2(s, d, outW, xidx, xwts, xwin);
    return;
  }
  for (let j = 0; j < outW; j++) {
    const t = <usize>j << 3;
    const x0 = load<f32>(s + (<usize>load<i32>(xidx + t) << 2));
    const x1 = load<f32>(s + (<usize>load<i32>(xidx + t + 4) << 2));
    store<f32>(d + (<usize>j << 2), load<f32>(xwts + t) * x0 + load<f32>(xwts + t + 4) * x1);
  }
}
