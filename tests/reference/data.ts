/**
 * References for the data-movement and shape ops, written from the ONNX operator
 * definitions with plain index arithmetic (float64 where anything is computed). They work
 * on host tensors of any element type and are slow on purpose: one index at a time.
 */
import { type DType, Tensor } from "../../engine/tensor.ts";

type Elem = number | bigint;

function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function unravel(i: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    idx[k] = i % dims[k];
    i = Math.floor(i / dims[k]);
  }
  return idx;
}

function ravel(idx: readonly number[], dims: readonly number[]): number {
  let o = 0;
  for (let k = 0; k < dims.length; k++) o = o * dims[k] + idx[k];
  return o;
}

/** A tensor of `type` with elements from `get(i)` (numbers or bigints as the type needs). */
export function build(type: DType, dims: readonly number[], get: (i: number) => Elem): Tensor {
  const n = size(dims);
  switch (type) {
    case "int64":
      return new Tensor(type, BigInt64Array.from({ length: n }, (_, i) => BigInt(get(i))), dims);
    case "float32":
      return new Tensor(type, Float32Array.from({ length: n }, (_, i) => Number(get(i))), dims);
    case "float16":
      return new Tensor(type, Uint16Array.from({ length: n }, (_, i) => Number(get(i))), dims);
    case "int32":
      return new Tensor(type, Int32Array.from({ length: n }, (_, i) => Number(get(i))), dims);
    case "int8":
      return new Tensor(type, Int8Array.from({ length: n }, (_, i) => Number(get(i))), dims);
    case "uint8":
    case "bool":
      return new Tensor(type, Uint8Array.from({ length: n }, (_, i) => Number(get(i))), dims);
  }
}

function at(x: Tensor, idx: readonly number[]): Elem {
  return x.data[ravel(idx, x.dims)];
}

/** Transpose: output index i reads input index j with j[perm[k]] = i[k]. */
export function transposeRef(x: Tensor, perm: readonly number[]): Tensor {
  const out = perm.map((p) => x.dims[p]);
  return build(x.type, out, (i) => {
    const oi = unravel(i, out);
    const xi = new Array<number>(perm.length);
    perm.forEach((p, k) => (xi[p] = oi[k]));
    return at(x, xi);
  });
}

/** Concat along a non-negative axis. */
export function concatRef(xs: readonly Tensor[], axis: number): Tensor {
  const out = [...xs[0].dims];
  out[axis] = xs.reduce((a, t) => a + t.dims[axis], 0);
  return build(xs[0].type, out, (i) => {
    const idx = unravel(i, out);
    let a = idx[axis];
    for (const t of xs) {
      if (a < t.dims[axis]) {
        idx[axis] = a;
        return at(t, idx);
      }
      a -= t.dims[axis];
    }
    throw new Error("unreachable");
  });
}

/** Split along a non-negative axis into pieces of `sizes`. */
export function splitRef(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  let start = 0;
  return sizes.map((s) => {
    const out = [...x.dims];
    out[axis] = s;
    const first = start;
    start += s;
    return build(x.type, out, (i) => {
      const idx = unravel(i, out);
      idx[axis] += first;
      return at(x, idx);
    });
  });
}

/** Slice by the ONNX rules: negative starts/ends count from the end, then clamp by step sign. */
export function sliceRef(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Tensor {
  const r = x.dims.length;
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const first = x.dims.map(() => 0);
  const step = x.dims.map(() => 1);
  const out = [...x.dims];
  ax.forEach((a, k) => {
    const d = x.dims[a];
    const st = steps?.[k] ?? 1;
    let s = starts[k];
    let e = ends[k];
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    first[a] = s;
    step[a] = st;
    out[a] = Math.max(0, Math.ceil((e - s) / st));
  });
  return build(x.type, out, (i) => at(x, unravel(i, out).map((v, k) => first[k] + v * step[k])));
}

/** Gather: out[a, i, b] = x[a, indices[i] (negative counts from the end), b]. */
export function gatherRef(
  x: Tensor,
  indices: readonly number[],
  indexDims: readonly number[],
  axis: number,
): Tensor {
  const out = [...x.dims.slice(0, axis), ...indexDims, ...x.dims.slice(axis + 1)];
  const q = indexDims.length;
  return build(x.type, out, (i) => {
    const oi = unravel(i, out);
    let v = indices[ravel(oi.slice(axis, axis + q), indexDims)];
    if (v < 0) v += x.dims[axis];
    return at(x, [...oi.slice(0, axis), v, ...oi.slice(axis + q)]);
  });
}

/** GatherElements: out[i] = x[i with i[axis] replaced by indices[i]]. */
export function gatherElementsRef(
  x: Tensor,
  indices: readonly number[],
  indexDims: readonly number[],
  axis: number,
): Tensor {
  return build(x.type, indexDims, (i) => {
    const idx = unravel(i, indexDims);
    let v = indices[i];
    if (v < 0) v += x.dims[axis];
    idx[axis] = v;
    return at(x, idx);
  });
}

/** Pad (numpy.pad semantics): pads = [begin..., end...], negative values crop. */
export function padRef(
  x: Tensor,
  pads: readonly number[],
  mode: "constant" | "reflect" | "edge" | "wrap",
  value: Elem = 0,
): Tensor {
  const r = x.dims.length;
  // Crop first (negative pads), then pad the cropped tensor.
  const lo = x.dims.map((_, k) => Math.max(0, -pads[k]));
  const cropped = x.dims.map((d, k) => d - lo[k] - Math.max(0, -pads[k + r]));
  const out = cropped.map((d, k) => d + Math.max(0, pads[k]) + Math.max(0, pads[k + r]));
  return build(x.type, out, (i) => {
    const oi = unravel(i, out);
    const xi: number[] = [];
    for (let k = 0; k < r; k++) {
      const n = cropped[k];
      let j = oi[k] - Math.max(0, pads[k]);
      if (j < 0 || j >= n) {
        if (mode === "constant") return value;
        if (mode === "edge") j = Math.min(Math.max(j, 0), n - 1);
        else if (mode === "wrap") j = ((j % n) + n) % n;
        else {
          // Reflect without repeating the edge, bouncing as often as needed.
          if (n === 1) j = 0;
          else {
            const p = 2 * (n - 1);
            j = ((j % p) + p) % p;
            if (j >= n) j = p - j;
          }
        }
      }
      xi.push(j + lo[k]);
    }
    return at(x, xi);
  });
}

/** How one axis of a Resize maps output positions to input positions. */
export interface ResizeAxis {
  /** "nearest", "linear" or "cubic". */
  mode: string;
  /** The scale of this axis (output / input, as given or derived from sizes). */
  scale: number;
  /** coordinate_transformation_mode. */
  coord: string;
  /** nearest_mode ("simple" is Resize-10 / Upsample). */
  nearest?: string;
  /** cubic_coeff_a. */
  a?: number;
  /** exclude_outside. */
  excludeOutside?: boolean;
  /**
   * Evaluate coordinates in float32 like onnxruntime. The spec leaves the precision open, and
   * nearest picks differ between float32 and float64 where a coordinate lands next to a tie.
   */
  float32?: boolean;
}

function originalCoordinate(
  x: number,
  scale: number,
  inLen: number,
  outLen: number,
  coord: string,
  float32 = false,
) {
  // Every operation rounded to float32 when asked (onnxruntime's precision), else float64.
  const r = float32 ? Math.fround : (v: number) => v;
  switch (coord) {
    case "half_pixel":
      return r(r(r(x + 0.5) / scale) - 0.5);
    case "half_pixel_symmetric": {
      const adjustment = r(outLen / r(scale * inLen));
      const offset = r(r(inLen / 2) * r(1 - adjustment));
      return r(offset + (x + 0.5) / scale - 0.5);
    }
    case "pytorch_half_pixel":
      return outLen > 1 ? r(r(r(x + 0.5) / scale) - 0.5) : 0;
    case "align_corners":
      return outLen === 1 ? 0 : r(r(x * (inLen - 1)) / (outLen - 1));
    case "asymmetric":
      return r(x / scale);
    case "tf_half_pixel_for_nn":
      return r(r(x + 0.5) / scale);
  }
  throw new Error(`unknown coordinate mode ${coord}`);
}

function cubicWeight(d: number, a: number): number {
  const t = Math.abs(d);
  if (t <= 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
  if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
  return 0;
}

/** The (input index, weight) taps of one output position along one axis. */
export function resizeTaps(
  j: number,
  inLen: number,
  outLen: number,
  ax: ResizeAxis,
): [number, number][] {
  const x = originalCoordinate(j, ax.scale, inLen, outLen, ax.coord, ax.float32);
  const clamp = (i: number) => Math.min(Math.max(i, 0), inLen - 1);
  if (ax.mode === "nearest") {
    let i: number;
    const frac = x - Math.floor(x);
    switch (ax.nearest ?? "round_prefer_floor") {
      case "round_prefer_floor":
        i = frac === 0.5 ? Math.floor(x) : Math.round(x);
        break;
      case "round_prefer_ceil":
        i = frac === 0.5 ? Math.ceil(x) : Math.round(x);
        break;
      case "floor":
        i = Math.floor(x);
        break;
      case "ceil":
        i = Math.ceil(x);
        break;
      default: // "simple": Resize-10 and Upsample
        i = ax.scale < 1 ? Math.ceil(x) : Math.trunc(x);
    }
    return [[clamp(i), 1]];
  }
  const x0 = Math.floor(x);
  const r = x - x0;
  if (ax.mode === "linear") {
    const xc = Math.min(Math.max(x, 0), inLen - 1);
    const c0 = Math.floor(xc);
    return [[c0, 1 - (xc - c0)], [clamp(c0 + 1), xc - c0]];
  }
  const a = ax.a ?? -0.75;
  let taps: [number, number][] = [-1, 0, 1, 2].map((o) => [x0 + o, cubicWeight(r - o, a)]);
  if (ax.excludeOutside) {
    taps = taps.map(([i, w]) => [i, i < 0 || i >= inLen ? 0 : w]);
    const sum = taps.reduce((s, [, w]) => s + w, 0);
    taps = taps.map(([i, w]) => [i, w / sum]);
  }
  return taps.map(([i, w]) => [clamp(i), w]);
}

/** Resize by the definition: each output is the separable weighted sum over every axis's taps. */
export function resizeRef(x: Tensor<"float32">, outDims: readonly number[], axes: ResizeAxis[]) {
  const r = x.dims.length;
  const taps = axes.map((ax, k) =>
    Array.from({ length: outDims[k] }, (_, j) => resizeTaps(j, x.dims[k], outDims[k], ax))
  );
  return build("float32", outDims, (i) => {
    const oi = unravel(i, outDims);
    let acc = 0;
    const walk = (k: number, idx: number[], w: number) => {
      if (k === r) {
        acc += w * (x.data[ravel(idx, x.dims)] as number);
        return;
      }
      for (const [t, tw] of taps[k][oi[k]]) walk(k + 1, [...idx, t], w * tw);
    };
    walk(0, [], 1);
    return acc;
  });
}

/** DepthToSpace (DCR or CRD) by its reshape-transpose-reshape definition. */
export function depthToSpaceRef(x: Tensor, b: number, mode: "DCR" | "CRD"): Tensor {
  const [n, c, h, w] = x.dims;
  const oc = c / (b * b);
  const out = [n, oc, h * b, w * b];
  return build(x.type, out, (i) => {
    const [ni, ci, yi, xi] = unravel(i, out);
    const by = yi % b;
    const bx = xi % b;
    const ic = mode === "DCR" ? (by * b + bx) * oc + ci : ci * b * b + by * b + bx;
    return at(x, [ni, ic, Math.floor(yi / b), Math.floor(xi / b)]);
  });
}

/** SpaceToDepth: the inverse of DepthToSpace in DCR order. */
export function spaceToDepthRef(x: Tensor, b: number): Tensor {
  const [n, c, h, w] = x.dims;
  const out = [n, c * b * b, h / b, w / b];
  return build(x.type, out, (i) => {
    const [ni, oc, yi, xi] = unravel(i, out);
    const ci = oc % c;
    const blk = Math.floor(oc / c);
    return at(x, [ni, ci, yi * b + Math.floor(blk / b), xi * b + (blk % b)]);
  });
}

/** Numpy-style bidirectional broadcast of two shapes. */
export function broadcastDims(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...Array(r - a.length).fill(1), ...a];
  const pb = [...Array(r - b.length).fill(1), ...b];
  return pa.map((x, i) => (x === 1 ? pb[i] : x));
}

/** Expand: broadcast x to the bidirectional broadcast of its dims and `shape`. */
export function expandRef(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastDims(x.dims, shape);
  const pad = out.length - x.dims.length;
  return build(x.type, out, (i) => {
    const oi = unravel(i, out);
    return at(x, x.dims.map((d, k) => (d === 1 ? 0 : oi[k + pad])));
  });
}

/** Tile: out[i] = x[i mod dims]. */
export function tileRef(x: Tensor, repeats: readonly number[]): Tensor {
  const out = x.dims.map((d, k) => d * repeats[k]);
  return build(x.type, out, (i) => at(x, unravel(i, out).map((v, k) => v % x.dims[k])));
}

/** TopK along an axis: values and int64 indices; ties keep the lower index first. */
export function topKRef(
  x: Tensor,
  k: number,
  axis: number,
  largest: boolean,
): [Tensor, Tensor] {
  const out = [...x.dims];
  out[axis] = k;
  const pick = (i: number) => {
    const oi = unravel(i, out);
    const items: [Elem, number][] = [];
    for (let j = 0; j < x.dims[axis]; j++) {
      const idx = [...oi];
      idx[axis] = j;
      items.push([at(x, idx), j]);
    }
    items.sort((p, q) => {
      const c = p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0;
      return (largest ? -c : c) || p[1] - q[1];
    });
    return items[oi[axis]];
  };
  return [build(x.type, out, (i) => pick(i)[0]), build("int64", out, (i) => pick(i)[1])];
}

/** NonZero: int64 [rank, count] of the indices of non-zero elements in row-major order. */
export function nonZeroRef(x: Tensor): Tensor {
  const hits: number[][] = [];
  for (let i = 0; i < x.data.length; i++) {
    if (Number(x.data[i]) !== 0) hits.push(unravel(i, x.dims));
  }
  const r = x.dims.length;
  return build(
    "int64",
    [r, hits.length],
    (i) => hits[i % hits.length][Math.floor(i / hits.length)],
  );
}

/** Range: start + i * delta for i < max(ceil((limit - start) / delta), 0). */
export function rangeRef(type: DType, start: number, limit: number, delta: number): Tensor {
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  return build(type, [n], (i) => start + i * delta);
}
