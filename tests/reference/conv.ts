/**
 * Float64 references of ONNX Conv and ConvTranspose (1-D and 2-D, NCHW), written from the
 * operator definitions: output sizes and automatic padding per the spec text, then every
 * output as a plain sum over the taps.
 */

/** ONNX attributes of Conv (defaults per the spec when absent). */
export interface ConvAttributes {
  auto_pad?: string;
  dilations?: number[];
  group?: number;
  kernel_shape?: number[];
  pads?: number[];
  strides?: number[];
}

/** ONNX attributes of ConvTranspose. */
export interface ConvTransposeAttributes extends ConvAttributes {
  output_padding?: number[];
  output_shape?: number[];
}

/** A float32 result with its dims. */
export interface Result {
  data: Float32Array;
  dims: number[];
}

/** Per spatial axis: kernel, stride, dilation, pad at start and end. */
interface Axis {
  k: number;
  s: number;
  d: number;
  begin: number;
  end: number;
  out: number;
}

/** Conv output size and pads of one axis, as the Conv spec defines them. */
export function convAxis(
  input: number,
  k: number,
  s: number,
  d: number,
  begin: number,
  end: number,
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
  return { k, s, d, begin, end, out: Math.floor((input + begin + end - ek) / s) + 1 };
}

function to2d(dims: number[]): number[] {
  return dims.length === 3 ? [dims[0], dims[1], 1, dims[2]] : dims;
}

function spatial(attrs: number[] | undefined, rank: number, fill: number): number[] {
  return attrs ?? new Array(rank).fill(fill);
}

/** ONNX Conv in float64. x is NCW or NCHW; w is [M, C/group, k...]. */
export function convReference(
  x: Float32Array,
  xDims: number[],
  w: Float32Array,
  wDims: number[],
  bias: Float32Array | undefined,
  attrs: ConvAttributes = {},
): Result {
  const rank = xDims.length - 2;
  const kernel = attrs.kernel_shape ?? wDims.slice(2);
  const strides = spatial(attrs.strides, rank, 1);
  const dil = spatial(attrs.dilations, rank, 1);
  const pads = attrs.pads ?? new Array(2 * rank).fill(0);
  const group = attrs.group ?? 1;
  const autoPad = attrs.auto_pad ?? "NOTSET";
  const axes = kernel.map((k, i) =>
    convAxis(xDims[2 + i], k, strides[i], dil[i], pads[i], pads[i + rank], autoPad)
  );
  const [n, c, h, wd] = to2d(xDims);
  const m = wDims[0];
  const [ay, ax] = rank === 1 ? [{ k: 1, s: 1, d: 1, begin: 0, end: 0, out: 1 }, axes[0]] : axes;
  const cg = c / group;
  const mg = m / group;
  const out = new Float32Array(n * m * ay.out * ax.out);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < m; oc++) {
      const g = Math.floor(oc / mg);
      for (let oy = 0; oy < ay.out; oy++) {
        for (let ox = 0; ox < ax.out; ox++) {
          let s = bias ? bias[oc] : 0;
          for (let ic = 0; ic < cg; ic++) {
            for (let ky = 0; ky < ay.k; ky++) {
              const iy = oy * ay.s - ay.begin + ky * ay.d;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < ax.k; kx++) {
                const ix = ox * ax.s - ax.begin + kx * ax.d;
                if (ix < 0 || ix >= wd) continue;
                s += x[((b * c + g * cg + ic) * h + iy) * wd + ix] *
                  w[((oc * cg + ic) * ay.k + ky) * ax.k + kx];
              }
            }
          }
          out[((b * m + oc) * ay.out + oy) * ax.out + ox] = s;
        }
      }
    }
  }
  const dims = [n, m, ...axes.map((a) => a.out)];
  return { data: out, dims };
}

/** ConvTranspose output size and pads of one axis, per the spec. */
export function convTransposeAxis(
  input: number,
  k: number,
  s: number,
  d: number,
  begin: number,
  end: number,
  outputPadding: number,
  outputShape: number | undefined,
  autoPad: string,
): Axis {
  const full = s * (input - 1) + outputPadding + ((k - 1) * d + 1);
  const same = autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
  const target = outputShape ?? (same ? input * s : undefined);
  if (target === undefined) {
    return { k, s, d, begin, end, out: full - begin - end };
  }
  // The spec: total padding split with the odd unit at the end for SAME_UPPER, else at the
  // start.
  const total = full - target;
  const half = Math.floor(total / 2);
  return autoPad === "SAME_UPPER"
    ? { k, s, d, begin: half, end: total - half, out: target }
    : { k, s, d, begin: total - half, end: half, out: target };
}

/** ONNX ConvTranspose in float64. x is NCW or NCHW; w is [C, M/group, k...]. */
export function convTransposeReference(
  x: Float32Array,
  xDims: number[],
  w: Float32Array,
  wDims: number[],
  bias: Float32Array | undefined,
  attrs: ConvTransposeAttributes = {},
): Result {
  const rank = xDims.length - 2;
  const kernel = attrs.kernel_shape ?? wDims.slice(2);
  const strides = spatial(attrs.strides, rank, 1);
  const dil = spatial(attrs.dilations, rank, 1);
  const pads = attrs.pads ?? new Array(2 * rank).fill(0);
  const outPad = spatial(attrs.output_padding, rank, 0);
  const group = attrs.group ?? 1;
  const autoPad = attrs.auto_pad ?? "NOTSET";
  // output_shape may list all dims or only the spatial ones.
  const os = attrs.output_shape?.slice(-rank);
  const axes = kernel.map((k, i) =>
    convTransposeAxis(
      xDims[2 + i],
      k,
      strides[i],
      dil[i],
      pads[i],
      pads[i + rank],
      outPad[i],
      os?.[i],
      autoPad,
    )
  );
  const [n, c, h, wd] = to2d(xDims);
  const mg = wDims[1];
  const m = mg * group;
  const cg = c / group;
  const [ay, ax] = rank === 1 ? [{ k: 1, s: 1, d: 1, begin: 0, end: 0, out: 1 }, axes[0]] : axes;
  const acc = new Float64Array(n * m * ay.out * ax.out);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < m; oc++) {
      const base = (b * m + oc) * ay.out * ax.out;
      if (bias) { for (let i = 0; i < ay.out * ax.out; i++) acc[base + i] = bias[oc]; }
      const g = Math.floor(oc / mg);
      const mo = oc - g * mg;
      for (let ic = 0; ic < cg; ic++) {
        const cin = g * cg + ic;
        for (let iy = 0; iy < h; iy++) {
          for (let ix = 0; ix < wd; ix++) {
            const v = x[((b * c + cin) * h + iy) * wd + ix];
            for (let ky = 0; ky < ay.k; ky++) {
              const oy = iy * ay.s - ay.begin + ky * ay.d;
              if (oy < 0 || oy >= ay.out) continue;
              for (let kx = 0; kx < ax.k; kx++) {
                const ox = ix * ax.s - ax.begin + kx * ax.d;
                if (ox < 0 || ox >= ax.out) continue;
                acc[base + oy * ax.out + ox] += v * w[((cin * mg + mo) * ay.k + ky) * ax.k + kx];
              }
            }
          }
        }
      }
    }
  }
  return { data: Float32Array.from(acc), dims: [n, m, ...axes.map((a) => a.out)] };
}
