// Per-channel affine on NCHW: inference BatchNormalization once the engine has folded
// mean, variance, scale and bias into a[c] = scale / sqrt(var + eps), b[c] = B - mean a[c].
import { blockAffine } from "./_stats";

/** y[n, c, :] = x[n, c, :] * a[c] + b[c] over `hw` floats per channel. */
export function f32_batchnorm_x8(
  batch: i32, channels: i32, hw: i32, x: usize, y: usize, a: usize, b: usize,
): void {
  const chanBytes = <usize>hw << 2;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const q = (<usize>n * <usize>channels + <usize>c) * chanBytes;
      const cc = <usize>c << 2;
      blockAffine(x + q, y + q, hw, load<f32>(a + cc), load<f32>(b + cc));
    }
  }
}
