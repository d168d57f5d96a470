/**
 * The rnn family's manifest: every kernel with what it computes. One fused kernel runs one
 * time step of one batch row: the recurrent product with R (packed by x32_pack_rnn into
 * blocks of `units` hidden units × `gates` gates, 8 or 6 vectors per row) and the gates.
 * The input projection X · Wᵀ of all steps is a GEMM outside (engine/ops/_recurrent.ts).
 */
import { panelSource } from "./panel.tmpl.ts";

/** One kernel of the family. */
export interface RnnKernel {
  /** Export name. */
  name: string;
  /** The ONNX op (and mode) it serves. */
  op: string;
  /** Gates packed per block of R. */
  gates: number;
  /** Hidden units per block of R. */
  units: number;
}

/** Every step kernel, with the x32_pack_rnn parameters its R must be packed with. */
export const RNN_KERNELS: readonly RnnKernel[] = [
  { name: "f32_lstm_1x8", op: "LSTM", gates: 4, units: 8 },
  { name: "f32_gru_1x8", op: "GRU linear_before_reset=1", gates: 3, units: 8 },
  { name: "f32_gru_reset_1x16", op: "GRU linear_before_reset=0 (z, r)", gates: 2, units: 16 },
  { name: "f32_gru_update_1x32", op: "GRU linear_before_reset=0 (h)", gates: 1, units: 32 },
  { name: "f32_rnn_1x32", op: "RNN", gates: 1, units: 32 },
];

/** Generated sources: the recurrent product for every block width (gates × units) above. */
export function generate(): { name: string; source: string }[] {
  const widths = [...new Set(RNN_KERNELS.map((k) => k.gates * k.units))].sort((a, b) => b - a);
  return [panelSource(widths)];
}
