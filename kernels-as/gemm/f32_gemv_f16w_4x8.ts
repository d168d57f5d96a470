// Matrix-vector product with IEEE half-precision weights, for 1 to 4 rows of activations
// (token-by-token decode, batch-1 Linear and RNN input layers): C[r, j] = act(A[r] · W[:, j] +
// bias[j]), W k inputs x n outputs. Memory-bound GEMVs stream every weight once per call: half
// the bytes of the f32 GEMV, converted to f32 in registers.
//
// Layout (engine/weights/f16_gemv.ts packs it and rejects NaN and Inf): the outputs are cut
// into panels of 8; panel p (outputs 8p .. 8p + 7) is k records of 16 bytes, one per input,
// at w + 16 k p. The record of input i holds the 8 halves
//   W[i, 8p], W[i, 8p + 4], W[i, 8p + 1], W[i, 8p + 5], W[i, 8p + 2], W[i, 8p + 6],
//   W[i, 8p + 3], W[i, 8p + 7]
// so one v128 load feeds two vectors: the even halves are outputs 0-3 of the panel, the odd
// halves outputs 4-7. Outputs past n (in the last panel) are zero. No bias in the panels.
//
// Conversion without an f16 type, exact for every finite half (the kernel never meets Inf or
// NaN): with the half in the upper 16 bits of a 32-bit lane, an arithmetic shift right by 3
// puts its exponent and mantissa at bits 13-27, where an f32 keeps them, and copies the sign
// into bits 28-31; masking bits 28-30 and 0-12 leaves sign | (h & 0x7fff) << 13, which is the
// f32 of the half's value times 2^-112 (subnormal halves become subnormal f32s: same rule).
// The odd halves already sit in the upper 16 bits of each lane; the even ones are shifted
// there first. Rows 2 to 4 multiply by 2^112 (exact: a power of two) and share the converted
// vectors. One row skips those two multiplies, the kernel's limit in cache: it multiplies x
// by 2^56 (once per 4 inputs) and the sums by 2^56 at the end. Scaling by powers of two
// changes no rounding while the products and sums stay normal floats, so the result is the
// same bit for bit unless |x w| < 2^-70 (a denormal product, 2^-94 of absolute error at most)
// or |x| > 2^72 (overflow).
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";
import { tailScratch } from "../common/tail_scratch";

/**
 * The conversion's constants, loaded once (a v128.const in a loop is rebuilt on every use, see
 * the README): the mask, 2^112, then 2^56 twice.
 */
const HALF_K = memory.data<i32>([0x8fffe000, 0x77800000, 0x5b800000, 0x5b800000]);

/** Halves 0, 2, 4, 6 of h as f32 (panel outputs 0-3). */
@inline function evenHalves(h: v128, mask: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), mask), scale);
}

/** Halves 1, 3, 5, 7 of h as f32 (panel outputs 4-7). */
@inline function oddHalves(h: v128, mask: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(h, 3), mask), scale);
}

/** Halves 0, 2, 4, 6 of h as f32, times 2^-112. */
@inline function evenBits(h: v128, mask: v128): v128 {
  return v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), mask);
}

/** Halves 1, 3, 5, 7 of h as f32, times 2^-112. */
@inline function oddBits(h: v128, mask: v128): v128 {
  return v128.and(i32x4.shr_s(h, 3), mask);
}

/** One finite half as f32 (scalar build). */
@inline function half1(h: u32): f32 {
  const mag = reinterpret<f32>((h & 0x7fff) << 13) * reinterpret<f32>(0x77800000);
  return reinterpret<f32>(reinterpret<u32>(mag) | ((h & 0x8000) << 16));
}

/**
 * Adds the bias, applies the activation and stores panel outputs [lo, hi) of one row (e: panel
 * outputs 0-3, o: 4-7; cp and bp point at output 8p of the row and of the bias).
 */
function storePanel(
  e: v128, o: v128, cp: usize, bp: usize, lo: i32, hi: i32, act: i32, p0: f32, p1: f32,
): void {
  if (lo == 0 && hi == 8) {
    if (bp != 0) {
      e = f32x4.add(e, v128.load(bp));
      o = f32x4.add(o, v128.load(bp, 16));
    }
    if (act != 0) {
      e = activate4(e, act, p0, p1);
      o = activate4(o, act, p0, p1);
    }
    v128.store(cp, e);
    v128.store(cp, o, 16);
    return;
  }
  const t = tailScratch();
  v128.store(t, e);
  v128.store(t, o, 16);
  for (let j = lo; j < hi; j++) {
    const q = <usize>j << 2;
    let v = load<f32>(t + q);
    if (bp != 0) v += load<f32>(bp + q);
    store<f32>(cp + q, activate1(v, act, p0, p1));
  }
}

/**
 * C[r, j] = act(A[r] · W[:, j] + bias[j]) for rows r < m (1 to 4) and outputs j in [r0, r1),
 * W (k inputs x n outputs) packed as described above. A and C are row-major with row strides
 * lda and ldc floats; bias is n floats or 0. Outputs outside [r0, r1) are left alone, so
 * threads may run disjoint output ranges (best split at multiples of 8: a panel is read by
 * every range that touches it).
 */
export function f32_gemv_f16w_4x8(
  m: i32, n: i32, k: i32, r0: i32, r1: i32, w: usize, a: usize, lda: i32, bias: usize,
  c: usize, ldc: i32, act: i32, p0: f32, p1: f32,
): void {
  r1 = min(r1, n);
  if (m <= 0 || r0 >= r1) return;
  const panelBytes = <usize>k << 4;
  const ra = <usize>lda << 2;
  const rc = <usize>ldc << 2;
  for (let j0 = r0 & ~7; j0 < r1; j0 += 8) {
    const lo = max(r0, j0) - j0;
    const hi = min(r1, j0 + 8) - j0;
    const wp = w + <usize>(j0 >> 3) * panelBytes;
    const cj = c + (<usize>j0 << 2);
    const bp = bias != 0 ? bias + (<usize>j0 << 2) : 0;
    if (ASC_FEATURE_SIMD) {
      const mask = v128.load32_splat(HALF_K);
      const scale = v128.load32_splat(HALF_K, 4);
      const z = f32x4.splat(0);
      if (m == 1) {
        const xs = v128.load32_splat(HALF_K, 8);
        const cs = v128.load32_splat(HALF_K, 12);
        // Four inputs per step into four accumulator pairs: the conversion, not the FMA
        // latency, is the limit.
        let e0 = z;
        let o0 = z;
        let e1 = z;
        let o1 = z;
        let e2 = z;
        let o2 = z;
        let e3 = z;
        let o3 = z;
        let wk = wp;
        let kk = 0;
        for (; kk + 4 <= k; kk += 4) {
          const x = f32x4.mul(v128.load(a + (<usize>kk << 2)), xs);
          const s0 = i32x4.shuffle(x, x, 0, 0, 0, 0);
          const s1 = i32x4.shuffle(x, x, 1, 1, 1, 1);
          const s2 = i32x4.shuffle(x, x, 2, 2, 2, 2);
          const s3 = i32x4.shuffle(x, x, 3, 3, 3, 3);
          const h0 = v128.load(wk);
          const h1 = v128.load(wk, 16);
          const h2 = v128.load(wk, 32);
          const h3 = v128.load(wk, 48);
          e0 = madd4(s0, evenBits(h0, mask), e0);
          o0 = madd4(s0, oddBits(h0, mask), o0);
          e1 = madd4(s1, evenBits(h1, mask), e1);
          o1 = madd4(s1, oddBits(h1, mask), o1);
          e2 = madd4(s2, evenBits(h2, mask), e2);
          o2 = madd4(s2, oddBits(h2, mask), o2);
          e3 = madd4(s3, evenBits(h3, mask), e3);
          o3 = madd4(s3, oddBits(h3, mask), o3);
          wk += 64;
        }
        for (; kk < k; kk++) {
          const s = f32x4.mul(v128.load32_splat(a + (<usize>kk << 2)), xs);
          const h = v128.load(wk);
          e0 = madd4(s, evenBits(h, mask), e0);
          o0 = madd4(s, oddBits(h, mask), o0);
          wk += 16;
        }
        storePanel(
          f32x4.mul(f32x4.add(f32x4.add(e0, e1), f32x4.add(e2, e3)), cs),
          f32x4.mul(f32x4.add(f32x4.add(o0, o1), f32x4.add(o2, o3)), cs),
          cj, bp, lo, hi, act, p0, p1,
        );
      } else {
        // 2 to 4 rows: every converted weight vector feeds each row; rows past m repeat the
        // last row (computed, not stored).
        const a0 = a;
        const a1 = m > 1 ? a0 + ra : a0;
        const a2 = m > 2 ? a1 + ra : a1;
        const a3 = m > 3 ? a2 + ra : a2;
        let e0 = z;
        let o0 = z;
        let e1 = z;
        let o1 = z;
        let e2 = z;
        let o2 = z;
        let e3 = z;
        let o3 = z;
        let wk = wp;
        for (let kk = 0; kk < k; kk++) {
          const q = <usize>kk << 2;
          const h = v128.load(wk);
          const we = evenHalves(h, mask, scale);
          const wo = oddHalves(h, mask, scale);
          const s0 = v128.load32_splat(a0 + q);
          const s1 = v128.load32_splat(a1 + q);
          const s2 = v128.load32_splat(a2 + q);
          const s3 = v128.load32_splat(a3 + q);
          e0 = madd4(s0, we, e0);
          o0 = madd4(s0, wo, o0);
          e1 = madd4(s1, we, e1);
          o1 = madd4(s1, wo, o1);
          e2 = madd4(s2, we, e2);
          o2 = madd4(s2, wo, o2);
          e3 = madd4(s3, we, e3);
          o3 = madd4(s3, wo, o3);
          wk += 16;
        }
        storePanel(e0, o0, cj, bp, lo, hi, act, p0, p1);
        storePanel(e1, o1, cj + rc, bp, lo, hi, act, p0, p1);
        if (m > 2) storePanel(e2, o2, cj + 2 * rc, bp, lo, hi, act, p0, p1);
        if (m > 3) storePanel(e3, o3, cj + 3 * rc, bp, lo, hi, act, p0, p1);
      }
    } else {
      for (let r = 0; r < min(m, 4); r++) {
        const ar = a + <usize>r * ra;
        const cr = cj + <usize>r * rc;
        for (let j = lo; j < hi; j++) {
          // Record position of panel output j: even halves are outputs 0-3, odd ones 4-7.
          const pos = j < 4 ? j << 1 : ((j - 4) << 1) + 1;
          let wk = wp + (<usize>pos << 1);
          let s: f32 = 0;
          for (let kk = 0; kk < k; kk++) {
            s += load<f32>(ar + (<usize>kk << 2)) * half1(<u32>load<u16>(wk));
            wk += 16;
          }
          if (bp != 0) s += load<f32>(bp + (<usize>j << 2));
          store<f32>(cr + (<usize>j << 2), activate1(s, act, p0, p1));
        }
      }
    }
  }
}
