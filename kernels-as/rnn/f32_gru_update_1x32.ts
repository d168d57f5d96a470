// Second half of an ONNX GRU step with linear_before_reset = 0: candidate and new state.
import { madd4 } from "../common/simd";
import { panel32 } from "./gen/_panel";
import { gate1, gate4 } from "./_gate";
import { loadExpConstants } from "../scan/_exp";

const ACC = memory.data(128, 16);

/**
 * n = g(xh + Rh (r h) + Rbh), h' = (1 - z) n + z h, from f32_gru_reset_1x16's z and r h.
 * w: the h gate of R packed by x32_pack_rnn (1 gate, 32 units, Rbh in its bias row); xh: the
 * h part of the step's input projection; hout must not overlap rh; y (or 0) gets a copy.
 */
export function f32_gru_update_1x32(
  hidden: i32, rh: usize, w: usize, xh: usize, z: usize, h: usize, hout: usize, y: usize,
  g: i32, g0: f32, g1: f32, clip: f32,
): void {
  if (ASC_FEATURE_SIMD) loadExpConstants();
  const panel = (<usize>hidden + 1) * 128;
  let wp = w;
  for (let j0 = 0; j0 < hidden; j0 += 32) {
    panel32(hidden, rh, wp, ACC);
    const n = min(32, hidden - j0);
    let u = 0;
    if (ASC_FEATURE_SIMD) {
      for (; u + 4 <= n; u += 4) {
        const q = <usize>(j0 + u) << 2;
        const nv = gate4(f32x4.add(v128.load(ACC + (<usize>u << 2)), v128.load(xh + q)), g, g0, g1, clip);
        const hn = madd4(v128.load(z + q), f32x4.sub(v128.load(h + q), nv), nv);
        v128.store(hout + q, hn);
        if (y != 0) v128.store(y + q, hn);
      }
    }
    for (; u < n; u++) {
      const q = <usize>(j0 + u) << 2;
      const nv = gate1(load<f32>(ACC + (<usize>u << 2)) + load<f32>(xh + q), g, g0, g1, clip);
      const hn = nv + load<f32>(z + q) * (load<f32>(h + q) - nv);
      store<f32>(hout + q, hn);
      if (y != 0) store<f32>(y + q, hn);
    }
    wp += panel;
  }
}
