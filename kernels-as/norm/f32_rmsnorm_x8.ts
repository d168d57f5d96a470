// RMS normalisation (ONNX RMSNormalization, Mamba/LLaMA RMSNorm) over the last n floats.
import { blockSumSq } from "./_stats";

/** y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * scale, scale holding n floats. */
export function f32_rmsnorm_x8(
  rows: i32, n: i32, x: usize, y: usize, scale: usize, eps: f32,
): void {
  const rowBytes = <usize>n << 2;
  const inv_n: f32 = n > 0 ? <f32>1.0 / <f32>n : 0;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * rowBytes;
    const py = y + <usize>r * rowBytes;
    const inv = <f32>1.0 / Mathf.sqrt(blockSumSq(px, n, 0) * inv_n + eps);
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const vi = f32x4.splat(inv);
      for (; i + 8 <= n; i += 8) {
        const q = <usize>i << 2;
        v128.store(py + q, f32x4.mul(f32x4.mul(v128.load(px + q), vi), v128.load(scale + q)));
        v128.store(
          py + q,
          f32x4.mul(f32x4.mul(v128.load(px + q, 16), vi), v128.load(scale + q, 16)),
          16,
        );
      }
    }
    for (; i < n; i++) {
      const q = <usize>i << 2;
      store<f32>(py + q, load<f32>(px + q) * inv * load<f32>(scale + q));
    }
  }
}
