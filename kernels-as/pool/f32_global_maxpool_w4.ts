// GlobalMaxPool: one max per plane.
import { reducePlane } from "./_pool";

/** y[c] = max of the n floats of plane c at x, for `channels` planes. */
export function f32_global_maxpool_w4(channels: i32, x: usize, n: i32, y: usize): void {
  for (let c = 0; c < channels; c++) {
    store<f32>(y + (<usize>c << 2), reducePlane(true, x + (<usize>c * <usize>n << 2), n));
  }
}
