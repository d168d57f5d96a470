// Passes shared by the selective-scan kernels. Both kernels run in three passes over a block
// of tokens: dt (bias, softplus) vectorised over channels into y, which doubles as scratch;
// the recurrence per channel (vectorised over the state size N); then the D skip and the
// SiLU(z) gate vectorised over channels again. Transcendentals stay out of the scalar path.
import { madd4 } from "../common/simd";
import { sigmoid1 } from "../common/math";
import { EXP_F, EXP_I, expk4 } from "./_exp";
import { softplus1, softplusFromExp4 } from "./_softplus";

/** y[t][d] = dt[t][d] + bias[d], through softplus when asked, for T rows. */
export function prepareDt(
  T: i32, D: i32, dt: usize, lddt: i32, bias: usize, softplus: i32, y: usize, ldy: i32,
): void {
  for (let t = 0; t < T; t++) {
    const src = dt + <usize>t * (<usize>lddt << 2);
    const dst = y + <usize>t * (<usize>ldy << 2);
    let d = 0;
    if (ASC_FEATURE_SIMD) d = prepareDtRow4(D, src, bias, softplus, dst);
    for (; d < D; d++) {
      const o = <usize>d << 2;
      let v = load<f32>(src + o);
      if (bias != 0) v += load<f32>(bias + o);
      if (softplus != 0) v = softplus1(v);
      store<f32>(dst + o, v);
    }
  }
}

// The vector part of one row of prepareDt; returns how many channels it did.
function prepareDtRow4(D: i32, src: usize, bias: usize, softplus: i32, dst: usize): i32 {
  const k0 = v128.load32_splat(EXP_F), k1 = v128.load32_splat(EXP_F, 4);
  const k2 = v128.load32_splat(EXP_F, 8), k3 = v128.load32_splat(EXP_F, 12);
  const k4 = v128.load32_splat(EXP_F, 16), k5 = v128.load32_splat(EXP_F, 20);
  const k6 = v128.load32_splat(EXP_F, 24), k7 = v128.load32_splat(EXP_F, 28);
  const k8 = v128.load32_splat(EXP_F, 32), k9 = v128.load32_splat(EXP_F, 36);
  const k10 = v128.load32_splat(EXP_F, 40), k11 = v128.load32_splat(EXP_F, 44);
  const k12 = v128.load32_splat(EXP_F, 48), ki = v128.load32_splat(EXP_I);
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2;
    let v = v128.load(src + o);
    if (bias != 0) v = f32x4.add(v, v128.load(bias + o));
    if (softplus != 0) {
      const e = expk4(f32x4.neg(f32x4.abs(v)), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
      v = softplusFromExp4(v, e);
    }
    v128.store(dst + o, v);
  }
  return d;
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
    if (ASC_FEATURE_SIMD) d = finishRow4(D, xr, skip, z != 0 ? zr : 0, yr);
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

// The vector part of one row of finishOutput; returns how many channels it did.
function finishRow4(D: i32, xr: usize, skip: usize, zr: usize, yr: usize): i32 {
  const k0 = v128.load32_splat(EXP_F), k1 = v128.load32_splat(EXP_F, 4);
  const k2 = v128.load32_splat(EXP_F, 8), k3 = v128.load32_splat(EXP_F, 12);
  const k4 = v128.load32_splat(EXP_F, 16), k5 = v128.load32_splat(EXP_F, 20);
  const k6 = v128.load32_splat(EXP_F, 24), k7 = v128.load32_splat(EXP_F, 28);
  const k8 = v128.load32_splat(EXP_F, 32), k9 = v128.load32_splat(EXP_F, 36);
  const k10 = v128.load32_splat(EXP_F, 40), k11 = v128.load32_splat(EXP_F, 44);
  const k12 = v128.load32_splat(EXP_F, 48), ki = v128.load32_splat(EXP_I);
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2;
    let v = v128.load(yr + o);
    if (skip != 0) v = madd4(v128.load(skip + o), v128.load(xr + o), v);
    if (zr != 0) {
      const zv = v128.load(zr + o);
      const e = expk4(f32x4.neg(zv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
      // silu(z) = z / (1 + e^-z); k12 is 1.
      v = f32x4.mul(v, f32x4.div(zv, f32x4.add(e, k12)));
    }
    v128.store(yr + o, v);
  }
  return d;
}
