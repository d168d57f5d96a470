// Mamba-1 selective scan, one token (decode): state update and output for every channel.
import { exp1 } from "../common/math";
import { hsum4, madd4 } from "../common/simd";
import { EXP_F, EXP_I, expk4 } from "./_exp";
import { finishOutput, prepareDt } from "./_selective";

/**
 * For each channel d < D with dt' = softplus?(dt[d] + dtBias[d]):
 *   h[d][n] = exp(dt' A[d][n]) h[d][n] + dt' B[n] x[d],  y[d] = sum_n C[n] h[d][n],
 *   then y[d] = (y[d] + Dskip[d] x[d]) * silu(z[d]).
 * A: [D][N] (A = -exp(A_log)); h: [D][N], updated in place; dtBias, Dskip, z: offsets or 0;
 * softplus: 0 or 1. y must not overlap the inputs (it holds dt' while the step runs).
 */
export function f32_scan_selective_step_x4(
  D: i32, N: i32, x: usize, dt: usize, dtBias: usize, softplus: i32, A: usize, B: usize,
  C: usize, skip: usize, z: usize, h: usize, y: usize,
): void {
  let dts = dt;
  if (dtBias != 0 || softplus != 0) {
    prepareDt(1, D, dt, D, dtBias, softplus, y, D);
    dts = y;
  }
  const rowN = <usize>N << 2;
  if (ASC_FEATURE_SIMD) {
    const k0 = v128.load32_splat(EXP_F), k1 = v128.load32_splat(EXP_F, 4);
    const k2 = v128.load32_splat(EXP_F, 8), k3 = v128.load32_splat(EXP_F, 12);
    const k4 = v128.load32_splat(EXP_F, 16), k5 = v128.load32_splat(EXP_F, 20);
    const k6 = v128.load32_splat(EXP_F, 24), k7 = v128.load32_splat(EXP_F, 28);
    const k8 = v128.load32_splat(EXP_F, 32), k9 = v128.load32_splat(EXP_F, 36);
    const k10 = v128.load32_splat(EXP_F, 40), k11 = v128.load32_splat(EXP_F, 44);
    const k12 = v128.load32_splat(EXP_F, 48), ki = v128.load32_splat(EXP_I);
    if (N == 16) {
      // The common case: B and C stay in registers for every channel.
      const b0 = v128.load(B), b1 = v128.load(B, 16), b2 = v128.load(B, 32), b3 = v128.load(B, 48);
      const c0 = v128.load(C), c1 = v128.load(C, 16), c2 = v128.load(C, 32), c3 = v128.load(C, 48);
      let ap = A;
      let hp = h;
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        const dtv = v128.load32_splat(dts + o);
        const dx = f32x4.mul(dtv, v128.load32_splat(x + o));
        const e0 = expk4(f32x4.mul(v128.load(ap), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e1 = expk4(f32x4.mul(v128.load(ap, 16), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e2 = expk4(f32x4.mul(v128.load(ap, 32), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e3 = expk4(f32x4.mul(v128.load(ap, 48), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const h0 = madd4(e0, v128.load(hp), f32x4.mul(dx, b0));
        const h1 = madd4(e1, v128.load(hp, 16), f32x4.mul(dx, b1));
        const h2 = madd4(e2, v128.load(hp, 32), f32x4.mul(dx, b2));
        const h3 = madd4(e3, v128.load(hp, 48), f32x4.mul(dx, b3));
        v128.store(hp, h0);
        v128.store(hp, h1, 16);
        v128.store(hp, h2, 32);
        v128.store(hp, h3, 48);
        const acc = madd4(c3, h3, madd4(c2, h2, madd4(c1, h1, f32x4.mul(c0, h0))));
        store<f32>(y + o, hsum4(acc));
        ap += 64;
        hp += 64;
      }
    } else {
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        const dtv = load<f32>(dts + o);
        const dx = dtv * load<f32>(x + o);
        const ap = A + <usize>d * rowN;
        const hp = h + <usize>d * rowN;
        const dtv4 = f32x4.splat(dtv);
        const dx4 = f32x4.splat(dx);
        let acc = f32x4.splat(0);
        let n = 0;
        for (; n + 4 <= N; n += 4) {
          const q = <usize>n << 2;
          const e = expk4(f32x4.mul(v128.load(ap + q), dtv4), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
          const hv = madd4(e, v128.load(hp + q), f32x4.mul(dx4, v128.load(B + q)));
          v128.store(hp + q, hv);
          acc = madd4(v128.load(C + q), hv, acc);
        }
        let s = hsum4(acc);
        for (; n < N; n++) {
          const q = <usize>n << 2;
          const hv = exp1(load<f32>(ap + q) * dtv) * load<f32>(hp + q) + dx * load<f32>(B + q);
          store<f32>(hp + q, hv);
          s += load<f32>(C + q) * hv;
        }
        store<f32>(y + o, s);
      }
    }
  } else {
    for (let d = 0; d < D; d++) {
      const o = <usize>d << 2;
      const dtv = load<f32>(dts + o);
      const dx = dtv * load<f32>(x + o);
      const ap = A + <usize>d * rowN;
      const hp = h + <usize>d * rowN;
      let s: f32 = 0;
      for (let n = 0; n < N; n++) {
        const q = <usize>n << 2;
        const hv = exp1(load<f32>(ap + q) * dtv) * load<f32>(hp + q) + dx * load<f32>(B + q);
        store<f32>(hp + q, hv);
        s += load<f32>(C + q) * hv;
      }
      store<f32>(y + o, s);
    }
  }
  finishOutput(1, D, x, D, skip, z, D, y, D);
}
