// Passes shared by the selective-scan kernels. Both kernels run in three passes over a block
// of tokens: dt (bias, softplus) vectorised over channels into y, which doubles as scratch;
// the recurrence per channel (vectorised over the state size N); then the D skip and the
// SiLU(z) gate vectorised over channels again. Transcendentals stay out of the scalar path.
import { madd4 } from "../common/simd";
import { sigmoid1, sigmoid4 } from "../common/math";
import { softplus1, softplus4 } from "./_softplus";

/** y[t][d] = dt[t][d] + bias[d], through softplus when asked, for T rows. */
export function prepareDt(
  T: i32, D: i32, dt: usize, lddt: i32, bias: usize, softplus: i32, y: usize, ldy: i32,
): void {
  for (let t = 0; t < T; t++) {
    const src = dt + <usize>t * (<usize>lddt << 2);
    const dst = y + <usize>t * (<usize>ldy << 2);
    let d = 0;
    if (ASC_FEATURE_SIMD) {
      for (; d + 4 <= D; d += 4) {
        const o = <usize>d << 2;
        let v = v128.load(src + o);
        if (bias != 0) v = f32x4.add(v, v128.load(bias + o));
        if (softplus != 0) v = softplus4(v);
        v128.store(dst + o, v);
      }
    }
    for (; d < D; d++) {
      const o = <usize>d << 2;
      let v = load<f32>(src + o);
      if (bias != 0) v += load<f32>(bias + o);
      if (softplus != 0) v = softplus1(v);
      store<f32>(dst + o, v);
    }
  }
}

/** y[t][d] = (y[t][d] + Dskip[d] x[t][d]) * silu(z[t][d]), each part optional, for T rows. */
export function finishOutput(
  T: i32, D: i32, x: usize, ldx: i32, skip: usize, z: usize, ldz: i32, y: usize, ldy: i32,
): void {
  if (skip == 0 && z == 0) return;
  for (let t = 0; t < T; t++) {
    const xr = x + <usize>t * (<usize>ldx << 2);
    const zr = z + <usize>t * (<usize>ldz << 2);
    const yr = y + <usize>t * (<usize>ldy << 2);
    let d = 0;
    if (ASC_FEATURE_SIMD) {
      for (; d + 4 <= D; d += 4) {
        const o = <usize>d << 2;
        let v = v128.load(yr + o);
        if (skip != 0) v = madd4(v128.load(skip + o), v128.load(xr + o), v);
        if (z != 0) {
          const zv = v128.load(zr + o);
          v = f32x4.mul(v, f32x4.mul(zv, sigmoid4(zv)));
        }
        v128.store(yr + o, v);
      }
    }
    for (; d < D; d++) {
      const o = <usize>d << 2;
      let v = load<f32>(yr + o);
      if (skip != 0) v += load<f32>(skip + o) * load<f32>(xr + o);
      if (z != 0) {
        const zv = load<f32>(zr + o);
        v *= zv * sigmoid1(zv);
      }
      store<f32>(yr + o, v);
    }
  }
}
