/**
 * Float64 references of the elementwise ops, written from the ONNX operator definitions
 * (and numpy's broadcasting rule), independent of the engine's code.
 */
import { erf } from "./activations.ts";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Round half to even (ONNX Round, numpy.round). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** The unary kernels by token (`f32_v<token>_x8`), as float64 functions of x, p0, p1. */
export const UNARY_REFERENCE: Record<string, (x: number, p0: number, p1: number) => number> = {
  clamp: (x, lo, hi) => Math.min(Math.max(x, lo), hi),
  leakyrelu: (x, a) => (x < 0 ? a * x : x),
  sigmoid,
  hardsigmoid: (x, a, b) => Math.max(0, Math.min(1, a * x + b)),
  hardswish: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
  tanh: Math.tanh,
  silu: (x) => x * sigmoid(x),
  geluerf: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelutanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  softplus,
  elu: (x, a) => (x < 0 ? a * Math.expm1(x) : x),
  selu: (x, a, g) => g * (x < 0 ? a * Math.expm1(x) : x),
  mish: (x) => x * Math.tanh(softplus(x)),
  softsign: (x) => x / (1 + Math.abs(x)),
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  reciprocal: (x) => 1 / x,
  erf,
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  sin: Math.sin,
  cos: Math.cos,
};

/** C fmod: the remainder with the sign of a. */
export function fmod(a: number, b: number): number {
  return a % b;
}

/** The binary kernels by token, as float64 functions. */
export const BINARY_REFERENCE: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  // C's pow: 1^b is 1 for any b (JavaScript's Math.pow gives NaN for a NaN or infinite b).
  pow: (a, b) => (a === 1 ? 1 : Math.pow(a, b)),
  fmod,
  prelu: (a, b) => (a < 0 ? a * b : a),
  equal: (a, b) => (a === b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  lessequal: (a, b) => (a <= b ? 1 : 0),
};

/** Numpy broadcast of shapes; undefined when they do not broadcast. */
export function broadcastShape(shapes: number[][]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const ds = shapes.map((s) => s[i - (rank - s.length)] ?? 1);
    const big = ds.filter((d) => d !== 1);
    if (new Set(big).size > 1) return undefined;
    out.push(big.length ? big[0] : 1);
  }
  return out;
}

/** The flat index into a tensor of `dims` of output coordinate `coord` (broadcast). */
function sourceIndex(coord: number[], dims: number[]): number {
  let idx = 0;
  const off = coord.length - dims.length;
  for (let i = 0; i < dims.length; i++) {
    idx = idx * dims[i] + (dims[i] === 1 ? 0 : coord[off + i]);
  }
  return idx;
}

/** Applies f elementwise to broadcast operands, by walking every output coordinate. */
export function broadcastReference(
  operands: { data: ArrayLike<number>; dims: number[] }[],
  f: (...xs: number[]) => number,
): { data: Float64Array; dims: number[] } {
  const dims = broadcastShape(operands.map((o) => o.dims));
  if (!dims) throw new Error("operands do not broadcast");
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  const coord = new Array<number>(dims.length).fill(0);
  for (let e = 0; e < size; e++) {
    let rest = e;
    for (let i = dims.length - 1; i >= 0; i--) {
      coord[i] = rest % dims[i];
      rest = Math.floor(rest / dims[i]);
    }
    out[e] = f(...operands.map((o) => o.data[sourceIndex(coord, o.dims)]));
  }
  return { data: out, dims };
}
