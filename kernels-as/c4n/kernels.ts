/**
 * The C4n family's manifest: the C4,2 and C4,3 matrix-vector kernels the swizzle template
 * expands to, the several-input kernels on the same weights (both read the mask table in
 * _swizzle_masks.ts), and the SpMM's column panels.
 */
import { SWIZZLE_ZEROS, swizzleSource } from "./f32_gemv_c4n_swizzle.tmpl.ts";
import { gemmSwizzleSource } from "./f32_gemm_c4n_swizzle.tmpl.ts";
import { spmmPanelsSource } from "./f32_spmm_c4n_panels.tmpl.ts";

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return [
    ...SWIZZLE_ZEROS.map(swizzleSource),
    ...SWIZZLE_ZEROS.map(gemmSwizzleSource),
    spmmPanelsSource(),
  ];
}
