// C4n-sparse weights times activations with many columns (1x1 conv over pixels, conv as
// GEMM, a batch of tokens): C[m,n] = act(W[m,k] · X[k,n] + bias), X row-major.
//
// W is packed by engine/weights/c4n.ts: per output row, S survivors as (value f32, k i32)
// pairs. Vectorised over columns, so a survivor's index only picks which input row to load:
// no gather, and the decode cost is shared by 48 columns (12 independent accumulators; 48
// measured 0-11 % faster than 32 on a 512-channel C4,2 1x1 conv at 56x56, -2 to +7 % at C4,3:
// one survivor's value and index loads serve 12 multiply-adds instead of 8). The panels are
// generated from c4n/f32_spmm_c4n_panels.tmpl.ts.
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { tailScratch } from "../common/tail_scratch";
import { spmmPanel32, spmmPanel48 } from "./gen/_spmm_panels";

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
  // 48-column panels, then 32-column ones (c4n/gen/_spmm_panels.ts), then 4 columns at a
  // time: one 48 fewer when that leaves fewer columns to the 4-column steps (64 = 32 + 32, not
  // 48 + 16).
  let panels48 = n / 48;
  if (panels48 > 0 && ((n - 48 * (panels48 - 1)) & 31) < ((n - 48 * panels48) & 31)) panels48--;
  const end48 = 48 * panels48;
  let j0 = 0;
  for (; j0 < end48; j0 += 48) {
    spmmPanel48(m, k, w, rowBytes, x, ldx4, bias, c, ldc4, act, p0, p1, panel, j0);
  }
  for (; j0 + 32 <= n; j0 += 32) {
    spmmPanel32(m, k, w, rowBytes, x, ldx4, bias, c, ldc4, act, p0, p1, panel, j0);
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
