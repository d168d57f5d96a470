// Mamba-1 selective scan, one token (decode): state update and output for every channel.
import { hsum4, madd4 } from "../common/simd";
import { expk4, loadExpConstants } from "./_exp";
import { finishOutput, prepareDt, scanTokens } from "./_selective";

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
  if (ASC_FEATURE_SIMD && N == 16) {
    // The common case: B and C stay in registers for every channel.
    loadExpConstants();
    const b0 = v128.load(B), b1 = v128.load(B, 16), b2 = v128.load(B, 32), b3 = v128.load(B, 48);
    const c0 = v128.load(C), c1 = v128.load(C, 16), c2 = v128.load(C, 32), c3 = v128.load(C, 48);
    let ap = A;
    let hp = h;
    for (let d = 0; d < D; d++) {
      const o = <usize>d << 2;
      const dtv = v128.load32_splat(dts + o);
      const dx = f32x4.mul(dtv, v128.load32_splat(x + o));
      const h0 = madd4(expk4(f32x4.mul(v128.load(ap), dtv)), v128.load(hp), f32x4.mul(dx, b0));
      const h1 = madd4(expk4(f32x4.mul(v128.load(ap, 16), dtv)), v128.load(hp, 16), f32x4.mul(dx, b1));
      const h2 = madd4(expk4(f32x4.mul(v128.load(ap, 32), dtv)), v128.load(hp, 32), f32x4.mul(dx, b2));
      const h3 = madd4(expk4(f32x4.mul(v128.load(ap, 48), dtv)), v128.load(hp, 48), f32x4.mul(dx, b3));
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
    scanTokens(1, D, N, x, 0, dts, 0, A, B, 0, C, 0, h, y, 0);
  }
  finishOutput(1, D, x, D, skip, z, D, y, D);
}
