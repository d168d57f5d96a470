/**
 * LSTM weights as pruning targets. The gate pre-activations of step t are
 * W·x_t + R·h_t−1 + Wb + Rb (ONNX gate order i, o, f, c; W [dirs, 4H, I], R [dirs, 4H, H],
 * B [dirs, 8H]); C4n groups run along the last axis of W and of R, and the refit of a gate row
 * works on the joint features [x_t; h_t−1]. The previous hidden state comes from the node
 * itself: initial_h for the first step, the Y output (every step's h) afterwards, so
 * sequences of any length refit exactly, with no LSTM reimplementation here.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import type { Tensor } from "../tensor.ts";
import type { WeightView } from "./weight_view.ts";

/** An LSTM node's weights, viewed as the node reads them. */
export interface LstmTarget {
  /** The node. */
  node: Node;
  /** Input weights [dirs, 4H, I]. */
  W: WeightView;
  /** Recurrent weights [dirs, 4H, H]. */
  R: WeightView;
  /** Biases [dirs, 8H] (Wb then Rb per direction), when given as constants. */
  B?: WeightView;
  /** Directions (1, or 2 when bidirectional). */
  dirs: number;
  /** Hidden size H. */
  hidden: number;
  /** Input size I. */
  input: number;
  /** Layout 0: X [seq, batch, I]; layout 1: X [batch, seq, I]. */
  layout: number;
  /** True when the node reverses a direction (reverse, or the second of bidirectional). */
  reversed: (dir: number) => boolean;
}

/** Builds the target, or says why the node cannot be pruned. */
export function lstmTarget(
  node: Node,
  W: WeightView,
  R: WeightView,
  B: WeightView | undefined,
): LstmTarget | string {
  if (W.dims.length !== 3 || R.dims.length !== 3) return "LSTM W and R must be 3-D";
  const [dirs, gates, input] = W.dims;
  const hidden = R.dims[2];
  if (gates !== 4 * hidden || R.dims[0] !== dirs || R.dims[1] !== gates) {
    return `LSTM W [${W.dims}] and R [${R.dims}] do not match`;
  }
  const usableB = B && B.dims.length === 2 && B.dims[0] === dirs && B.dims[1] === 8 * hidden
    ? B
    : undefined;
  const direction = (node.attributes.direction as string | undefined) ?? "forward";
  return {
    node,
    W,
    R,
    B: usableB,
    dirs,
    hidden,
    input,
    layout: (node.attributes.layout as number | undefined) ?? 0,
    reversed: (d) => direction === "reverse" || (direction === "bidirectional" && d === 1),
  };
}

/** What the refit reads of one calibration sample: the node's X, initial_h and Y. */
export interface LstmSample {
  /** X. */
  x: Tensor;
  /** initial_h (zeros when absent). */
  h0?: Tensor;
  /** Y, every step's hidden state. */
  y: Tensor;
}

/**
 * Features [x_t; h_t−1] of direction `dir` over the samples' steps, at most `perSample`
 * evenly spaced (step, batch) columns per sample: [I + H][cols], row-major.
 */
export function lstmFeatures(
  t: LstmTarget,
  dir: number,
  samples: readonly LstmSample[],
  perSample: number,
): { data: Float64Array; cols: number } {
  const { input: I, hidden: H, dirs } = t;
  const picked: { s: number; step: number; b: number }[] = [];
  for (const [s, { x }] of samples.entries()) {
    const [seq, batch] = t.layout === 0 ? [x.dims[0], x.dims[1]] : [x.dims[1], x.dims[0]];
    const total = seq * batch;
    const n = Math.min(total, perSample);
    for (let i = 0; i < n; i++) {
      const p = Math.floor((i * total) / n);
      picked.push({ s, step: Math.floor(p / batch), b: p % batch });
    }
  }
  const cols = picked.length;
  const data = new Float64Array((I + H) * cols);
  picked.forEach(({ s, step, b }, col) => {
    const { x, h0, y } = samples[s];
    const [seq, batch] = t.layout === 0 ? [x.dims[0], x.dims[1]] : [x.dims[1], x.dims[0]];
    const xd = x.data as Float32Array;
    const xAt = t.layout === 0 ? (step * batch + b) * I : (b * seq + step) * I;
    for (let i = 0; i < I; i++) data[i * cols + col] = xd[xAt + i];
    const prev = t.reversed(dir) ? step + 1 : step - 1;
    let h: Float32Array | undefined;
    let at = 0;
    if (prev >= 0 && prev < seq) {
      h = y.data as Float32Array;
      at = t.layout === 0
        ? ((prev * dirs + dir) * batch + b) * H
        : ((b * seq + prev) * dirs + dir) * H;
    } else if (h0) {
      h = h0.data as Float32Array;
      at = t.layout === 0 ? (dir * batch + b) * H : (b * dirs + dir) * H;
    }
    if (h) { for (let j = 0; j < H; j++) data[(I + j) * cols + col] = h[at + j]; }
  });
  return { data, cols };
}
