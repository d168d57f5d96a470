// One ONNX GRU step (linear_before_reset = 1) for one batch row, fused.
import { madd4 } from "../common/simd";
import { panel24 } from "./gen/_panel";
import { gate1, gate4 } from "./_gate";
import { loadExpConstants } from "../scan/_exp";

const ACC = memory.data(96, 16);

/**
 * GRU with linear_before_reset = 1 (gates z, r, h in ONNX order):
 *   z = f(xz + Rz h + Rbz), r = f(xr + Rr h + Rbr), n = g(xh + r (Rh h + Rbh)),
 *   h' = (1 - z) n + z h.
 * w: R packed by x32_pack_rnn (3 gates, 8 units, Rb in its bias row); xw: the step's input
 * projection (3 * hidden floats with Wb); hout must not overlap h; y (or 0) gets a copy.
 */
export function f32_gru_1x8(
  hidden: i32, h: usize, w: usize, xw: usize, hout: usize, y: usize,
  f: i32, f0: f32, f1: f32, g: i32, g0: f32, g1: f32, clip: f32,
): void {
  if (ASC_FEATURE_SIMD) loadExpConstants();
  const panel = (<usize>hidden + 1) * 96;
  const gs = <usize>hidden << 2;
  let wp = w;
  for (let j0 = 0; j0 < hidden; j0 += 8) {
    panel24(hidden, h, wp, ACC);
    const n = min(8, hidden - j0);
    let u = 0;
    if (ASC_FEATURE_SIMD) {
      for (; u + 4 <= n; u += 4) {
        const q = <usize>(j0 + u) << 2;
        const acc = ACC + (<usize>u << 2);
        const zv = gate4(f32x4.add(v128.load(acc), v128.load(xw + q)), f, f0, f1, clip);
        const rv = gate4(f32x4.add(v128.load(acc, 32), v128.load(xw + gs + q)), f, f0, f1, clip);
        const sn = madd4(rv, v128.load(acc, 64), v128.load(xw + 2 * gs + q));
        const nv = gate4(sn, g, g0, g1, clip);
        const hn = madd4(zv, f32x4.sub(v128.load(h + q), nv), nv);
        v128.store(hout + q, hn);
        if (y != 0) v128.store(y + q, hn);
      }
    }
    for (; u < n; u++) {
      const q = <usize>(j0 + u) << 2;
      const acc = ACC + (<usize>u << 2);
      const zv = gate1(load<f32>(acc) + load<f32>(xw + q), f, f0, f1, clip);
      const rv = gate1(load<f32>(acc, 32) + load<f32>(xw + gs + q), f, f0, f1, clip);
      const nv = gate1(load<f32>(xw + 2 * gs + q) + rv * load<f32>(acc, 64), g, g0, g1, clip);
      const hn = nv + zv * (load<f32>(h + q) - nv);
      store<f32>(hout + q, hn);
      if (y != 0) store<f32>(y + q, hn);
    }
    wp += panel;
  }
}
