/**
 * Folds an inference-mode BatchNormalization into the Conv or ConvTranspose that feeds it:
 * y = scale · (conv(x) − mean) / √(var + ε) + B becomes a conv with every output channel's
 * weights multiplied by s = scale / √(var + ε) and the bias (b − mean) · s + B. Pure: the
 * inputs are left untouched and new arrays returned. Arithmetic is in float64.
 *
 * @module
 */
import { ShapeError } from "../errors.ts";

/** The four BatchNormalization parameter tensors (one value per channel) and epsilon. */
export interface BatchNormParams {
  /** Per-channel scale (gamma). */
  scale: Float32Array;
  /** Per-channel shift (beta, ONNX input B). */
  bias: Float32Array;
  /** Running mean. */
  mean: Float32Array;
  /** Running variance. */
  variance: Float32Array;
  /** ONNX default 1e-5. */
  epsilon?: number;
}

/** Which weight layout the conv has. */
export interface FoldOptions {
  /** ConvTranspose weights [C, M/group, k...] instead of Conv's [M, C/group, k...]. */
  transposed?: boolean;
  /** The conv's group (ConvTranspose only: it decides which output channel a row feeds). */
  group?: number;
  /** The BatchNormalization node's name, for error messages. */
  node?: string;
}

/**
 * New weight and bias of a conv followed by BatchNormalization.
 *
 * @example Fold into a 1x1 conv with two output channels
 * ```ts
 * import { foldBatchNorm } from "./fold_batch_norm.ts";
 * const folded = foldBatchNorm(new Float32Array([1, 2]), [2, 1, 1, 1], undefined, {
 *   scale: new Float32Array([2, 1]),
 *   bias: new Float32Array([0, 1]),
 *   mean: new Float32Array([0, 1]),
 *   variance: new Float32Array([1, 1]),
 *   epsilon: 0,
 * });
 * console.log(folded.weight, folded.bias); // Float32Array [2, 2], Float32Array [0, 0]
 * ```
 */
export function foldBatchNorm(
  weight: Float32Array,
  weightDims: readonly number[],
  bias: Float32Array | undefined,
  bn: BatchNormParams,
  options: FoldOptions = {},
): { weight: Float32Array; bias: Float32Array } {
  const group = options.group ?? 1;
  const transposed = options.transposed ?? false;
  const what = `Cannot fold BatchNormalization${options.node ? ` "${options.node}"` : ""} into ` +
    `its conv`;
  const rows = weightDims[0];
  const perRow = weightDims.slice(1).reduce((a, b) => a * b, 1);
  if (weight.length !== rows * perRow) {
    throw new ShapeError(
      `${what}: the weight has ${weight.length} values, its dims ` +
        `[${weightDims.join(", ")}] say ${rows * perRow}`,
    );
  }
  const m = transposed ? weightDims[1] * group : rows;
  for (const [name, t] of Object.entries({ ...bn, conv_bias: bias })) {
    if (t instanceof Float32Array && t.length !== m) {
      throw new ShapeError(
        `${what}: "${name}" has ${t.length} values, the conv has ${m} ` +
          `output channels`,
      );
    }
  }
  const eps = bn.epsilon ?? 1e-5;
  const s = new Float64Array(m);
  const b = new Float32Array(m);
  for (let c = 0; c < m; c++) {
    s[c] = bn.scale[c] / Math.sqrt(bn.variance[c] + eps);
    b[c] = ((bias ? bias[c] : 0) - bn.mean[c]) * s[c] + bn.bias[c];
  }
  const w = new Float32Array(weight.length);
  if (!transposed) {
    for (let c = 0; c < m; c++) {
      for (let i = c * perRow; i < (c + 1) * perRow; i++) w[i] = weight[i] * s[c];
    }
  } else {
    // [C, M/group, k...]: row c feeds output channels g·(M/group) + mo of its group g.
    const mg = weightDims[1];
    const taps = perRow / mg;
    const cg = rows / group;
    for (let c = 0; c < rows; c++) {
      const g = Math.floor(c / cg);
      for (let mo = 0; mo < mg; mo++) {
        const f = s[g * mg + mo];
        const base = (c * mg + mo) * taps;
        for (let i = base; i < base + taps; i++) w[i] = weight[i] * f;
      }
    }
  }
  return { weight: w, bias: b };
}
