/**
 * The convolution family's manifest: the fixed-shape depthwise kernels the template expands
 * to (adding a shape is one edit here; the op picks a kernel by its generated name), and the
 * pattern-sparse 3x3 kernel.
 */
import { type DwconvShape, dwconvSource } from "./f32_dwconv.tmpl.ts";
import { patternConvSource } from "./f32_conv3x3_pattern.tmpl.ts";

/** Depthwise kernels with a fixed square kernel and stride. */
export const DWCONV_SHAPES: readonly DwconvShape[] = [
  { k: 3, s: 1, nv: 1, split: 3 },
  { k: 3, s: 2, nv: 1, split: 3 },
  { k: 5, s: 1, nv: 1, split: 5 },
  { k: 5, s: 2, nv: 1, split: 5 },
];

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return [...DWCONV_SHAPES.map(dwconvSource), patternConvSource()];
}
