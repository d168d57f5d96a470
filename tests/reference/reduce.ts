/**
 * Float64 references of the reductions, from the ONNX definitions: ReduceSum/Mean/Max/Min/
 * Prod/L1/L2/SumSquare/LogSum/LogSumExp over any set of axes, and ArgMax/ArgMin.
 */

/** Reduction kinds by their ONNX op type. */
export type ReduceOpType =
  | "ReduceSum"
  | "ReduceMean"
  | "ReduceMax"
  | "ReduceMin"
  | "ReduceProd"
  | "ReduceL1"
  | "ReduceL2"
  | "ReduceSumSquare"
  | "ReduceLogSum"
  | "ReduceLogSumExp";

/** The value of a reduction over a list of numbers. */
export function reduceValues(op: ReduceOpType, v: number[]): number {
  switch (op) {
    case "ReduceSum":
      return v.reduce((a, b) => a + b, 0);
    case "ReduceMean":
      return v.reduce((a, b) => a + b, 0) / v.length;
    case "ReduceMax":
      return v.some(Number.isNaN) ? NaN : v.reduce((a, b) => Math.max(a, b), -Infinity);
    case "ReduceMin":
      return v.some(Number.isNaN) ? NaN : v.reduce((a, b) => Math.min(a, b), Infinity);
    case "ReduceProd":
      return v.reduce((a, b) => a * b, 1);
    case "ReduceL1":
      return v.reduce((a, b) => a + Math.abs(b), 0);
    case "ReduceL2":
      return Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    case "ReduceSumSquare":
      return v.reduce((a, b) => a + b * b, 0);
    case "ReduceLogSum":
      return Math.log(v.reduce((a, b) => a + b, 0));
    case "ReduceLogSumExp": {
      const m = v.reduce((a, b) => Math.max(a, b), -Infinity);
      if (!Number.isFinite(m)) return m;
      return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
    }
  }
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Groups element indices by their output coordinate when `axes` are collapsed. */
function groups(dims: number[], axes: number[]): { outDims: number[]; members: number[][] } {
  const outDims = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const outStrides = strides(outDims);
  const size = dims.reduce((a, b) => a * b, 1);
  const outSize = outDims.reduce((a, b) => a * b, 1);
  const members: number[][] = Array.from({ length: outSize }, () => []);
  const st = strides(dims);
  for (let e = 0; e < size; e++) {
    let o = 0;
    for (let i = 0; i < dims.length; i++) {
      const c = Math.floor(e / st[i]) % dims[i];
      if (!axes.includes(i)) o += c * outStrides[i];
    }
    members[o].push(e);
  }
  return { outDims, members };
}

/** Reduces `data` (row-major, `dims`) over `axes`; keepdims keeps them as 1. */
export function reduceReference(
  op: ReduceOpType,
  data: ArrayLike<number>,
  dims: number[],
  axes: number[],
  keepdims: boolean,
): { data: Float64Array; dims: number[] } {
  const { outDims, members } = groups(dims, axes);
  const out = Float64Array.from(members, (m) => reduceValues(op, m.map((e) => data[e])));
  return { data: out, dims: keepdims ? outDims : dims.filter((_, i) => !axes.includes(i)) };
}

/** ArgMax / ArgMin along one axis; ties give the first index or, with selectLast, the last. */
export function argReference(
  data: ArrayLike<number>,
  dims: number[],
  axis: number,
  isMin: boolean,
  selectLast: boolean,
  keepdims: boolean,
): { data: number[]; dims: number[] } {
  const { outDims, members } = groups(dims, [axis]);
  const out = members.map((m) => {
    // Members come in increasing element order, which is increasing index along the axis.
    let best = 0;
    for (let k = 1; k < m.length; k++) {
      const v = data[m[k]];
      const b = data[m[best]];
      const better = isMin ? v < b : v > b;
      if (better || (selectLast && v === b)) best = k;
    }
    return best;
  });
  return { data: out, dims: keepdims ? outDims : dims.filter((_, i) => i !== axis) };
}
