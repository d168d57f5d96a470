/**
 * The C4n family's manifest: the table-driven C4,2 and C4,3 matrix-vector kernels the
 * template expands to.
 */
import { XTAB_SHAPES, xtabSource } from "./f32_gemv_c4n_xtab.tmpl.ts";

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return XTAB_SHAPES.map(xtabSource);
}
