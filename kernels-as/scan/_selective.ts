// Passes shared by the selective-scan kernels. Both kernels run in three passes over a block
// of tokens: dt (bias, softplus) vectorised over channels into y, which doubles as scratch;
// the recurrence per channel (vectorised over the state size N); then the D skip and the
// SiLU(z) gate vectorised over channels again. Transcendentals stay out of the scalar path.
import { hsum4, madd4 } from "../common/simd";
import { exp1, sigmoid1 } from "../common/math";
import { expk4, loadExpConstants, ONE } from "./_exp";
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
  loadExpConstants();
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2;
    let v = v128.load(src + o);
    if (bias != 0) v = f32x4.add(v, v128.load(bias + o));
    if (softplus != 0) {
      const e = expk4(f32x4.neg(f32x4.abs(v)));
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
  loadExpConstants();
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2;
    let v = v128.load(yr + o);
    if (skip != 0) v = madd4(v128.load(skip + o), v128.load(xr + o), v);
    if (zr != 0) {
      const zv = v128.load(zr + o);
      const e = expk4(f32x4.neg(zv));
      // silu(z) = z / (1 + e^-z).
      v = f32x4.mul(v, f32x4.div(zv, f32x4.add(e, ONE)));
    }
    v128.store(yr + o, v);
  }
  return d;
}

/**
 * The recurrence for T tokens: h[d] = exp(dt A[d]) h[d] + dt x B, y = C · h, per channel d.
 * dt' (prepared), x, y rows and B, C rows at the given byte strides.
 */
export function scanTokens(
  T: i32, D: i32, N: i32, x: usize, ldx4: usize, dts: usize, ldd4: usize, A: usize,
  B: usize, ldb4: usize, C: usize, ldc4: usize, h: usize, y: usize, ldy4: usize,
): void {
  const rowN = <usize>N << 2;
  if (ASC_FEATURE_SIMD) loadExpConstants();
  for (let d = 0; d < D; d++) {
    const o = <usize>d << 2;
    const ap = A + <usize>d * rowN;
    const hp = h + <usize>d * rowN;
    if (ASC_FEATURE_SIMD && N == 16) {
      channel16(T, o, x, ldx4, dts, ldd4, ap, B, ldb4, C, ldc4, hp, y, ldy4);
      continue;
    }
    for (let t = 0; t < T; t++) {
      const dtv = load<f32>(dts + <usize>t * ldd4 + o);
      const dx = dtv * load<f32>(x + <usize>t * ldx4 + o);
      const bt = B + <usize>t * ldb4;
      const ct = C + <usize>t * ldc4;
      let s: f32 = 0;
      let n = 0;
      if (ASC_FEATURE_SIMD) {
        const dtv4 = f32x4.splat(dtv);
        const dx4 = f32x4.splat(dx);
        let acc = f32x4.splat(0);
        for (; n + 4 <= N; n += 4) {
          const q = <usize>n << 2;
          const e = expk4(f32x4.mul(v128.load(ap + q), dtv4));
          const hv = madd4(e, v128.load(hp + q), f32x4.mul(dx4, v128.load(bt + q)));
          v128.store(hp + q, hv);
          acc = madd4(v128.load(ct + q), hv, acc);
        }
        s = hsum4(acc);
      }
      for (; n < N; n++) {
        const q = <usize>n << 2;
        const hv = exp1(load<f32>(ap + q) * dtv) * load<f32>(hp + q) + dx * load<f32>(bt + q);
        store<f32>(hp + q, hv);
        s += load<f32>(ct + q) * hv;
      }
      store<f32>(y + <usize>t * ldy4 + o, s);
    }
  }
}

// N = 16 (Mamba-1): the channel's state stays in registers for all T tokens; A is reloaded
// from L1 so the exponential's constants keep theirs.
@inline function channel16(
  T: i32, o: usize, x: usize, ldx4: usize, dts: usize, ldd4: usize, ap: usize, B: usize,
  ldb4: usize, C: usize, ldc4: usize, hp: usize, y: usize, ldy4: usize,
): void {
  let h0 = v128.load(hp);
  let h1 = v128.load(hp, 16);
  let h2 = v128.load(hp, 32);
  let h3 = v128.load(hp, 48);
  for (let t = 0; t < T; t++) {
    const dtv = v128.load32_splat(dts + <usize>t * ldd4 + o);
    const dx = f32x4.mul(dtv, v128.load32_splat(x + <usize>t * ldx4 + o));
    const bt = B + <usize>t * ldb4;
    const ct = C + <usize>t * ldc4;
    h0 = madd4(expk4(f32x4.mul(v128.load(ap), dtv)), h0, f32x4.mul(dx, v128.load(bt)));
    h1 = madd4(expk4(f32x4.mul(v128.load(ap, 16), dtv)), h1, f32x4.mul(dx, v128.load(bt, 16)));
    h2 = madd4(expk4(f32x4.mul(v128.load(ap, 32), dtv)), h2, f32x4.mul(dx, v128.load(bt, 32)));
    h3 = madd4(expk4(f32x4.mul(v128.load(ap, 48), dtv)), h3, f32x4.mul(dx, v128.load(bt, 48)));
    const acc = madd4(v128.load(ct, 48), h3, madd4(v128.load(ct, 32), h2,
      madd4(v128.load(ct, 16), h1, f32x4.mul(v128.load(ct), h0))));
    store<f32>(y + <usize>t * ldy4 + o, hsum4(acc));
  }
  v128.store(hp, h0);
  v128.store(hp, h1, 16);
  v128.store(hp, h2, 32);
  v128.store(hp, h3, 48);
}
