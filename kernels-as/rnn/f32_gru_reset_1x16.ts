// First half of an ONNX GRU step with linear_before_reset = 0: update and reset gates.
import { panel32 } from "./gen/_panel";
import { gate1, gate4 } from "./_gate";
import { loadExpConstants } from "../scan/_exp";

const ACC = memory.data(128, 16);

/**
 * z = f(xz + Rz h + Rbz) into zout, and r h with r = f(xr + Rr h + Rbr) into rh, for
 * f32_gru_update_1x32 to finish the step. w: the z and r gates of R packed by x32_pack_rnn
 * (2 gates, 16 units); xw: the step's input projection (z, r, h parts).
 */
export function f32_gru_reset_1x16(
  hidden: i32, h: usize, w: usize, xw: usize, zout: usize, rh: usize,
  f: i32, f0: f32, f1: f32, clip: f32,
): void {
  if (ASC_FEATURE_SIMD) loadExpConstants();
  const panel = (<usize>hidden + 1) * 128;
  const gs = <usize>hidden << 2;
  let wp = w;
  for (let j0 = 0; j0 < hidden; j0 += 16) {
    panel32(hidden, h, wp, ACC);
    const n = min(16, hidden - j0);
    let u = 0;
    if (ASC_FEATURE_SIMD) {
      for (; u + 4 <= n; u += 4) {
        const q = <usize>(j0 + u) << 2;
        const acc = ACC + (<usize>u << 2);
        v128.store(zout + q, gate4(f32x4.add(v128.load(acc), v128.load(xw + q)), f, f0, f1, clip));
        const rv = gate4(f32x4.add(v128.load(acc, 64), v128.load(xw + gs + q)), f, f0, f1, clip);
        v128.store(rh + q, f32x4.mul(rv, v128.load(h + q)));
      }
    }
    for (; u < n; u++) {
      const q = <usize>(j0 + u) << 2;
      const acc = ACC + (<usize>u << 2);
      store<f32>(zout + q, gate1(load<f32>(acc) + load<f32>(xw + q), f, f0, f1, clip));
      const rv = gate1(load<f32>(acc, 64) + load<f32>(xw + gs + q), f, f0, f1, clip);
      store<f32>(rh + q, rv * load<f32>(h + q));
    }
    wp += panel;
  }
}
