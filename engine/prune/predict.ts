/**
 * What a pruned layer should gain at run time, from the same cost models the kernel selector
 * uses when the model loads (engine/ops/gemm.ts, engine/ops/conv_pattern.ts): the pruner
 * reports it per layer and, with `onlyFaster`, keeps dense the layers predicted to gain
 * nothing. Predictions are for one thread; a layer the selector would run dense predicts 1.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import {
  BLOCK_GEMV_COST,
  C4N_GEMM_COST,
  C4N_GEMV_MARGIN,
  C4N_SPMM_COST,
  c4nGemvRatio,
  c4nRunsEveryProduct,
} from "../ops/gemm.ts";
import { PATTERN_CONV_COST } from "../ops/conv_pattern.ts";
import type { Scheme } from "./masks.ts";

/** Predicted dense time over sparse time of a layer, and the kernel that earns it. */
export interface SpeedPrediction {
  /** Dense time / sparse time (1: runs dense). */
  speedup: number;
  /** The kernel the selector picks, or why it stays dense. */
  kernel: string;
}

/** Share of non-zero values. */
function kept(w: Float32Array): number {
  let nz = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
  return nz / Math.max(1, w.length);
}

/** A time ratio (sparse / dense) as a prediction; dense when it does not win. */
function fromRatio(ratio: number, kernel: string, margin = 1): SpeedPrediction {
  return ratio < margin
    ? { speedup: 1 / ratio, kernel }
    : { speedup: 1, kernel: `dense (${kernel} predicted at ${(ratio * 100).toFixed(0)} %)` };
}

/** A weight's GEMV (products of up to 4 rows: decode steps, RNN inputs) under a scheme. */
function gemvRatio(scheme: Scheme, w: Float32Array, outputs: number, k: number): SpeedPrediction {
  if (scheme.kind === "block") return fromRatio(kept(w) * BLOCK_GEMV_COST, "block GEMV");
  if (scheme.kind === "c4n" && scheme.n >= 2) {
    return fromRatio(c4nGemvRatio(scheme.n as 2 | 3, outputs, k), "C4n GEMV", C4N_GEMV_MARGIN);
  }
  return { speedup: 1, kernel: "dense (no sparse GEMV for this scheme)" };
}

/**
 * The predicted gain of one pruned layer. `weights` are its pruned weights as the pruner
 * returns them (a Conv / MatMul / Gemm weight; an LSTM's W then R), each `rows` x `k`.
 */
export function predictSpeedup(
  node: Node,
  scheme: Scheme,
  weights: { data: Float32Array; rows: number; k: number }[],
): SpeedPrediction {
  const [w] = weights;
  if (node.op === "Conv") {
    if (scheme.kind === "pattern") {
      const strides = (node.attributes.strides as number[] | undefined) ?? [1, 1];
      const stride = strides[0] === strides[1] && (strides[0] === 1 || strides[0] === 2)
        ? strides[0] as 1 | 2
        : undefined;
      if (!stride) return { speedup: 1, kernel: "dense (the pattern kernel takes stride 1 or 2)" };
      return fromRatio(kept(w.data) * PATTERN_CONV_COST[stride], "pattern conv");
    }
    if (scheme.kind === "c4n") return fromRatio(kept(w.data) * C4N_SPMM_COST, "C4n SpMM");
    return { speedup: 1, kernel: "dense (no block-sparse conv)" };
  }
  if (node.op === "LSTM") {
    // The input weights go through the GEMV each step; the recurrent step kernel is dense.
    const [W, R] = weights;
    const p = gemvRatio(scheme, W.data, W.rows, W.k);
    const dense = W.data.length + R.data.length;
    const ratio = (W.data.length / p.speedup + R.data.length) / dense;
    return { speedup: 1 / ratio, kernel: `${p.kernel} for W, dense R` };
  }
  const p = gemvRatio(scheme, w.data, w.rows, w.k);
  // Products of more rows run the several-input C4n kernel on the GEMV's weights (no dense
  // copy is kept beside them when it costs at most C4N_GEMM_COPY_LIMIT times the dense GEMM).
  const zeros = scheme.kind === "c4n" && p.speedup > 1 ? scheme.n as 2 | 3 : undefined;
  const more = zeros && c4nRunsEveryProduct(zeros)
    ? `several-input C4n kernel, ${(1 / C4N_GEMM_COST[zeros]).toFixed(1)}×`
    : "dense GEMM";
  return { ...p, kernel: `${p.kernel}, products of up to 4 rows (more rows: ${more})` };
}
