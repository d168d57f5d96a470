// One ONNX LSTM step for one batch row, recurrent product and gates fused.
import { madd4 } from "../common/simd";
import { panel32 } from "./gen/_panel";
import { act1, act4, gate1, gate4 } from "./_gate";
import { loadExpConstants } from "../scan/_exp";

const ACC = memory.data(128, 16);

/**
 * h' and c' from h and c for `hidden` units (gates in ONNX order i, o, f, c):
 *   i = f(xi + Ri h + Pi c), f = f(xf + Rf h + Pf c) (or 1 - i with inputForget),
 *   c' = f c + i g(xc + Rc h), o = f(xo + Ro h + Po c'), h' = o a(c').
 * w: R packed by x32_pack_rnn (4 gates, 8 units, recurrent bias in its bias row); xw: this
 * step's input projection (4 * hidden floats, input bias included); p: peepholes (i, o, f:
 * 3 * hidden floats) or 0; c is updated in place; hout must not overlap h; y (or 0) receives a
 * copy of h'. Activations are (code, p0, p1) from kernels-as/activations.ts; clip is applied
 * to every gate input (+Inf for none).
 */
export function f32_lstm_1x8(
  hidden: i32, h: usize, w: usize, xw: usize, p: usize, c: usize, hout: usize, y: usize,
  f: i32, f0: f32, f1: f32, g: i32, g0: f32, g1: f32, a: i32, a0: f32, a1: f32,
  clip: f32, inputForget: i32,
): void {
  if (ASC_FEATURE_SIMD) loadExpConstants();
  const panel = (<usize>hidden + 1) * 128;
  const gs = <usize>hidden << 2;
  let wp = w;
  for (let j0 = 0; j0 < hidden; j0 += 8) {
    panel32(hidden, h, wp, ACC);
    const n = min(8, hidden - j0);
    let u = 0;
    if (ASC_FEATURE_SIMD) {
      for (; u + 4 <= n; u += 4) {
        const q = <usize>(j0 + u) << 2;
        const acc = ACC + (<usize>u << 2);
        const cp = v128.load(c + q);
        let si = f32x4.add(v128.load(acc), v128.load(xw + q));
        let so = f32x4.add(v128.load(acc, 32), v128.load(xw + gs + q));
        let sf = f32x4.add(v128.load(acc, 64), v128.load(xw + 2 * gs + q));
        const sc = f32x4.add(v128.load(acc, 96), v128.load(xw + 3 * gs + q));
        if (p != 0) {
          si = madd4(v128.load(p + q), cp, si);
          sf = madd4(v128.load(p + 2 * gs + q), cp, sf);
        }
        const iv = gate4(si, f, f0, f1, clip);
        const fv = inputForget != 0 ? f32x4.sub(f32x4.splat(1), iv) : gate4(sf, f, f0, f1, clip);
        const cn = madd4(fv, cp, f32x4.mul(iv, gate4(sc, g, g0, g1, clip)));
        v128.store(c + q, cn);
        if (p != 0) so = madd4(v128.load(p + gs + q), cn, so);
        const hn = f32x4.mul(gate4(so, f, f0, f1, clip), act4(cn, a, a0, a1));
        v128.store(hout + q, hn);
        if (y != 0) v128.store(y + q, hn);
      }
    }
    for (; u < n; u++) {
      const q = <usize>(j0 + u) << 2;
      const acc = ACC + (<usize>u << 2);
      const cp = load<f32>(c + q);
      let si = load<f32>(acc) + load<f32>(xw + q);
      let so = load<f32>(acc, 32) + load<f32>(xw + gs + q);
      let sf = load<f32>(acc, 64) + load<f32>(xw + 2 * gs + q);
      const sc = load<f32>(acc, 96) + load<f32>(xw + 3 * gs + q);
      if (p != 0) {
        si += load<f32>(p + q) * cp;
        sf += load<f32>(p + 2 * gs + q) * cp;
      }
      const iv = gate1(si, f, f0, f1, clip);
      const fv: f32 = inputForget != 0 ? 1 - iv : gate1(sf, f, f0, f1, clip);
      const cn = fv * cp + iv * gate1(sc, g, g0, g1, clip);
      store<f32>(c + q, cn);
      if (p != 0) so += load<f32>(p + gs + q) * cn;
      const hn = gate1(so, f, f0, f1, clip) * act1(cn, a, a0, a1);
      store<f32>(hout + q, hn);
      if (y != 0) store<f32>(y + q, hn);
    }
    wp += panel;
  }
}
