// Pattern-sparse 3x3 convolution (NCHW, stride 1 or 2, dilation 1) over zero-padded planes
// (x32_pad_planes): y[co] = act(bias[co] + Σ kept kernels (ci, pattern) of co, 4 taps each
// + residual[co]).
//
// Weight layout (engine/weights/pattern3x3.ts):
// - filters: m + 1 pairs [first run, first kernel] (i32), so filter co owns runs
//   [filters[co].run, filters[co+1].run) and its kernels in order;
// - runs: pairs [pattern id, kernel count] (i32): the filter's kernels sorted by pattern, so
//   each run is one branch-free loop;
// - kernels: 5 words each: input channel (i32) and the 4 tap values (f32);
// - taps: 4 word offsets per pattern, relative to the top-left tap of an output pixel's
//   window in a padded plane (the caller resolves them for the plane's row stride).
// Two output rows at a time share every weight splat: 16 pixels of each row (8 accumulators,
// enough independent FMA chains to keep both FMA ports busy); an odd last row runs alone.
// The 16-pixel column block is the outer loop and the filters the inner one, so the block's
// input rows stay in L1 while every filter reads them. A row's last block may run past the
// row end: its extra lanes are computed from the planes' slack (engine/weights/
// pattern3x3.ts paddedPlanes) and not stored. No static scratch: threads split the output rows.
import { activate1, activate4 } from "../common/activation";
import { madd4 } from "../common/simd";
import { CLAMP } from "../common/gen/activation_codes";

@inline function act4(x: v128, act: i32, p0: f32, p1: f32): v128 {
  if (act == CLAMP) return f32x4.min(f32x4.max(x, f32x4.splat(p0)), f32x4.splat(p1));
  return activate4(x, act, p0, p1);
}

function finish(a: v128, yo: usize, ro: usize, residual: usize, act: i32, p0: f32, p1: f32): void {
  v128.store(yo, act4(residual != 0 ? f32x4.add(a, v128.load(ro)) : a, act, p0, p1));
}

/** Stores the first `left` lanes of a (all 4 when left ≥ 4, none when left ≤ 0). */
function finishSome(
  a: v128, left: i32, yo: usize, ro: usize, residual: usize, act: i32, p0: f32, p1: f32,
): void {
  if (left >= 4) {
    finish(a, yo, ro, residual, act, p0, p1);
    return;
  }
  if (left <= 0) return;
  store<f32>(yo, activate1(f32x4.extract_lane(a, 0) + (residual != 0 ? load<f32>(ro) : 0), act, p0, p1));
  if (left > 1) store<f32>(yo, activate1(f32x4.extract_lane(a, 1) + (residual != 0 ? load<f32>(ro, 4) : 0), act, p0, p1), 4);
  if (left > 2) store<f32>(yo, activate1(f32x4.extract_lane(a, 2) + (residual != 0 ? load<f32>(ro, 8) : 0), act, p0, p1), 8);
}

/**
 * Output rows [oy0, oy1) of output channels [m0, m1). xp: padded planes (planeStride,
 * rowStride words); s: stride; y: m x oh x ow; bias: m floats or 0; residual: like y or 0.
 */
export function f32_conv3x3_pattern_w16(
  m0: i32, m1: i32, oy0: i32, oy1: i32, filters: usize, runs: usize, kernels: usize,
  taps: usize, xp: usize, planeStride: i32, rowStride: i32, s: i32, oh: i32, ow: i32,
  bias: usize, residual: usize, y: usize, act: i32, p0: f32, p1: f32,
): void {
  const ps = <usize>planeStride;
  const owb = <usize>ow << 2;
  // Byte distance between the windows of two consecutive output rows.
  const dr = <usize>(s * rowStride) << 2;
  let oy = oy0;
  if (ASC_FEATURE_SIMD) {
    for (; oy + 2 <= oy1; oy += 2) {
      const rowOff = <usize>(oy * s) * <usize>rowStride;
      for (let ox = 0; ox < ow; ox += 16) {
        const xrow = xp + (rowOff + <usize>ox << 2);
        const left = ow - ox;
        for (let co = m0; co < m1; co++) {
          const fp = filters + (<usize>co << 3);
          const r1 = load<i32>(fp, 8);
          let kp = kernels + <usize>load<i32>(fp, 4) * 20;
          const bv = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>co << 2)) : 0);
          let a0 = bv; let a1 = bv; let a2 = bv; let a3 = bv; let c0 = bv; let c1 = bv; let c2 = bv; let c3 = bv;
          for (let r = load<i32>(fp); r < r1; r++) {
            const rp = runs + (<usize>r << 3);
            const tp = taps + (<usize>load<i32>(rp) << 4);
            const o0 = <usize>load<i32>(tp) << 2;
            const o1 = <usize>load<i32>(tp, 4) << 2;
            const o2 = <usize>load<i32>(tp, 8) << 2;
            const o3 = <usize>load<i32>(tp, 12) << 2;
            const end = kp + <usize>load<i32>(rp, 4) * 20;
            for (; kp < end; kp += 20) {
              const base = xrow + (<usize>load<i32>(kp) * ps << 2);
              const w0 = v128.load32_splat(kp, 4);
              const w1 = v128.load32_splat(kp, 8);
              const w2 = v128.load32_splat(kp, 12);
              const w3 = v128.load32_splat(kp, 16);
              const q0 = base + o0;
              const q1 = base + o1;
              const q2 = base + o2;
              const q3 = base + o3;
              a0 = madd4(w0, v128.load(q0, 0), a0);
              a1 = madd4(w0, v128.load(q0, 16), a1);
              a2 = madd4(w0, v128.load(q0, 32), a2);
              a3 = madd4(w0, v128.load(q0, 48), a3);
              c0 = madd4(w0, v128.load(q0 + dr, 0), c0);
              c1 = madd4(w0, v128.load(q0 + dr, 16), c1);
              c2 = madd4(w0, v128.load(q0 + dr, 32), c2);
              c3 = madd4(w0, v128.load(q0 + dr, 48), c3);
              a0 = madd4(w1, v128.load(q1, 0), a0);
              a1 = madd4(w1, v128.load(q1, 16), a1);
              a2 = madd4(w1, v128.load(q1, 32), a2);
              a3 = madd4(w1, v128.load(q1, 48), a3);
              c0 = madd4(w1, v128.load(q1 + dr, 0), c0);
              c1 = madd4(w1, v128.load(q1 + dr, 16), c1);
              c2 = madd4(w1, v128.load(q1 + dr, 32), c2);
              c3 = madd4(w1, v128.load(q1 + dr, 48), c3);
              a0 = madd4(w2, v128.load(q2, 0), a0);
              a1 = madd4(w2, v128.load(q2, 16), a1);
              a2 = madd4(w2, v128.load(q2, 32), a2);
              a3 = madd4(w2, v128.load(q2, 48), a3);
              c0 = madd4(w2, v128.load(q2 + dr, 0), c0);
              c1 = madd4(w2, v128.load(q2 + dr, 16), c1);
              c2 = madd4(w2, v128.load(q2 + dr, 32), c2);
              c3 = madd4(w2, v128.load(q2 + dr, 48), c3);
              a0 = madd4(w3, v128.load(q3, 0), a0);
              a1 = madd4(w3, v128.load(q3, 16), a1);
              a2 = madd4(w3, v128.load(q3, 32), a2);
              a3 = madd4(w3, v128.load(q3, 48), a3);
              c0 = madd4(w3, v128.load(q3 + dr, 0), c0);
              c1 = madd4(w3, v128.load(q3 + dr, 16), c1);
              c2 = madd4(w3, v128.load(q3 + dr, 32), c2);
              c3 = madd4(w3, v128.load(q3 + dr, 48), c3);
            }
          }
          const at = ((<usize>co * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2;
          const yo = y + at;
          const ro = residual + at;
          finishSome(a0, left - 0, yo + 0, ro + 0, residual, act, p0, p1);
          finishSome(a1, left - 4, yo + 16, ro + 16, residual, act, p0, p1);
          finishSome(a2, left - 8, yo + 32, ro + 32, residual, act, p0, p1);
          finishSome(a3, left - 12, yo + 48, ro + 48, residual, act, p0, p1);
          finishSome(c0, left - 0, yo + owb + 0, ro + owb + 0, residual, act, p0, p1);
          finishSome(c1, left - 4, yo + owb + 16, ro + owb + 16, residual, act, p0, p1);
          finishSome(c2, left - 8, yo + owb + 32, ro + owb + 32, residual, act, p0, p1);
          finishSome(c3, left - 12, yo + owb + 48, ro + owb + 48, residual, act, p0, p1);
        }
      }
    }
    for (; oy < oy1; oy++) {
      const rowOff = <usize>(oy * s) * <usize>rowStride;
      for (let ox = 0; ox < ow; ox += 16) {
        const xrow = xp + (rowOff + <usize>ox << 2);
        const left = ow - ox;
        for (let co = m0; co < m1; co++) {
          const fp = filters + (<usize>co << 3);
          const r1 = load<i32>(fp, 8);
          let kp = kernels + <usize>load<i32>(fp, 4) * 20;
          const bv = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>co << 2)) : 0);
          let a0 = bv; let a1 = bv; let a2 = bv; let a3 = bv;
          for (let r = load<i32>(fp); r < r1; r++) {
            const rp = runs + (<usize>r << 3);
            const tp = taps + (<usize>load<i32>(rp) << 4);
            const o0 = <usize>load<i32>(tp) << 2;
            const o1 = <usize>load<i32>(tp, 4) << 2;
            const o2 = <usize>load<i32>(tp, 8) << 2;
            const o3 = <usize>load<i32>(tp, 12) << 2;
            const end = kp + <usize>load<i32>(rp, 4) * 20;
            for (; kp < end; kp += 20) {
              const base = xrow + (<usize>load<i32>(kp) * ps << 2);
              const w0 = v128.load32_splat(kp, 4);
              const w1 = v128.load32_splat(kp, 8);
              const w2 = v128.load32_splat(kp, 12);
              const w3 = v128.load32_splat(kp, 16);
              const q0 = base + o0;
              const q1 = base + o1;
              const q2 = base + o2;
              const q3 = base + o3;
              a0 = madd4(w0, v128.load(q0, 0), a0);
              a1 = madd4(w0, v128.load(q0, 16), a1);
              a2 = madd4(w0, v128.load(q0, 32), a2);
              a3 = madd4(w0, v128.load(q0, 48), a3);
              a0 = madd4(w1, v128.load(q1, 0), a0);
              a1 = madd4(w1, v128.load(q1, 16), a1);
              a2 = madd4(w1, v128.load(q1, 32), a2);
              a3 = madd4(w1, v128.load(q1, 48), a3);
              a0 = madd4(w2, v128.load(q2, 0), a0);
              a1 = madd4(w2, v128.load(q2, 16), a1);
              a2 = madd4(w2, v128.load(q2, 32), a2);
              a3 = madd4(w2, v128.load(q2, 48), a3);
              a0 = madd4(w3, v128.load(q3, 0), a0);
              a1 = madd4(w3, v128.load(q3, 16), a1);
              a2 = madd4(w3, v128.load(q3, 32), a2);
              a3 = madd4(w3, v128.load(q3, 48), a3);
            }
          }
          const at = ((<usize>co * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2;
          const yo = y + at;
          const ro = residual + at;
          finishSome(a0, left - 0, yo + 0, ro + 0, residual, act, p0, p1);
          finishSome(a1, left - 4, yo + 16, ro + 16, residual, act, p0, p1);
          finishSome(a2, left - 8, yo + 32, ro + 32, residual, act, p0, p1);
          finishSome(a3, left - 12, yo + 48, ro + 48, residual, act, p0, p1);
        }
      }
    }
    return;
  }
  for (; oy < oy1; oy++) {
    const rowOff = <usize>(oy * s) * <usize>rowStride;
    for (let co = m0; co < m1; co++) {
      const fp = filters + (<usize>co << 3);
      const r0 = load<i32>(fp);
      const r1 = load<i32>(fp, 8);
      const kb = kernels + <usize>load<i32>(fp, 4) * 20;
      const b: f32 = bias != 0 ? load<f32>(bias + (<usize>co << 2)) : 0;
      const pix = (<usize>co * <usize>oh + <usize>oy) * <usize>ow;
      for (let ox = 0; ox < ow; ox++) {
        let sum = b;
        let kp = kb;
        const xpix = xp + (rowOff + <usize>ox << 2);
        for (let r = r0; r < r1; r++) {
          const rp = runs + (<usize>r << 3);
          const tp = taps + (<usize>load<i32>(rp) << 4);
          const end = kp + <usize>load<i32>(rp, 4) * 20;
          for (; kp < end; kp += 20) {
            const base = xpix + (<usize>load<i32>(kp) * ps << 2);
            sum += load<f32>(kp, 4) * load<f32>(base + (<usize>load<i32>(tp) << 2));
            sum += load<f32>(kp, 8) * load<f32>(base + (<usize>load<i32>(tp, 4) << 2));
            sum += load<f32>(kp, 12) * load<f32>(base + (<usize>load<i32>(tp, 8) << 2));
            sum += load<f32>(kp, 16) * load<f32>(base + (<usize>load<i32>(tp, 12) << 2));
          }
        }
        const at = (pix + <usize>ox) << 2;
        if (residual != 0) sum += load<f32>(residual + at);
        store<f32>(y + at, activate1(sum, act, p0, p1));
      }
    }
  }
}
