// Nearest-neighbour resize of the last two dims, any element width.
import { copyBytes } from "./_copy";

function gatherRow<T>(d: usize, s: usize, n: i32, xidx: usize): void {
  const size = <usize>sizeof<T>();
  for (let x = 0; x < n; x++) {
    store<T>(d + <usize>x * size, load<T>(s + <usize>load<i32>(xidx + (<usize>x << 2)) * size));
  }
}

/**
 * Output plane p (outH x outW) takes input plane pidx[p] (inH x inW); output pixel (y, x)
 * takes input pixel (yidx[y], xidx[x]). Tables are byte offsets to i32 values. Rows whose
 * source row repeats the previous one are copied from the output; with dup2 != 0 the caller
 * promises xidx[x] == x >> 1 (exact 2x), which runs as a vector duplicate.
 */
export function x8_resize_nearest_2d(
  esize: i32, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  pidx: usize, yidx: usize, xidx: usize, dup2: i32, src: usize, dst: usize,
): void {
  const es = <usize>esize;
  const inRow = <usize>inW * es;
  const outRow = <usize>outW * es;
  const inPlane = <usize>inH * inRow;
  let d = dst;
  for (let p = 0; p < planes; p++) {
    const sp = src + <usize>load<i32>(pidx + (<usize>p << 2)) * inPlane;
    let prev = -1;
    for (let y = 0; y < outH; y++) {
      const sy = load<i32>(yidx + (<usize>y << 2));
      if (sy == prev) {
        copyBytes(d, d - outRow, outRow);
      } else {
        const s = sp + <usize>sy * inRow;
        let x = 0;
        if (ASC_FEATURE_SIMD && dup2 != 0 && esize == 4) {
          for (; x + 8 <= outW; x += 8) {
            const v = v128.load(s + (<usize>x << 1));
            v128.store(d + (<usize>x << 2), i32x4.shuffle(v, v, 0, 0, 1, 1));
            v128.store(d + (<usize>x << 2), i32x4.shuffle(v, v, 2, 2, 3, 3), 16);
          }
        }
        const n = outW - x;
        const dx = d + <usize>x * es;
        const xi = xidx + (<usize>x << 2);
        if (esize == 4) gatherRow<u32>(dx, s, n, xi);
        else if (esize == 8) gatherRow<u64>(dx, s, n, xi);
        else if (esize == 2) gatherRow<u16>(dx, s, n, xi);
        else gatherRow<u8>(dx, s, n, xi);
      }
      prev = sy;
      d += outRow;
    }
  }
}
