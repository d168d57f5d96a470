/**
 * The C4n family's manifest: the C4,2 and C4,3 matrix-vector kernels the swizzle template
 * expands to, their shared mask table, and the several-input kernels on the same weights.
 */
import { SWIZZLE_ZEROS, swizzleMasksSource, swizzleSource } from "./f32_gemv_c4n_swizzle.tmpl.ts";
import { gemmSwizzleSource } from "./f32_gemm_c4n_swizzle.tmpl.ts";

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return [
    swizzleMasksSource(),
    ...SWIZZLE_ZEROS.map(swizzleSource),
    ...SWIZZLE_ZEROS.map(gemmSwizzleSource),
  ];
}
