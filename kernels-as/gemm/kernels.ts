/**
 * The GEMM family's manifest: which tile variants the templates expand to. Adding a tile is
 * one edit here; the build names, generates and exports it, and the tests pick it up from the
 * generated ABI.
 */
import { gemmNchwSource, gemmSource } from "./f32_gemm.tmpl.ts";

/** Register tiles (rows x columns) generated for each GEMM form. */
export const GEMM_TILES: ReadonlyArray<readonly [number, number]> = [[4, 8], [6, 8]];

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return GEMM_TILES.flatMap(([mr, nr]) => [gemmSource(mr, nr), gemmNchwSource(mr, nr)]);
}
