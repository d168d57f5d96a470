// Group normalisation on NCHW (InstanceNormalization is the case cpg = 1).
import { blockAffineCentred, blockMean, blockSumSq } from "./_stats";

/**
 * For each batch item and group of `cpg` consecutive channels of `hw` pixels: normalise the
 * group's cpg * hw floats by their mean and variance, then y = x̂ * scale[c] + bias[c] per
 * channel c (scale, bias: groups * cpg floats; bias 0: none).
 */
export function f32_groupnorm_x8(
  batch: i32, groups: i32, cpg: i32, hw: i32, x: usize, y: usize, scale: usize, bias: usize,
  eps: f32,
): void {
  const chanBytes = <usize>hw << 2;
  const size = cpg * hw;
  const inv_n: f32 = size > 0 ? <f32>1.0 / <f32>size : 0;
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      const c0 = g * cpg;
      const off = (<usize>b * <usize>groups * <usize>cpg + <usize>c0) * chanBytes;
      const mean = blockMean(x + off, size);
      const inv = <f32>1.0 / Mathf.sqrt(blockSumSq(x + off, size, mean) * inv_n + eps);
      for (let j = 0; j < cpg; j++) {
        const c = <usize>(c0 + j) << 2;
        const a = inv * load<f32>(scale + c);
        const shift: f32 = bias ? load<f32>(bias + c) : 0;
        const q = off + <usize>j * chanBytes;
        blockAffineCentred(x + q, y + q, hw, mean, a, shift);
      }
    }
  }
}
