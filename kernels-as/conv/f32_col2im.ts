// col2im for ConvTranspose: scatter-adds the GEMM's columns into the output planes.

@inline function floorDiv(a: i32, b: i32): i32 {
  const q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/**
 * Adds col (rows (mo, ky, kx) for mo < m, row stride ldc floats; one column per input pixel
 * [p0, p0 + np), row-major over an input of width w) into the m output planes oh x ow at y:
 * input pixel (iy, ix) under tap (ky, kx) lands on (iy*sh - pt + ky*dh, ix*sw - pl + kx*dw)
 * when that is inside the output.
 */
export function f32_col2im(
  col: usize, ldc: i32, m: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  pt: i32, pl: i32, w: i32, p0: i32, np: i32, y: usize, oh: i32, ow: i32,
): void {
  const ldc4 = <usize>ldc << 2;
  const oplane = <usize>oh * <usize>ow << 2;
  const ow4 = <usize>ow << 2;
  const step = <usize>sw << 2;
  let row = col;
  for (let mo = 0; mo < m; mo++) {
    const ym = y + <usize>mo * oplane;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        // Input columns whose output lands inside the row: ix in [lo, hi).
        const off = kx * dw - pl;
        const lo = max(0, floorDiv(-off + sw - 1, sw));
        const hi = max(lo, floorDiv(ow - 1 - off, sw) + 1);
        let p = p0;
        let t = 0;
        while (t < np) {
          const iy = p / w;
          const ix0 = p - iy * w;
          const seg = min(w - ix0, np - t);
          const oy = iy * sh - pt + ky * dh;
          if (oy >= 0 && oy < oh) {
            const a = max(lo, ix0);
            const b = min(hi, ix0 + seg);
            let src = row + (<usize>(t + a - ix0) << 2);
            let dst = ym + <usize>oy * ow4 + (<usize>(a * sw + off) << 2);
            let ix = a;
            if (ASC_FEATURE_SIMD && sw == 1) {
              for (; ix + 4 <= b; ix += 4) {
                v128.store(dst, f32x4.add(v128.load(dst), v128.load(src)));
                src += 16;
                dst += 16;
              }
            }
            for (; ix < b; ix++) {
              store<f32>(dst, load<f32>(dst) + load<f32>(src));
              src += 4;
              dst += step;
            }
          }
          p += seg;
          t += seg;
        }
        row += ldc4;
      }
    }
  }
}
