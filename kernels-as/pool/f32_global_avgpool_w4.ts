// GlobalAveragePool: one mean per plane.
import { reducePlane } from "./_pool";

/** y[c] = mean of the n floats of plane c at x, for `channels` planes. */
export function f32_global_avgpool_w4(channels: i32, x: usize, n: i32, y: usize): void {
  for (let c = 0; c < channels; c++) {
    const s = reducePlane(false, x + (<usize>c * <usize>n << 2), n);
    store<f32>(y + (<usize>c << 2), n > 0 ? s / <f32>n : 0);
  }
}
