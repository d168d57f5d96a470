/**
 * Set bits of a 32-bit mask: the kept rows of a block-sparse block, the taps of a 3x3
 * pattern.
 *
 * @module
 */

/** How many bits of `mask` are set. */
export function popcount(mask: number): number {
  let n = 0;
  for (let v = mask; v; v &= v - 1) n++;
  return n;
}
