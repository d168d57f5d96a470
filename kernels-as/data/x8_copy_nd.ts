// The strided copy behind every data-movement op: Transpose, Slice, Concat, Split, Expand,
// Tile, Pad, DepthToSpace / SpaceToDepth are all one call with the right dims and strides.
import { copyBlock } from "./_copy";

const MAX_RANK = 16;
const COUNTERS = memory.data(MAX_RANK * 4, 16);

function block(
  esize: i32, R: i32, C: i32, s: usize, sR: i32, sC: i32, d: usize, dR: i32, dC: i32,
): void {
  if (esize == 4) copyBlock<u32>(R, C, s, sR, sC, d, dR, dC);
  else if (esize == 8) copyBlock<u64>(R, C, s, sR, sC, d, dR, dC);
  else if (esize == 2) copyBlock<u16>(R, C, s, sR, sC, d, dR, dC);
  else copyBlock<u8>(R, C, s, sR, sC, d, dR, dC);
}

/**
 * Copies an N-D block of elements of `esize` bytes (1, 2, 4 or 8): for every index i in
 * dims, dst[sum i_k * dstStride_k] = src[sum i_k * srcStride_k]. `params` is a byte offset
 * to 3 * rank i32 values: dims, source strides, destination strides, in elements (strides
 * may be negative, or zero to broadcast). rank <= 16; every dim > 0. The two innermost dims
 * pick the inner loop: contiguous rows, broadcast fill, tiled transpose or a gather.
 */
export function x8_copy_nd(rank: i32, esize: i32, params: usize, src: usize, dst: usize): void {
  if (rank <= 0) {
    block(esize, 1, 1, src, 0, 0, dst, 0, 0);
    return;
  }
  const dims = params;
  const sstr = params + (<usize>rank << 2);
  const dstr = params + (<usize>rank << 3);
  const last = <usize>(rank - 1) << 2;
  const C = load<i32>(dims + last);
  const sC = load<i32>(sstr + last);
  const dC = load<i32>(dstr + last);
  let R = 1;
  let sR = 0;
  let dR = 0;
  if (rank >= 2) {
    R = load<i32>(dims + last - 4);
    sR = load<i32>(sstr + last - 4);
    dR = load<i32>(dstr + last - 4);
  }
  const outer = rank - 2;
  for (let i = 0; i < outer; i++) store<i32>(COUNTERS + (<usize>i << 2), 0);
  let s = src;
  let d = dst;
  const es = <usize>esize;
  while (true) {
    block(esize, R, C, s, sR, sC, d, dR, dC);
    let i = outer - 1;
    for (; i >= 0; i--) {
      const o = <usize>i << 2;
      const n = load<i32>(dims + o);
      const c = load<i32>(COUNTERS + o) + 1;
      if (c < n) {
        store<i32>(COUNTERS + o, c);
        s += <usize>load<i32>(sstr + o) * es;
        d += <usize>load<i32>(dstr + o) * es;
        break;
      }
      store<i32>(COUNTERS + o, 0);
      s -= <usize>(n - 1) * <usize>load<i32>(sstr + o) * es;
      d -= <usize>(n - 1) * <usize>load<i32>(dstr + o) * es;
    }
    if (i < 0) break;
  }
}
