// C4n-sparse weights times activations with many columns (1x1 conv over pixels, conv as
// GEMM, a batch of tokens): C[m,n] = act(W[m,k] · X[k,n] + bias), X row-major.
//
// W is packed by engine/weights/c4n.ts: per output row, S survivors as (value f32, k i32)
// pairs. Vectorised over columns, so a survivor's index only picks which input row to load:
// no gather, and the decode cost is shared by 48 columns (12 independent accumulators; 48
// measured 2-14 % faster than 32 on a 512-channel 1x1 conv at 56x56: one survivor's value and
// index loads serve 12 multiply-adds instead of 8).
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { tailScratch } from "../common/tail_scratch";

@inline function act4(v: v128, act: i32, p0: f32, p1: f32): v128 {
  return act == 0 ? v : activate4(v, act, p0, p1);
}

/**
 * m rows of s survivors each at w, reduction length k; bias: m floats or 0; X row stride
 * ldx, C row stride ldc (floats). Reads up to 12 bytes past an X row when n is not a
 * multiple of 4 (the arena keeps a guard). panel: scratch of f32_spmm_c4n_panel_size(k).
 */
export function f32_spmm_c4n_1x48(
  m: i32, n: i32, k: i32, s: i32, w: usize, x: usize, ldx: i32, bias: usize, c: usize,
  ldc: i32, act: i32, p0: f32, p1: f32, panel: usize,
): void {
  const ldx4 = <usize>ldx << 2;
  const ldc4 = <usize>ldc << 2;
  const rowBytes = <usize>s << 3;
  if (!ASC_FEATURE_SIMD) {
    for (let i = 0; i < m; i++) {
      const wr = w + <usize>i * rowBytes;
      const b: f32 = bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0;
      for (let j = 0; j < n; j++) {
        let acc = b;
        for (let t = 0; t < s; t++) {
          const e = wr + (<usize>t << 3);
          acc += load<f32>(e) * load<f32>(x + <usize>load<i32>(e, 4) * ldx4 + (<usize>j << 2));
        }
        store<f32>(c + <usize>i * ldc4 + (<usize>j << 2), activate1(acc, act, p0, p1));
      }
    }
    return;
  }
  // Each 48-column block of X is first copied into a contiguous panel (k rows of 192 bytes),
  // so survivors walk it forward in k order: prefetch-friendly, unlike 512 rows of X strided
  // by ldx. Every row of W then runs over the panel while it is in L1/L2.
  // 48-column panels, then 32-column ones, then 4 columns at a time: one 48 fewer when that
  // leaves fewer columns to the 4-column steps (64 = 32 + 32, not 48 + 16).
  let panels48 = n / 48;
  if (panels48 > 0 && ((n - 48 * (panels48 - 1)) & 31) < ((n - 48 * panels48) & 31)) panels48--;
  const end48 = 48 * panels48;
  let j0 = 0;
  for (; j0 < end48; j0 += 48) {
    let src = x + (<usize>j0 << 2);
    let dst = panel;
    for (let kk = 0; kk < k; kk++) {
      v128.store(dst, v128.load(src, 0), 0);
      v128.store(dst, v128.load(src, 16), 16);
      v128.store(dst, v128.load(src, 32), 32);
      v128.store(dst, v128.load(src, 48), 48);
      v128.store(dst, v128.load(src, 64), 64);
      v128.store(dst, v128.load(src, 80), 80);
      v128.store(dst, v128.load(src, 96), 96);
      v128.store(dst, v128.load(src, 112), 112);
      v128.store(dst, v128.load(src, 128), 128);
      v128.store(dst, v128.load(src, 144), 144);
      v128.store(dst, v128.load(src, 160), 160);
      v128.store(dst, v128.load(src, 176), 176);
      src += ldx4;
      dst += 192;
    }
    for (let i = 0; i < m; i++) {
      const wr = w + <usize>i * rowBytes;
      const wend = wr + rowBytes;
      const b = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0);
      let a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
      for (let e = wr; e < wend; e += 8) {
        const v = v128.load32_splat(e);
        const xp = panel + <usize>load<i32>(e, 4) * 192;
        a0 = madd4(v, v128.load(xp, 0), a0);
        a1 = madd4(v, v128.load(xp, 16), a1);
        a2 = madd4(v, v128.load(xp, 32), a2);
        a3 = madd4(v, v128.load(xp, 48), a3);
        a4 = madd4(v, v128.load(xp, 64), a4);
        a5 = madd4(v, v128.load(xp, 80), a5);
        a6 = madd4(v, v128.load(xp, 96), a6);
        a7 = madd4(v, v128.load(xp, 112), a7);
        a8 = madd4(v, v128.load(xp, 128), a8);
        a9 = madd4(v, v128.load(xp, 144), a9);
        a10 = madd4(v, v128.load(xp, 160), a10);
        a11 = madd4(v, v128.load(xp, 176), a11);
      }
      const cp = c + <usize>i * ldc4 + (<usize>j0 << 2);
      v128.store(cp, act4(a0, act, p0, p1), 0);
      v128.store(cp, act4(a1, act, p0, p1), 16);
      v128.store(cp, act4(a2, act, p0, p1), 32);
      v128.store(cp, act4(a3, act, p0, p1), 48);
      v128.store(cp, act4(a4, act, p0, p1), 64);
      v128.store(cp, act4(a5, act, p0, p1), 80);
      v128.store(cp, act4(a6, act, p0, p1), 96);
      v128.store(cp, act4(a7, act, p0, p1), 112);
      v128.store(cp, act4(a8, act, p0, p1), 128);
      v128.store(cp, act4(a9, act, p0, p1), 144);
      v128.store(cp, act4(a10, act, p0, p1), 160);
      v128.store(cp, act4(a11, act, p0, p1), 176);
    }
  }
  // 32-column panels (8 accumulators) for what the 48s left, before the 4-column steps.
  for (; j0 + 32 <= n; j0 += 32) {
    let src = x + (<usize>j0 << 2);
    let dst = panel;
    for (let kk = 0; kk < k; kk++) {
      v128.store(dst, v128.load(src, 0), 0);
      v128.store(dst, v128.load(src, 16), 16);
      v128.store(dst, v128.load(src, 32), 32);
      v128.store(dst, v128.load(src, 48), 48);
      v128.store(dst, v128.load(src, 64), 64);
      v128.store(dst, v128.load(src, 80), 80);
      v128.store(dst, v128.load(src, 96), 96);
      v128.store(dst, v128.load(src, 112), 112);
      src += ldx4;
      dst += 128;
    }
    for (let i = 0; i < m; i++) {
      const wr = w + <usize>i * rowBytes;
      const wend = wr + rowBytes;
      const b = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0);
      let a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
      for (let e = wr; e < wend; e += 8) {
        const v = v128.load32_splat(e);
        const xp = panel + (<usize>load<i32>(e, 4) << 7);
        a0 = madd4(v, v128.load(xp, 0), a0);
        a1 = madd4(v, v128.load(xp, 16), a1);
        a2 = madd4(v, v128.load(xp, 32), a2);
        a3 = madd4(v, v128.load(xp, 48), a3);
        a4 = madd4(v, v128.load(xp, 64), a4);
        a5 = madd4(v, v128.load(xp, 80), a5);
        a6 = madd4(v, v128.load(xp, 96), a6);
        a7 = madd4(v, v128.load(xp, 112), a7);
      }
      const cp = c + <usize>i * ldc4 + (<usize>j0 << 2);
      v128.store(cp, act4(a0, act, p0, p1), 0);
      v128.store(cp, act4(a1, act, p0, p1), 16);
      v128.store(cp, act4(a2, act, p0, p1), 32);
      v128.store(cp, act4(a3, act, p0, p1), 48);
      v128.store(cp, act4(a4, act, p0, p1), 64);
      v128.store(cp, act4(a5, act, p0, p1), 80);
      v128.store(cp, act4(a6, act, p0, p1), 96);
      v128.store(cp, act4(a7, act, p0, p1), 112);
    }
  }
  // Remaining columns, 4 at a time, straight from X. Every row has the same survivor count,
  // so 4 rows run side by side: 4 independent accumulator chains instead of one (a single
  // chain is bound by the FMA latency, which made small pixel counts slower than dense).
  for (; j0 < n; j0 += 4) {
    const xj = x + (<usize>j0 << 2);
    const cols = min(n - j0, 4);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const w0 = w + <usize>i * rowBytes;
      const w1 = w0 + rowBytes;
      const w2 = w1 + rowBytes;
      const w3 = w2 + rowBytes;
      const bi = bias + (<usize>i << 2);
      let a0 = f32x4.splat(bias != 0 ? load<f32>(bi) : 0);
      let a1 = f32x4.splat(bias != 0 ? load<f32>(bi, 4) : 0);
      let a2 = f32x4.splat(bias != 0 ? load<f32>(bi, 8) : 0);
      let a3 = f32x4.splat(bias != 0 ? load<f32>(bi, 12) : 0);
      for (let t: usize = 0; t < rowBytes; t += 8) {
        const x0 = v128.load(xj + <usize>load<i32>(w0 + t, 4) * ldx4);
        const x1 = v128.load(xj + <usize>load<i32>(w1 + t, 4) * ldx4);
        const x2 = v128.load(xj + <usize>load<i32>(w2 + t, 4) * ldx4);
        const x3 = v128.load(xj + <usize>load<i32>(w3 + t, 4) * ldx4);
        a0 = madd4(v128.load32_splat(w0 + t), x0, a0);
        a1 = madd4(v128.load32_splat(w1 + t), x1, a1);
        a2 = madd4(v128.load32_splat(w2 + t), x2, a2);
        a3 = madd4(v128.load32_splat(w3 + t), x3, a3);
      }
      const cp = c + <usize>i * ldc4 + (<usize>j0 << 2);
      storeCols(cp, act4(a0, act, p0, p1), cols);
      storeCols(cp + ldc4, act4(a1, act, p0, p1), cols);
      storeCols(cp + 2 * ldc4, act4(a2, act, p0, p1), cols);
      storeCols(cp + 3 * ldc4, act4(a3, act, p0, p1), cols);
    }
    for (; i < m; i++) {
      const wr = w + <usize>i * rowBytes;
      const wend = wr + rowBytes;
      let a0 = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0);
      for (let e = wr; e < wend; e += 8) {
        a0 = madd4(v128.load32_splat(e), v128.load(xj + <usize>load<i32>(e, 4) * ldx4), a0);
      }
      storeCols(c + <usize>i * ldc4 + (<usize>j0 << 2), act4(a0, act, p0, p1), cols);
    }
  }
}

/** Stores the first `cols` (1..4) lanes of v at p. */
@inline function storeCols(p: usize, v: v128, cols: i32): void {
  if (cols == 4) {
    v128.store(p, v);
  } else {
    v128.store(tailScratch(), v);
    memory.copy(p, tailScratch(), <usize>cols << 2);
  }
}

/** Scratch bytes f32_spmm_c4n_1x48 needs for reduction length k. */
export function f32_spmm_c4n_panel_size(k: i32): usize {
  return <usize>max(k, 1) * 192;
}
