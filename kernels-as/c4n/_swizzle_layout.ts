/**
 * The C4n swizzle GEMV's layout facts that the kernel template (f32_gemv_c4n_swizzle.tmpl.ts)
 * and the engine's packer (engine/weights/c4n_gemv.ts) share. TypeScript only: no kernel
 * imports it.
 */

/**
 * Bytes of one quad record of a row block: 16 mask ids (4 groups x 4 vectors), then 4 groups x
 * 4 vectors x 16 bytes of values (the kernels' own copy: QUAD_BYTES in _swizzle_rows.ts).
 */
export const SWIZZLE_QUAD_BYTES = 272;

/** Rows one block holds: 4 vectors of 4 (C4,3) or 2 (C4,2) rows. */
export function swizzleBlockRows(n: 2 | 3): number {
  return n === 3 ? 16 : 8;
}

/**
 * A vector's mask id: lane j reads the input at in-group position (id >> 2 j) & 3. C4,3 lanes
 * are 4 rows' survivors, C4,2 lanes 0-1 and 2-3 two rows' survivor pairs; every byte is a
 * valid id, so both kernels share one 256-entry mask table.
 */
export function swizzleLanePositions(id: number): number[] {
  return [0, 1, 2, 3].map((j) => (id >> (2 * j)) & 3);
}
