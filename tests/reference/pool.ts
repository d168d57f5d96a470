/**
 * Float64 references of ONNX MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (NCW
 * or NCHW), from the operator definitions. Where the spec leaves a case open, the choice of
 * onnxruntime (the de facto reference) is written down next to it.
 */

/** ONNX attributes of MaxPool / AveragePool. */
export interface PoolAttributes {
  auto_pad?: string;
  ceil_mode?: number;
  count_include_pad?: number;
  dilations?: number[];
  kernel_shape: number[];
  pads?: number[];
  strides?: number[];
}

/** A float32 result with its dims. */
export interface Result {
  data: Float32Array;
  dims: number[];
}

interface Axis {
  k: number;
  s: number;
  d: number;
  begin: number;
  end: number;
  out: number;
}

/** Output size and pads of one pooled axis. */
export function poolAxis(
  input: number,
  k: number,
  s: number,
  d: number,
  begin: number,
  end: number,
  ceil: boolean,
  autoPad: string,
): Axis {
  const ek = (k - 1) * d + 1;
  if (autoPad === "VALID") {
    return { k, s, d, begin: 0, end: 0, out: Math.ceil((input - ek + 1) / s) };
  }
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const out = Math.ceil(input / s);
    const total = Math.max(0, (out - 1) * s + ek - input);
    const small = Math.floor(total / 2);
    return autoPad === "SAME_UPPER"
      ? { k, s, d, begin: small, end: total - small, out }
      : { k, s, d, begin: total - small, end: small, out };
  }
  const span = input + begin + end - ek;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // With ceil_mode a window must start inside the input or its left padding (onnxruntime,
  // PyTorch, and the opset-22 spec note on windows starting in the right padding).
  if (ceil && (out - 1) * s >= input + begin) out--;
  return { k, s, d, begin, end, out };
}

function to2d(dims: number[]): number[] {
  return dims.length === 3 ? [dims[0], dims[1], 1, dims[2]] : dims;
}

/** MaxPool ("max") or AveragePool ("avg") in float64. */
export function poolReference(
  kind: "max" | "avg",
  x: Float32Array,
  xDims: number[],
  attrs: PoolAttributes,
): Result {
  const rank = xDims.length - 2;
  const strides = attrs.strides ?? new Array(rank).fill(1);
  const dil = attrs.dilations ?? new Array(rank).fill(1);
  const pads = attrs.pads ?? new Array(2 * rank).fill(0);
  const autoPad = attrs.auto_pad ?? "NOTSET";
  const ceil = (attrs.ceil_mode ?? 0) !== 0;
  const includePad = (attrs.count_include_pad ?? 0) !== 0;
  const axes = attrs.kernel_shape.map((k, i) =>
    poolAxis(xDims[2 + i], k, strides[i], dil[i], pads[i], pads[i + rank], ceil, autoPad)
  );
  const [n, c, h, w] = to2d(xDims);
  const [ay, ax] = rank === 1 ? [{ k: 1, s: 1, d: 1, begin: 0, end: 0, out: 1 }, axes[0]] : axes;
  const out = new Float32Array(n * c * ay.out * ax.out);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < ay.out; oy++) {
      for (let ox = 0; ox < ax.out; ox++) {
        let best = -Infinity;
        let sum = 0;
        let valid = 0;
        let counted = 0;
        for (let ky = 0; ky < ay.k; ky++) {
          const iy = oy * ay.s - ay.begin + ky * ay.d;
          for (let kx = 0; kx < ax.k; kx++) {
            const ix = ox * ax.s - ax.begin + kx * ax.d;
            // count_include_pad counts taps on padding, but not taps past the padded input
            // that ceil_mode adds (onnxruntime).
            if (iy >= -ay.begin && iy < h + ay.end && ix >= -ax.begin && ix < w + ax.end) counted++;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const v = x[(p * h + iy) * w + ix];
            best = Math.max(best, v);
            sum += v;
            valid++;
          }
        }
        out[(p * ay.out + oy) * ax.out + ox] = kind === "max"
          ? (valid ? best : -3.4028234663852886e38)
          : sum / (includePad ? counted : valid);
      }
    }
  }
  return { data: out, dims: [n, c, ...axes.map((a) => a.out)] };
}

/** GlobalAveragePool ("avg") or GlobalMaxPool ("max") in float64: dims [N, C, 1, ...]. */
export function globalPoolReference(
  kind: "max" | "avg",
  x: Float32Array,
  xDims: number[],
): Result {
  const [n, c] = xDims;
  const size = xDims.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * c);
  for (let p = 0; p < n * c; p++) {
    let best = -Infinity;
    let sum = 0;
    for (let i = 0; i < size; i++) {
      const v = x[p * size + i];
      best = Math.max(best, v);
      sum += v;
    }
    out[p] = kind === "max" ? best : sum / size;
  }
  return { data: out, dims: [n, c, ...xDims.slice(2).map(() => 1)] };
}
