// Matrix-vector product for M = 1 (token-by-token decode, batch-1 Linear layers).
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { tailScratch } from "../common/tail_scratch";

/**
 * c[n] = act(a[k] · W + bias) with W packed by x32_pack_gemm with nr = 8. Memory-bound for
 * large W: four independent accumulator pairs keep the loads, not the FMA latency, the limit.
 */
export function f32_gemv_1x8(
  n: i32, k: i32, a: usize, w: usize, c: usize, act: i32, p0: f32, p1: f32,
): void {
  const panel = (<usize>k + 1) * 32;
  let wp = w;
  if (ASC_FEATURE_SIMD) {
    for (let j0 = 0; j0 < n; j0 += 8) {
      let c0 = v128.load(wp);
      let c1 = v128.load(wp, 16);
      let c2 = f32x4.splat(0);
      let c3 = f32x4.splat(0);
      let c4 = f32x4.splat(0);
      let c5 = f32x4.splat(0);
      let c6 = f32x4.splat(0);
      let c7 = f32x4.splat(0);
      let wk = wp + 32;
      let kk = 0;
      for (; kk + 4 <= k; kk += 4) {
        const x = v128.load(a + (<usize>kk << 2));
        const s0 = i32x4.shuffle(x, x, 0, 0, 0, 0);
        const s1 = i32x4.shuffle(x, x, 1, 1, 1, 1);
        const s2 = i32x4.shuffle(x, x, 2, 2, 2, 2);
        const s3 = i32x4.shuffle(x, x, 3, 3, 3, 3);
        c0 = madd4(s0, v128.load(wk), c0);
        c1 = madd4(s0, v128.load(wk, 16), c1);
        c2 = madd4(s1, v128.load(wk, 32), c2);
        c3 = madd4(s1, v128.load(wk, 48), c3);
        c4 = madd4(s2, v128.load(wk, 64), c4);
        c5 = madd4(s2, v128.load(wk, 80), c5);
        c6 = madd4(s3, v128.load(wk, 96), c6);
        c7 = madd4(s3, v128.load(wk, 112), c7);
        wk += 128;
      }
      for (; kk < k; kk++) {
        const s = v128.load32_splat(a + (<usize>kk << 2));
        c0 = madd4(s, v128.load(wk), c0);
        c1 = madd4(s, v128.load(wk, 16), c1);
        wk += 32;
      }
      c0 = f32x4.add(f32x4.add(c0, c2), f32x4.add(c4, c6));
      c1 = f32x4.add(f32x4.add(c1, c3), f32x4.add(c5, c7));
      if (act != 0) {
        c0 = activate4(c0, act, p0, p1);
        c1 = activate4(c1, act, p0, p1);
      }
      const cp = c + (<usize>j0 << 2);
      if (n - j0 >= 8) {
        v128.store(cp, c0);
        v128.store(cp, c1, 16);
      } else {
        const t = tailScratch();
        v128.store(t, c0);
        v128.store(t, c1, 16);
        memory.copy(cp, t, <usize>(n - j0) << 2);
      }
      wp += panel;
    }
  } else {
    for (let j0 = 0; j0 < n; j0 += 8) {
      const nc = min(8, n - j0);
      for (let j = 0; j < nc; j++) {
        let s = load<f32>(wp + (<usize>j << 2));
        let wk = wp + 32 + (<usize>j << 2);
        for (let kk = 0; kk < k; kk++) {
          s += load<f32>(a + (<usize>kk << 2)) * load<f32>(wk);
          wk += 32;
        }
        store<f32>(c + (<usize>(j0 + j) << 2), activate1(s, act, p0, p1));
      }
      wp += panel;
    }
  }
}
