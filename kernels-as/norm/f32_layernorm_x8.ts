// Layer normalisation over the contiguous last n floats of each row.
import { madd4 } from "../common/simd";
import { blockMean, blockSumSq } from "./_stats";

/**
 * y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * scale + bias for each of `rows` rows of n
 * floats; scale and bias hold n floats (bias 0: none). When `mean_out` / `invstd_out` are not
 * 0 they receive one float per row (ONNX LayerNormalization's optional outputs).
 */
export function f32_layernorm_x8(
  rows: i32, n: i32, x: usize, y: usize, scale: usize, bias: usize, eps: f32,
  mean_out: usize, invstd_out: usize,
): void {
  const rowBytes = <usize>n << 2;
  const inv_n: f32 = n > 0 ? <f32>1.0 / <f32>n : 0;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * rowBytes;
    const py = y + <usize>r * rowBytes;
    const mean = blockMean(px, n);
    const inv = <f32>1.0 / Mathf.sqrt(blockSumSq(px, n, mean) * inv_n + eps);
    if (mean_out) store<f32>(mean_out + (<usize>r << 2), mean);
    if (invstd_out) store<f32>(invstd_out + (<usize>r << 2), inv);
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const vm = f32x4.splat(mean);
      const vi = f32x4.splat(inv);
      if (bias) {
        for (; i + 8 <= n; i += 8) {
          const q = <usize>i << 2;
          const t0 = f32x4.mul(f32x4.sub(v128.load(px + q), vm), vi);
          const t1 = f32x4.mul(f32x4.sub(v128.load(px + q, 16), vm), vi);
          v128.store(py + q, madd4(t0, v128.load(scale + q), v128.load(bias + q)));
          v128.store(py + q, madd4(t1, v128.load(scale + q, 16), v128.load(bias + q, 16)), 16);
        }
      } else {
        for (; i + 8 <= n; i += 8) {
          const q = <usize>i << 2;
          const t0 = f32x4.mul(f32x4.sub(v128.load(px + q), vm), vi);
          const t1 = f32x4.mul(f32x4.sub(v128.load(px + q, 16), vm), vi);
          v128.store(py + q, f32x4.mul(t0, v128.load(scale + q)));
          v128.store(py + q, f32x4.mul(t1, v128.load(scale + q, 16)), 16);
        }
      }
    }
    for (; i < n; i++) {
      const q = <usize>i << 2;
      const t = (load<f32>(px + q) - mean) * inv * load<f32>(scale + q);
      store<f32>(py + q, bias ? t + load<f32>(bias + q) : t);
    }
  }
}
