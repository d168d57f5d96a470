/**
 * The scan family's manifest: Mamba-1's sequence kernels. Both take token-major rows ([L][D]
 * with row strides, so slices of projection outputs need no copy) and carry their state in
 * the arena between calls.
 */

/** One kernel of the family. */
export interface ScanKernel {
  /** Export name. */
  name: string;
  /** What it computes. */
  op: string;
}

/** Every kernel of the family. */
export const SCAN_KERNELS: readonly ScanKernel[] = [
  { name: "f32_dwconv1d_causal_x4", op: "causal depthwise conv1d, state carried, fused act" },
  { name: "f32_scan_selective_step_x4", op: "selective scan, one token (decode)" },
  { name: "f32_scan_selective_seq_x4", op: "selective scan over L tokens (prefill)" },
];
