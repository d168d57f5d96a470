// Mamba-1 selective scan over a sequence (prefill), in blocks of tokens.
import { exp1 } from "../common/math";
import { hsum4, madd4 } from "../common/simd";
import { EXP_F, EXP_I, expk4 } from "./_exp";
import { finishOutput, prepareDt } from "./_selective";

/** Tokens per block: the block's dt', x and y columns stay in cache while channels sweep. */
const BLOCK = 16;

/**
 * The step of f32_scan_selective_step_x4 for L tokens in order, state h [D][N] carried:
 * token t reads row t of x (stride ldx), dt (lddt), B and C (ldb, ldc: B and C are usually
 * column slices of the x_proj output), z (ldz) and writes row t of y (ldy). Per block of
 * tokens each channel keeps its N state values in registers.
 */
export function f32_scan_selective_seq_x4(
  L: i32, D: i32, N: i32, x: usize, ldx: i32, dt: usize, lddt: i32, dtBias: usize,
  softplus: i32, A: usize, B: usize, ldb: i32, C: usize, ldc: i32, skip: usize, z: usize,
  ldz: i32, h: usize, y: usize, ldy: i32,
): void {
  const rowN = <usize>N << 2;
  const ldx4 = <usize>ldx << 2;
  const ldy4 = <usize>ldy << 2;
  const ldb4 = <usize>ldb << 2;
  const ldc4 = <usize>ldc << 2;
  for (let t0 = 0; t0 < L; t0 += BLOCK) {
    const T = min(BLOCK, L - t0);
    const xb = x + <usize>t0 * ldx4;
    const yb = y + <usize>t0 * ldy4;
    const bb = B + <usize>t0 * ldb4;
    const cb = C + <usize>t0 * ldc4;
    let dts = dt + <usize>t0 * (<usize>lddt << 2);
    let ldd4 = <usize>lddt << 2;
    if (dtBias != 0 || softplus != 0) {
      prepareDt(T, D, dts, lddt, dtBias, softplus, yb, ldy);
      dts = yb;
      ldd4 = ldy4;
    }
    if (ASC_FEATURE_SIMD) {
      scanBlock(T, D, N, xb, ldx4, dts, ldd4, A, bb, ldb4, cb, ldc4, h, yb, ldy4);
    } else {
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        const ap = A + <usize>d * rowN;
        const hp = h + <usize>d * rowN;
        for (let t = 0; t < T; t++) {
          const dtv = load<f32>(dts + <usize>t * ldd4 + o);
          const dx = dtv * load<f32>(xb + <usize>t * ldx4 + o);
          const bt = bb + <usize>t * ldb4;
          const ct = cb + <usize>t * ldc4;
          let s: f32 = 0;
          for (let n = 0; n < N; n++) {
            const q = <usize>n << 2;
            const hv = exp1(load<f32>(ap + q) * dtv) * load<f32>(hp + q) + dx * load<f32>(bt + q);
            store<f32>(hp + q, hv);
            s += load<f32>(ct + q) * hv;
          }
          store<f32>(yb + <usize>t * ldy4 + o, s);
        }
      }
    }
    finishOutput(T, D, xb, ldx, skip, z + (z != 0 ? <usize>t0 * (<usize>ldz << 2) : 0), ldz, yb, ldy);
  }
}

// One block of T tokens, vectorised over N. Strides are in bytes.
function scanBlock(
  T: i32, D: i32, N: i32, xb: usize, ldx4: usize, dts: usize, ldd4: usize, A: usize,
  bb: usize, ldb4: usize, cb: usize, ldc4: usize, h: usize, yb: usize, ldy4: usize,
): void {
  const rowN = <usize>N << 2;
  const k0 = v128.load32_splat(EXP_F), k1 = v128.load32_splat(EXP_F, 4);
  const k2 = v128.load32_splat(EXP_F, 8), k3 = v128.load32_splat(EXP_F, 12);
  const k4 = v128.load32_splat(EXP_F, 16), k5 = v128.load32_splat(EXP_F, 20);
  const k6 = v128.load32_splat(EXP_F, 24), k7 = v128.load32_splat(EXP_F, 28);
  const k8 = v128.load32_splat(EXP_F, 32), k9 = v128.load32_splat(EXP_F, 36);
  const k10 = v128.load32_splat(EXP_F, 40), k11 = v128.load32_splat(EXP_F, 44);
  const k12 = v128.load32_splat(EXP_F, 48), ki = v128.load32_splat(EXP_I);
  for (let d = 0; d < D; d++) {
    const o = <usize>d << 2;
    const ap = A + <usize>d * rowN;
    const hp = h + <usize>d * rowN;
    if (N == 16) {
      // The state of the channel stays in registers for the whole block; A is reloaded from
      // L1 so the exponential's constants keep their registers.
      let h0 = v128.load(hp), h1 = v128.load(hp, 16), h2 = v128.load(hp, 32), h3 = v128.load(hp, 48);
      for (let t = 0; t < T; t++) {
        const dtv = v128.load32_splat(dts + <usize>t * ldd4 + o);
        const dx = f32x4.mul(dtv, v128.load32_splat(xb + <usize>t * ldx4 + o));
        const bt = bb + <usize>t * ldb4;
        const ct = cb + <usize>t * ldc4;
        const e0 = expk4(f32x4.mul(v128.load(ap), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e1 = expk4(f32x4.mul(v128.load(ap, 16), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e2 = expk4(f32x4.mul(v128.load(ap, 32), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        const e3 = expk4(f32x4.mul(v128.load(ap, 48), dtv), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
        h0 = madd4(e0, h0, f32x4.mul(dx, v128.load(bt)));
        h1 = madd4(e1, h1, f32x4.mul(dx, v128.load(bt, 16)));
        h2 = madd4(e2, h2, f32x4.mul(dx, v128.load(bt, 32)));
        h3 = madd4(e3, h3, f32x4.mul(dx, v128.load(bt, 48)));
        const acc = madd4(v128.load(ct, 48), h3, madd4(v128.load(ct, 32), h2,
          madd4(v128.load(ct, 16), h1, f32x4.mul(v128.load(ct), h0))));
        store<f32>(yb + <usize>t * ldy4 + o, hsum4(acc));
      }
      v128.store(hp, h0);
      v128.store(hp, h1, 16);
      v128.store(hp, h2, 32);
      v128.store(hp, h3, 48);
    } else {
      for (let t = 0; t < T; t++) {
        const dtv = load<f32>(dts + <usize>t * ldd4 + o);
        const dx = dtv * load<f32>(xb + <usize>t * ldx4 + o);
        const bt = bb + <usize>t * ldb4;
        const ct = cb + <usize>t * ldc4;
        const dtv4 = f32x4.splat(dtv);
        const dx4 = f32x4.splat(dx);
        let acc = f32x4.splat(0);
        let n = 0;
        for (; n + 4 <= N; n += 4) {
          const q = <usize>n << 2;
          const e = expk4(f32x4.mul(v128.load(ap + q), dtv4), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ki);
          const hv = madd4(e, v128.load(hp + q), f32x4.mul(dx4, v128.load(bt + q)));
          v128.store(hp + q, hv);
          acc = madd4(v128.load(ct + q), hv, acc);
        }
        let s = hsum4(acc);
        for (; n < N; n++) {
          const q = <usize>n << 2;
          const hv = exp1(load<f32>(ap + q) * dtv) * load<f32>(hp + q) + dx * load<f32>(bt + q);
          store<f32>(hp + q, hv);
          s += load<f32>(ct + q) * hv;
        }
        store<f32>(yb + <usize>t * ldy4 + o, s);
      }
    }
  }
}
