// AveragePool over NCHW planes.
import { countTaps, poolRow } from "./_pool";

/**
 * Average pooling of `channels` planes h x w at x into planes oh x ow at y (window kh x kw,
 * strides sh/sw, dilations dh/dw, top/left padding pt/pl). Each window is divided by its
 * number of taps inside [cy0, cy1) x [cx0, cx1) in input coordinates: the input itself
 * (count_include_pad = 0) or the input with its padding. scratch: ow floats.
 */
export function f32_avgpool_w4(
  channels: i32, x: usize, h: i32, w: i32, y: usize, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
  cy0: i32, cy1: i32, cx0: i32, cx1: i32, scratch: usize,
): void {
  const plane = <usize>h * <usize>w << 2;
  const oplane = <usize>oh * <usize>ow << 2;
  const ow4 = <usize>ow << 2;
  // Reciprocal column counts, shared by every row and channel.
  for (let ox = 0; ox < ow; ox++) {
    const n = countTaps(ox * sw - pl, kw, dw, cx0, cx1);
    store<f32>(scratch + (<usize>ox << 2), n > 0 ? <f32>1.0 / <f32>n : 0);
  }
  for (let ch = 0; ch < channels; ch++) {
    const xc = x + <usize>ch * plane;
    const yc = y + <usize>ch * oplane;
    for (let oy = 0; oy < oh; oy++) {
      const yr = yc + <usize>oy * ow4;
      poolRow(false, xc, h, w, yr, oy, ow, kh, kw, sh, sw, dh, dw, pt, pl);
      const n = countTaps(oy * sh - pt, kh, dh, cy0, cy1);
      const rn: f32 = n > 0 ? <f32>1.0 / <f32>n : 0;
      let ox = 0;
      if (ASC_FEATURE_SIMD) {
        const vr = f32x4.splat(rn);
        for (; ox + 4 <= ow; ox += 4) {
          const o = <usize>ox << 2;
          v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(yr + o), vr), v128.load(scratch + o)));
        }
      }
      for (; ox < ow; ox++) {
        const o = <usize>ox << 2;
        store<f32>(yr + o, load<f32>(yr + o) * rn * load<f32>(scratch + o));
      }
    }
  }
}
