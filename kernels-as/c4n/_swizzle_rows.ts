// What the C4n swizzle kernels (f32_gemv_c4n_swizzle.tmpl.ts, f32_gemm_c4n_swizzle.tmpl.ts)
// share: the packed buffer's geometry and the finishing of one output row.
import { activate1 } from "../common/activation";

/** Bytes of one quad record (SWIZZLE_QUAD_BYTES in _swizzle_layout.ts says what it holds). */
export const QUAD_BYTES: usize = 272;

/** Bytes of one row block's records, for k inputs. */
@inline export function swizzleBlockBytes(k: i32): usize {
  return <usize>(((k >> 2) + 3) >> 2) * QUAD_BYTES;
}

/** Where the tails start: after every block of blockRows rows, m x 4 floats. */
@inline export function swizzleTails(packed: usize, m: i32, k: i32, blockRows: i32): usize {
  return packed + <usize>((m + blockRows - 1) / blockRows) * swizzleBlockBytes(k);
}

/**
 * y[i] = act(sum + bias[i] + row i's k mod 4 trailing weights · x's trailing inputs); bias m
 * floats or 0, x the row's k inputs.
 */
@inline export function finishRow(
  sum: f32, i: i32, k: i32, bias: usize, tails: usize, x: usize, y: usize, act: i32, p0: f32,
  p1: f32,
): void {
  if (bias != 0) sum += load<f32>(bias + (<usize>i << 2));
  const tp = tails + (<usize>i << 4);
  const xt = x + (<usize>((k >> 2) << 2) << 2);
  for (let j = 0; j < (k & 3); j++) {
    sum += load<f32>(tp + (<usize>j << 2)) * load<f32>(xt + (<usize>j << 2));
  }
  store<f32>(y + (<usize>i << 2), activate1(sum, act, p0, p1));
}
