/**
 * The elementwise family's manifest: every unary, binary and comparison kernel, each as a
 * vector expression and its scalar twin. Adding an op is one entry here; the build generates
 * `gen/f32_v<op>_x8.ts` (or `_x16` for comparisons), the tests loop over these lists.
 */
import { type BinaryOp, binarySource, compareSource } from "./f32_vbinary.tmpl.ts";
import { type UnaryOp, unarySource } from "./f32_vunary.tmpl.ts";

const ZERO = "f32x4.splat(0.0)";
// Constants come from common/math's table: V8 rebuilds v128 constants inside loops.
const ONE = "kf(F_ONE)";

/** Unary kernels `f32_v<op>_x8(n, x, y, p0, p1)`. */
export const UNARY_OPS: readonly UnaryOp[] = [
  {
    op: "clamp",
    doc: "min(max(x, p0), p1) (Relu, Relu6, Clip); NaN stays NaN",
    vec: (x) => `f32x4.pmin(f32x4.pmax(${x}, vp0), vp1)`,
    scalar: (x) => `Mathf.min(Mathf.max(${x}, p0), p1)`,
  },
  {
    op: "leakyrelu",
    doc: "x < 0 ? p0 x : x",
    vec: (x) => `v128.bitselect(f32x4.mul(${x}, vp0), ${x}, f32x4.lt(${x}, ${ZERO}))`,
    scalar: (x) => `${x} < 0 ? ${x} * p0 : ${x}`,
  },
  {
    op: "sigmoid",
    doc: "1 / (1 + e^-x)",
    vec: (x) => `sigmoid4(${x})`,
    scalar: (x) => `sigmoid1(${x})`,
    math: ["sigmoid1", "sigmoid4"],
  },
  {
    op: "hardsigmoid",
    doc: "max(0, min(1, p0 x + p1))",
    vec: (x) => `f32x4.min(f32x4.max(madd4(${x}, vp0, vp1), ${ZERO}), ${ONE})`,
    scalar: (x) => `Mathf.min(Mathf.max(${x} * p0 + p1, 0.0), 1.0)`,
    math: ["madd4"],
  },
  {
    op: "hardswish",
    doc: "x max(0, min(1, x / 6 + 1/2))",
    vec: (x) =>
      `f32x4.mul(${x}, f32x4.min(f32x4.max(madd4(${x}, kf(F_INV_6), kf(F_HALF)), ${ZERO}), ${ONE}))`,
    scalar: (x) => `${x} * Mathf.min(Mathf.max(${x} * <f32>(1.0 / 6.0) + 0.5, 0.0), 1.0)`,
    math: ["madd4"],
  },
  {
    op: "tanh",
    doc: "tanh(x)",
    vec: (x) => `tanh4(${x})`,
    scalar: (x) => `tanh1(${x})`,
    math: ["tanh1", "tanh4"],
  },
  {
    op: "silu",
    doc: "x sigmoid(x)",
    vec: (x) => `f32x4.mul(${x}, sigmoid4(${x}))`,
    scalar: (x) => `${x} * sigmoid1(${x})`,
    math: ["sigmoid1", "sigmoid4"],
  },
  {
    op: "geluerf",
    doc: "x/2 (1 + erf(x / sqrt 2))",
    vec: (x) => `geluErf4(${x})`,
    scalar: (x) => `geluErf1(${x})`,
    math: ["geluErf1", "geluErf4"],
  },
  {
    op: "gelutanh",
    doc: "x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
    vec: (x) => `geluTanh4(${x})`,
    scalar: (x) => `geluTanh1(${x})`,
    math: ["geluTanh1", "geluTanh4"],
  },
  {
    op: "softplus",
    doc: "log(1 + e^x)",
    vec: (x) => `softplus4(${x})`,
    scalar: (x) => `softplus1(${x})`,
    math: ["softplus1", "softplus4"],
  },
  {
    op: "elu",
    doc: "x < 0 ? p0 (e^x - 1) : x",
    vec: (x) => `elu4(${x}, p0)`,
    scalar: (x) => `elu1(${x}, p0)`,
    math: ["elu1", "elu4"],
  },
  {
    op: "selu",
    doc: "p1 (x < 0 ? p0 (e^x - 1) : x)",
    vec: (x) => `f32x4.mul(elu4(${x}, p0), vp1)`,
    scalar: (x) => `p1 * elu1(${x}, p0)`,
    math: ["elu1", "elu4"],
  },
  {
    op: "mish",
    doc: "x tanh(softplus(x))",
    vec: (x) => `f32x4.mul(${x}, tanh4(softplus4(${x})))`,
    scalar: (x) => `${x} * tanh1(softplus1(${x}))`,
    math: ["softplus1", "softplus4", "tanh1", "tanh4"],
  },
  {
    op: "softsign",
    doc: "x / (1 + |x|)",
    vec: (x) => `f32x4.div(${x}, f32x4.add(f32x4.abs(${x}), ${ONE}))`,
    scalar: (x) => `${x} / (1.0 + Mathf.abs(${x}))`,
  },
  {
    op: "exp",
    doc: "e^x",
    vec: (x) => `expEdges4(${x})`,
    scalar: (x) => `Mathf.exp(${x})`,
    math: ["expEdges4"],
  },
  {
    op: "log",
    doc: "log(x)",
    vec: (x) => `log4(${x})`,
    scalar: (x) => `log1(${x})`,
    math: ["log1", "log4"],
  },
  {
    op: "sqrt",
    doc: "sqrt(x)",
    vec: (x) => `f32x4.sqrt(${x})`,
    scalar: (x) => `Mathf.sqrt(${x})`,
  },
  {
    op: "reciprocal",
    doc: "1 / x",
    vec: (x) => `f32x4.div(${ONE}, ${x})`,
    scalar: (x) => `<f32>1.0 / ${x}`,
  },
  {
    op: "erf",
    doc: "erf(x)",
    vec: (x) => `erf4(${x})`,
    scalar: (x) => `erf1(${x})`,
    math: ["erf1", "erf4"],
  },
  {
    op: "neg",
    doc: "-x",
    vec: (x) => `f32x4.neg(${x})`,
    scalar: (x) => `-${x}`,
  },
  {
    op: "abs",
    doc: "|x|",
    vec: (x) => `f32x4.abs(${x})`,
    scalar: (x) => `Mathf.abs(${x})`,
  },
  {
    op: "sign",
    doc: "-1, 0 or 1 by the sign of x; NaN stays NaN (as in numpy and onnxruntime)",
    vec: (x) =>
      `v128.bitselect(${x}, f32x4.sub(v128.and(f32x4.gt(${x}, ${ZERO}), ${ONE}), v128.and(f32x4.lt(${x}, ${ZERO}), ${ONE})), f32x4.ne(${x}, ${x}))`,
    scalar: (x) => `${x} > 0 ? <f32>1.0 : ${x} < 0 ? <f32>-1.0 : ${x} == 0 ? <f32>0.0 : ${x}`,
  },
  {
    op: "floor",
    doc: "floor(x)",
    vec: (x) => `f32x4.floor(${x})`,
    scalar: (x) => `Mathf.floor(${x})`,
  },
  {
    op: "ceil",
    doc: "ceil(x)",
    vec: (x) => `f32x4.ceil(${x})`,
    scalar: (x) => `Mathf.ceil(${x})`,
  },
  {
    op: "round",
    doc: "x rounded to the nearest integer, halves to even",
    vec: (x) => `f32x4.nearest(${x})`,
    scalar: (x) => `nearest<f32>(${x})`,
  },
  {
    op: "sin",
    doc: "sin(x)",
    vec: (x) => `sin4(${x})`,
    scalar: (x) => `Mathf.sin(${x})`,
    math: ["sin4"],
  },
  {
    op: "cos",
    doc: "cos(x)",
    vec: (x) => `cos4(${x})`,
    scalar: (x) => `Mathf.cos(${x})`,
    math: ["cos4"],
  },
];

/** Binary kernels `f32_v<op>_x8(rows, n, a, lda, sa, b, ldb, sb, y)`. */
export const BINARY_OPS: readonly BinaryOp[] = [
  { op: "add", doc: "a + b", vec: (a, b) => `f32x4.add(${a}, ${b})`, scalar: (a, b) => `${a} + ${b}` },
  { op: "sub", doc: "a - b", vec: (a, b) => `f32x4.sub(${a}, ${b})`, scalar: (a, b) => `${a} - ${b}` },
  { op: "mul", doc: "a b", vec: (a, b) => `f32x4.mul(${a}, ${b})`, scalar: (a, b) => `${a} * ${b}` },
  { op: "div", doc: "a / b", vec: (a, b) => `f32x4.div(${a}, ${b})`, scalar: (a, b) => `${a} / ${b}` },
  {
    op: "max",
    doc: "max(a, b) (NaN if either is)",
    vec: (a, b) => `f32x4.max(${a}, ${b})`,
    scalar: (a, b) => `max<f32>(${a}, ${b})`,
  },
  {
    op: "min",
    doc: "min(a, b) (NaN if either is)",
    vec: (a, b) => `f32x4.min(${a}, ${b})`,
    scalar: (a, b) => `min<f32>(${a}, ${b})`,
  },
  {
    op: "pow",
    doc: "a^b",
    vec: (a, b) => `pow4(${a}, ${b})`,
    scalar: (a, b) => `pow1(${a}, ${b})`,
    math: ["pow1", "pow4"],
  },
  {
    op: "fmod",
    doc: "fmod(a, b), the sign of a (vector builds: a - trunc(a / b) b, and a for an infinite b " +
      "as in C)",
    vec: (a, b) =>
      `v128.bitselect(${a}, f32x4.sub(${a}, f32x4.mul(f32x4.trunc(f32x4.div(${a}, ${b})), ${b})), ` +
      `v128.and(f32x4.eq(f32x4.abs(${b}), kf(F_INF)), f32x4.lt(f32x4.abs(${a}), kf(F_INF))))`,
    scalar: (a, b) => `${a} % ${b}`,
  },
  {
    op: "prelu",
    doc: "a < 0 ? a b : a",
    vec: (a, b) => `v128.bitselect(f32x4.mul(${a}, ${b}), ${a}, f32x4.lt(${a}, ${ZERO}))`,
    scalar: (a, b) => `${a} < 0 ? ${a} * ${b} : ${a}`,
  },
];

/** Comparison kernels `f32_v<op>_x16(...)` writing bytes; Greater* swap the operands. */
export const COMPARE_OPS: readonly BinaryOp[] = [
  { op: "equal", doc: "a == b", vec: (a, b) => `f32x4.eq(${a}, ${b})`, scalar: (a, b) => `${a} == ${b}` },
  { op: "less", doc: "a < b", vec: (a, b) => `f32x4.lt(${a}, ${b})`, scalar: (a, b) => `${a} < ${b}` },
  {
    op: "lessequal",
    doc: "a <= b",
    vec: (a, b) => `f32x4.le(${a}, ${b})`,
    scalar: (a, b) => `${a} <= ${b}`,
  },
];

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return [
    ...UNARY_OPS.map(unarySource),
    ...BINARY_OPS.map(binarySource),
    ...COMPARE_OPS.map(compareSource),
  ];
}
