// MaxPool over NCHW planes.
import { poolRow } from "./_pool";

/**
 * Max pooling of `channels` planes h x w at x into planes oh x ow at y: window kh x kw,
 * strides sh/sw, dilations dh/dw, top/left padding pt/pl (padding never wins the max).
 */
export function f32_maxpool_w4(
  channels: i32, x: usize, h: i32, w: i32, y: usize, oh: i32, ow: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
): void {
  const plane = <usize>h * <usize>w << 2;
  const oplane = <usize>oh * <usize>ow << 2;
  const ow4 = <usize>ow << 2;
  for (let ch = 0; ch < channels; ch++) {
    const xc = x + <usize>ch * plane;
    const yc = y + <usize>ch * oplane;
    for (let oy = 0; oy < oh; oy++) {
      poolRow(true, xc, h, w, yc + <usize>oy * ow4, oy, ow, kh, kw, sh, sw, dh, dw, pt, pl);
    }
  }
}
