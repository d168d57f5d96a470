/**
 * Unary elementwise ops: activations (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish,
 * Tanh, Gelu, Softplus, Elu, Selu, Mish, Softsign and the internal SiLU) and math (Exp, Log,
 * Sqrt, Reciprocal, Erf, Neg, Abs, Sign, Floor, Ceil, Round, Sin, Cos). Float32 runs the
 * `f32_v<op>_x8` kernels of kernels-as/elementwise; Neg, Abs, Sign and Relu also take int32
 * and int64 (shape arithmetic), computed on the host side of the arena.
 *
 * Accuracy of the transcendental kernels against float64 is measured in
 * tests/kernels/math_test.ts and tests/kernels/elementwise_test.ts.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import {
  arenaFloats,
  floatAttr,
  hasInput,
  nodeLabel,
  shapeError,
  stringAttr,
} from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OpContext, OutputInfo } from "./op.ts";

/** Signature of every `f32_v<op>_x8` kernel. */
export type UnaryKernel = (n: number, x: number, y: number, p0: number, p1: number) => void;

/** The unary kernel called `name`. */
export function unaryKernel(kr: Kernels, name: string): UnaryKernel {
  return (kr.fn as unknown as Record<string, UnaryKernel>)[name];
}

/** Runs `f32_v<op>_x8` over every element of a float32 tensor. */
export function runUnaryF32(
  kr: Kernels,
  kernel: string,
  x: ArenaTensor,
  y: ArenaTensor,
  p0 = 0,
  p1 = 0,
): void {
  const n = sizeOf(x.dims);
  if (n > 0) unaryKernel(kr, kernel)(n, x.offset, y.offset, p0, p1);
}

interface UnarySpec {
  type: string;
  /** The kernel token and its two parameters for a node. */
  kernel: (node: Node) => [string, number, number];
  /** Host versions for integer types, when the op has one. */
  int?: (x: number) => number;
  bigint?: (x: bigint) => bigint;
  check?: (node: Node) => string[];
}

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

const fixed = (token: string) => (): [string, number, number] => [token, 0, 0];

const SPECS: UnarySpec[] = [
  {
    type: "Relu",
    kernel: () => ["clamp", 0, Infinity],
    int: (x) => Math.max(x, 0),
    bigint: (x) => (x < 0n ? 0n : x),
  },
  { type: "LeakyRelu", kernel: (n) => ["leakyrelu", floatAttr(n, "alpha", 0.01), 0] },
  { type: "Sigmoid", kernel: fixed("sigmoid") },
  {
    type: "HardSigmoid",
    kernel: (n) => ["hardsigmoid", floatAttr(n, "alpha", 0.2), floatAttr(n, "beta", 0.5)],
  },
  { type: "HardSwish", kernel: fixed("hardswish") },
  { type: "Tanh", kernel: fixed("tanh") },
  // Internal: x * Sigmoid(x) when a pass fuses it outside a producer's epilogue.
  { type: "Silu", kernel: fixed("silu") },
  {
    type: "Gelu",
    kernel: (n) => [stringAttr(n, "approximate", "none") === "tanh" ? "gelutanh" : "geluerf", 0, 0],
    check: (n) => {
      const a = stringAttr(n, "approximate", "none");
      return a === "none" || a === "tanh"
        ? []
        : [`approximate "${a}" is not supported (use "none" or "tanh")`];
    },
  },
  { type: "Softplus", kernel: fixed("softplus") },
  { type: "Elu", kernel: (n) => ["elu", floatAttr(n, "alpha", 1), 0] },
  {
    type: "Selu",
    kernel: (n) => ["selu", floatAttr(n, "alpha", SELU_ALPHA), floatAttr(n, "gamma", SELU_GAMMA)],
  },
  { type: "Mish", kernel: fixed("mish") },
  { type: "Softsign", kernel: fixed("softsign") },
  { type: "Exp", kernel: fixed("exp") },
  { type: "Log", kernel: fixed("log") },
  { type: "Sqrt", kernel: fixed("sqrt") },
  { type: "Reciprocal", kernel: fixed("reciprocal") },
  { type: "Erf", kernel: fixed("erf") },
  { type: "Neg", kernel: fixed("neg"), int: (x) => -x | 0, bigint: (x) => BigInt.asIntN(64, -x) },
  {
    type: "Abs",
    kernel: fixed("abs"),
    int: (x) => Math.abs(x) | 0,
    bigint: (x) => BigInt.asIntN(64, x < 0n ? -x : x),
  },
  {
    type: "Sign",
    kernel: fixed("sign"),
    int: (x) => Math.sign(x),
    bigint: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
  },
  { type: "Floor", kernel: fixed("floor") },
  { type: "Ceil", kernel: fixed("ceil") },
  { type: "Round", kernel: fixed("round") },
  { type: "Sin", kernel: fixed("sin") },
  { type: "Cos", kernel: fixed("cos") },
];

function checkType(node: Node, x: InputInfo | undefined, spec: UnarySpec): InputInfo {
  if (!x) throw shapeError(node, `input "X" is required`);
  const ok = x.type === "float32" ||
    (x.type === "int32" && spec.int) || (x.type === "int64" && spec.bigint);
  if (!ok) {
    const allowed = spec.int ? '"float32", "int32" or "int64"' : '"float32"';
    throw new DTypeError(`${nodeLabel(node)}: input "X" is "${x.type}", expected ${allowed}`);
  }
  return x;
}

function runHost(kr: Kernels, spec: UnarySpec, x: ArenaTensor, y: ArenaTensor): void {
  const n = sizeOf(x.dims);
  const buf = kr.arena.memory.buffer;
  if (x.type === "int64") {
    const a = new BigInt64Array(buf, x.offset, n);
    const b = new BigInt64Array(buf, y.offset, n);
    for (let i = 0; i < n; i++) b[i] = spec.bigint!(a[i]);
  } else {
    const a = new Int32Array(buf, x.offset, n);
    const b = new Int32Array(buf, y.offset, n);
    for (let i = 0; i < n; i++) b[i] = spec.int!(a[i]);
  }
}

function unaryOp(spec: UnarySpec): Op {
  return {
    type: spec.type,
    check: (node) => spec.check?.(node) ?? [],
    inferShapes(node, inputs): OutputInfo[] {
      const x = checkType(node, inputs[0], spec);
      return [{ type: x.type, dims: [...x.dims] }];
    },
    run(ctx, node, inputs, outputs) {
      const x = inputs[0]!;
      if (x.type !== "float32") return runHost(ctx.kernels, spec, x, outputs[0]);
      const [token, p0, p1] = spec.kernel(node);
      runUnaryF32(ctx.kernels, `f32_v${token}_x8`, x, outputs[0], p0, p1);
    },
  };
}

/** Clip bounds known at load (attributes before opset 11, constant inputs after). */
interface ClipState {
  lo?: number;
  hi?: number;
}

const F32_MAX = 3.4028234663852886e38;

function clipBound(
  kr: Kernels,
  node: Node,
  inputs: (ArenaTensor | undefined)[],
  i: number,
  known: number | undefined,
  fallback: number,
): number {
  if (known !== undefined) return known;
  if (!hasInput(node, i) || !inputs[i]) return fallback;
  return arenaFloats(kr, inputs[i]!)[0];
}

const clip: Op<ClipState> = {
  type: "Clip",
  inferShapes(node, inputs) {
    const x = inputs[0];
    if (!x) throw shapeError(node, `input "input" is required`);
    if (x.type !== "float32") {
      throw new DTypeError(`${nodeLabel(node)}: input "input" is "${x.type}", expected "float32"`);
    }
    for (const [i, name] of [[1, "min"], [2, "max"]] as const) {
      const b = inputs[i];
      if (!hasInput(node, i) || !b) continue;
      if (sizeOf(b.dims) !== 1) {
        throw shapeError(node, `input "${name}" must hold one value, got dims [${b.dims}]`);
      }
      if (b.type !== "float32") {
        throw new DTypeError(`${nodeLabel(node)}: input "${name}" is "${b.type}", not "float32"`);
      }
    }
    return [{ type: x.type, dims: [...x.dims] }];
  },
  prepare(_ctx, node, inputs): ClipState {
    const attr = (name: string, fb: number) =>
      typeof node.attributes[name] === "number" ? node.attributes[name] as number : fb;
    const state: ClipState = {};
    if (node.inputs.length <= 1) {
      // Opset < 11: attributes, defaulting to the float range.
      state.lo = attr("min", -F32_MAX);
      state.hi = attr("max", F32_MAX);
      return state;
    }
    const value = (i: number) => {
      if (!hasInput(node, i)) return i === 1 ? -Infinity : Infinity;
      const v = inputs[i]?.value;
      return v ? Number(v.data[0]) : undefined;
    };
    state.lo = value(1);
    state.hi = value(2);
    return state;
  },
  run(ctx: OpContext, node, inputs, outputs, state) {
    const kr = ctx.kernels;
    const lo = clipBound(kr, node, inputs, 1, state?.lo, -Infinity);
    const hi = clipBound(kr, node, inputs, 2, state?.hi, Infinity);
    runUnaryF32(kr, "f32_vclamp_x8", inputs[0]!, outputs[0], lo, hi);
  },
};

/** The unary ops. */
export const ops: Op[] = [...SPECS.map(unaryOp), clip as Op];
