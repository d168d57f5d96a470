/**
 * Float64 references of softmax and the normalisations, from the ONNX definitions.
 */

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Softmax / LogSoftmax. Opset >= 13: over the single `axis`. Opset < 13 (`coerce2d`): the
 * input is viewed as [prod(dims[:axis]), prod(dims[axis:])] and each row is normalised.
 */
export function softmaxReference(
  x: ArrayLike<number>,
  dims: number[],
  axis: number,
  log: boolean,
  coerce2d = false,
): Float64Array {
  const outer = product(dims.slice(0, axis));
  const n = coerce2d ? product(dims.slice(axis)) : dims[axis];
  const inner = coerce2d ? 1 : product(dims.slice(axis + 1));
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x[at(k)]);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x[at(k)] - m);
      for (let k = 0; k < n; k++) {
        y[at(k)] = log ? x[at(k)] - m - Math.log(s) : Math.exp(x[at(k)] - m) / s;
      }
    }
  }
  return y;
}

/** Mean and 1/sqrt(var + eps) of values (population variance, as ONNX). */
function stats(v: number[], eps: number): [number, number] {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return [mean, 1 / Math.sqrt(variance + eps)];
}

/**
 * LayerNormalization over dims[axis:]; scale and bias hold prod(dims[axis:]) values (bias may
 * be absent). Also returns Mean and InvStdDev per row.
 */
export function layerNormReference(
  x: ArrayLike<number>,
  dims: number[],
  axis: number,
  scale: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  eps: number,
): { y: Float64Array; mean: Float64Array; invStd: Float64Array } {
  const rows = product(dims.slice(0, axis));
  const n = product(dims.slice(axis));
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const invStd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const v = Array.from({ length: n }, (_, i) => x[r * n + i]);
    const [m, inv] = stats(v, eps);
    mean[r] = m;
    invStd[r] = inv;
    for (let i = 0; i < n; i++) y[r * n + i] = (v[i] - m) * inv * scale[i] + (bias ? bias[i] : 0);
  }
  return { y, mean, invStd };
}

/** RMSNormalization over dims[axis:]: x / sqrt(mean(x^2) + eps) * scale. */
export function rmsNormReference(
  x: ArrayLike<number>,
  dims: number[],
  axis: number,
  scale: ArrayLike<number>,
  eps: number,
): Float64Array {
  const rows = product(dims.slice(0, axis));
  const n = product(dims.slice(axis));
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i] ** 2;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i] * inv * scale[i];
  }
  return y;
}

/**
 * GroupNormalization on [N, C, ...]: statistics over each group of C / groups channels and
 * all spatial positions, then a per-channel scale and bias (C values each).
 * InstanceNormalization is groups = C.
 */
export function groupNormReference(
  x: ArrayLike<number>,
  dims: number[],
  groups: number,
  scale: ArrayLike<number>,
  bias: ArrayLike<number>,
  eps: number,
): Float64Array {
  const [batch, channels] = dims;
  const hw = product(dims.slice(2));
  const cpg = channels / groups;
  const y = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      const start = (b * channels + g * cpg) * hw;
      const v = Array.from({ length: cpg * hw }, (_, i) => x[start + i]);
      const [m, inv] = stats(v, eps);
      for (let i = 0; i < cpg * hw; i++) {
        const c = g * cpg + Math.floor(i / hw);
        y[start + i] = (v[i] - m) * inv * scale[c] + bias[c];
      }
    }
  }
  return y;
}

/** BatchNormalization in inference mode on [N, C, ...]. */
export function batchNormReference(
  x: ArrayLike<number>,
  dims: number[],
  scale: ArrayLike<number>,
  bias: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): Float64Array {
  const [batch, channels] = dims;
  const hw = product(dims.slice(2));
  const y = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < hw; i++) {
        const e = (b * channels + c) * hw + i;
        y[e] = (x[e] - mean[c]) / Math.sqrt(variance[c] + eps) * scale[c] + bias[c];
      }
    }
  }
  return y;
}
