// Gather along one axis: whole inner blocks selected by an index table.
import { copyBytes } from "./_copy";

/**
 * For o < outer, i < count: copies the `bytes`-byte block number idx[i] of outer slice o
 * (each slice holds axisLen blocks) to dst, in order. idx is a byte offset to count i32
 * values, already made non-negative and checked against axisLen by the caller.
 */
export function x8_gather(
  outer: i32, count: i32, axisLen: i32, bytes: i32, idx: usize, src: usize, dst: usize,
): void {
  const b = <usize>bytes;
  const slice = <usize>axisLen * b;
  let d = dst;
  for (let o = 0; o < outer; o++) {
    const base = src + <usize>o * slice;
    if (bytes == 4) {
      for (let i = 0; i < count; i++) {
        store<u32>(d, load<u32>(base + (<usize>load<i32>(idx + (<usize>i << 2)) << 2)));
        d += 4;
      }
    } else if (bytes == 8) {
      for (let i = 0; i < count; i++) {
        store<u64>(d, load<u64>(base + (<usize>load<i32>(idx + (<usize>i << 2)) << 3)));
        d += 8;
      }
    } else {
      for (let i = 0; i < count; i++) {
        copyBytes(d, base + <usize>load<i32>(idx + (<usize>i << 2)) * b, b);
        d += b;
      }
    }
  }
}
