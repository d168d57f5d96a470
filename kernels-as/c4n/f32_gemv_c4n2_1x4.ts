// C4,2 matrix-vector product for decode (one token, an RNN step): y = act(W·x + bias).
//
// Per row, groups of 4 weights keep 2 survivors. Two groups share one 128-bit step: their
// 4 survivor values are contiguous, and each group's pattern id (which 2 of its 4 positions
// survive, 6 possibilities) selects an i8x16.swizzle mask from a static table, so the 4
// matching inputs come out of two plain 16-byte loads of x: no scalar gather.
// Layout (engine/weights/c4n_gemv.ts): values m x P x 4 f32, patterns m x P x 2 u8 (P =
// ceil(k/4 / 2) group pairs, a missing last group has pattern 0 and zero values), tails
// m x 4 f32 (the k mod 4 dense weights, zero padded).
import { madd4, hsum4 } from "../common/simd";
import { activate1 } from "../common/activation";

// Swizzle masks: LO puts a group's 2 survivors in lanes 0-1, HI in lanes 2-3, zeros elsewhere.
const MASK_LO = memory.data<u8>([0, 1, 2, 3, 4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128, 0, 1, 2, 3, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 0, 1, 2, 3, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128]);
const MASK_HI = memory.data<u8>([128, 128, 128, 128, 128, 128, 128, 128, 0, 1, 2, 3, 4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128, 0, 1, 2, 3, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 0, 1, 2, 3, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128]);

/** Position pairs of the 6 C4,2 patterns, as the packer numbers them. */
export function x8_c4n2_pattern_positions(): usize {
  return PATTERNS;
}
const PATTERNS = memory.data<u8>([0, 1, 0, 2, 0, 3, 1, 2, 1, 3, 2, 3]);

/**
 * y[m] = act(W x + bias). x holds k floats and may be read up to 28 bytes past its end
 * (the arena keeps a guard). bias: m floats or 0.
 */
export function f32_gemv_c4n2_1x4(
  m: i32, k: i32, values: usize, patterns: usize, tails: usize, x: usize, bias: usize,
  y: usize, act: i32, p0: f32, p1: f32,
): void {
  const groups = k >> 2;
  const pairs = (groups + 1) >> 1;
  const tail = k & 3;
  const xt = x + (<usize>(groups << 2) << 2);
  for (let i = 0; i < m; i++) {
    let vp = values + (<usize>i * <usize>pairs << 4);
    let pp = patterns + (<usize>i * <usize>pairs << 1);
    const tp = tails + (<usize>i << 4);
    let sum: f32 = bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0;
    if (ASC_FEATURE_SIMD) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let xp = x;
      let q = 0;
      for (; q + 2 <= pairs; q += 2) {
        const s0 = v128.or(
          i8x16.swizzle(v128.load(xp), v128.load(MASK_LO + (<usize>load<u8>(pp) << 4))),
          i8x16.swizzle(v128.load(xp, 16), v128.load(MASK_HI + (<usize>load<u8>(pp, 1) << 4))),
        );
        const s1 = v128.or(
          i8x16.swizzle(v128.load(xp, 32), v128.load(MASK_LO + (<usize>load<u8>(pp, 2) << 4))),
          i8x16.swizzle(v128.load(xp, 48), v128.load(MASK_HI + (<usize>load<u8>(pp, 3) << 4))),
        );
        a0 = madd4(v128.load(vp), s0, a0);
        a1 = madd4(v128.load(vp, 16), s1, a1);
        vp += 32;
        pp += 4;
        xp += 64;
      }
      if (q < pairs) {
        const s0 = v128.or(
          i8x16.swizzle(v128.load(xp), v128.load(MASK_LO + (<usize>load<u8>(pp) << 4))),
          i8x16.swizzle(v128.load(xp, 16), v128.load(MASK_HI + (<usize>load<u8>(pp, 1) << 4))),
        );
        a0 = madd4(v128.load(vp), s0, a0);
      }
      sum += hsum4(f32x4.add(a0, a1));
    } else {
      for (let q = 0; q < pairs; q++) {
        for (let h = 0; h < 2; h++) {
          const g = 2 * q + h;
          if (g >= groups) break;
          const pat = PATTERNS + (<usize>load<u8>(pp + <usize>h) << 1);
          const v = vp + (<usize>h << 3);
          sum += load<f32>(v) * load<f32>(x + (<usize>(4 * g + load<u8>(pat)) << 2));
          sum += load<f32>(v, 4) * load<f32>(x + (<usize>(4 * g + load<u8>(pat, 1)) << 2));
        }
        vp += 16;
        pp += 2;
      }
    }
    for (let t = 0; t < tail; t++) sum += load<f32>(tp + (<usize>t << 2)) * load<f32>(xt + (<usize>t << 2));
    store<f32>(y + (<usize>i << 2), activate1(sum, act, p0, p1));
  }
}
