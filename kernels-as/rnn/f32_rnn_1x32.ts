// One ONNX RNN step for one batch row, recurrent product and activation fused.
import { panel32 } from "./gen/_panel";
import { gate1, gate4 } from "./_gate";
import { loadExpConstants } from "../scan/_exp";

const ACC = memory.data(128, 16);

/**
 * h' = f(xw + R h + Rb). w: R packed by x32_pack_rnn (1 gate, 32 units, Rb in its bias row);
 * xw: the step's input projection (hidden floats, Wb included); hout must not overlap h;
 * y (or 0) gets a copy of h'.
 */
export function f32_rnn_1x32(
  hidden: i32, h: usize, w: usize, xw: usize, hout: usize, y: usize,
  f: i32, f0: f32, f1: f32, clip: f32,
): void {
  if (ASC_FEATURE_SIMD) loadExpConstants();
  const panel = (<usize>hidden + 1) * 128;
  let wp = w;
  for (let j0 = 0; j0 < hidden; j0 += 32) {
    panel32(hidden, h, wp, ACC);
    const n = min(32, hidden - j0);
    let u = 0;
    if (ASC_FEATURE_SIMD) {
      for (; u + 4 <= n; u += 4) {
        const q = <usize>(j0 + u) << 2;
        const hn = gate4(f32x4.add(v128.load(ACC + (<usize>u << 2)), v128.load(xw + q)), f, f0, f1, clip);
        v128.store(hout + q, hn);
        if (y != 0) v128.store(y + q, hn);
      }
    }
    for (; u < n; u++) {
      const q = <usize>(j0 + u) << 2;
      const hn = gate1(load<f32>(ACC + (<usize>u << 2)) + load<f32>(xw + q), f, f0, f1, clip);
      store<f32>(hout + q, hn);
      if (y != 0) store<f32>(y + q, hn);
    }
    wp += panel;
  }
}
