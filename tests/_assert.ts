import { AssertionError } from "node:assert/strict";

/** Options of assertClose: |a - e| <= atol + rtol * |e| elementwise. */
export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/**
 * Asserts two float arrays agree within tolerance; the message names the first bad index,
 * both values and how many elements are off.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance = {},
  what = "values",
): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length} != expected ${expected.length}`,
    });
  }
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Math.abs(a - e);
    const ok = err <= atol + rtol * Math.abs(e) || (Number.isNaN(a) && Number.isNaN(e)) ||
      (a === e);
    if (!ok) {
      bad++;
      if (first < 0) first = i;
      worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
    }
  }
  if (bad > 0) {
    throw new AssertionError({
      message: `${what}: ${bad} of ${actual.length} elements differ (rtol ${rtol}, atol ${atol});` +
        ` first at ${first}: got ${actual[first]}, expected ${expected[first]}; worst abs error ` +
        `${worst}`,
    });
  }
}
