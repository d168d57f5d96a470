/**
 * Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
 * ReduceSumSquare, ReduceLogSum, ReduceLogSumExp, and ArgMax / ArgMin.
 *
 * `axes` is an attribute before opset 18 (13 for ReduceSum) and an input after; whichever the
 * node has is used, so one implementation serves every opset. The reduced axes are merged into
 * runs; each run is one call of an `f32_reduce_<kind>_x16` kernel over an [outer, r, inner]
 * view (innermost run first), so reducing the channels of NCHW or any middle axis needs no
 * transpose. Sum, Max, Min and Prod also take int32 / int64 (shape arithmetic), on the host.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import {
  hasInput,
  inputInts,
  intAttr,
  intsAttr,
  nodeLabel,
  normalizeAxes,
  normalizeAxis,
  shapeError,
} from "./_node_params.ts";
import { arenaView } from "./broadcast.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";
import { runUnaryF32 } from "./unary.ts";

type ReduceKernel = (
  outer: number,
  r: number,
  inner: number,
  x: number,
  y: number,
  scale: number,
) => void;

/** How a reduction splits into kernel steps. */
interface ReduceSpec {
  type: string;
  /** Kernel kind of the first step and of every later step (which folds partial results). */
  first: string;
  then: string;
  /** Multiply each step by 1/r (a mean of means is the mean: every group has r members). */
  mean?: boolean;
  /** Unary kernel applied to the result. */
  finish?: "sqrt" | "log";
  /** Host fold for integer types, with its identity. */
  int?: { init: bigint; fold: (a: bigint, b: bigint) => bigint };
}

const SPECS: ReduceSpec[] = [
  {
    type: "ReduceSum",
    first: "sum",
    then: "sum",
    int: { init: 0n, fold: (a, b) => a + b },
  },
  { type: "ReduceMean", first: "sum", then: "sum", mean: true },
  {
    type: "ReduceMax",
    first: "max",
    then: "max",
    int: { init: -(2n ** 63n), fold: (a, b) => (a > b ? a : b) },
  },
  {
    type: "ReduceMin",
    first: "min",
    then: "min",
    int: { init: 2n ** 63n - 1n, fold: (a, b) => (a < b ? a : b) },
  },
  {
    type: "ReduceProd",
    first: "prod",
    then: "prod",
    int: { init: 1n, fold: (a, b) => a * b },
  },
  { type: "ReduceSumSquare", first: "sumsq", then: "sum" },
  { type: "ReduceL1", first: "sumabs", then: "sum" },
  { type: "ReduceL2", first: "sumsq", then: "sum", finish: "sqrt" },
  { type: "ReduceLogSum", first: "sum", then: "sum", finish: "log" },
  { type: "ReduceLogSumExp", first: "logsumexp", then: "logsumexp" },
];

function kernelName(kind: string): string {
  return kind === "logsumexp" ? "f32_reduce_logsumexp_x8" : `f32_reduce_${kind}_x16`;
}

/**
 * The reduced axes of a node (normalised, sorted). None with noop_with_empty_axes: each element
 * is then folded alone, so the op's element map still applies (ReduceSumSquare gives x², as in
 * ONNX's reference implementation), not a copy.
 */
function reducedAxes(node: Node, rank: number, fromInput: number[] | undefined): number[] {
  const raw = intsAttr(node, "axes") ?? fromInput ?? [];
  if (raw.length === 0) {
    if (intAttr(node, "noop_with_empty_axes", 0) === 1) return [];
    return Array.from({ length: rank }, (_, i) => i);
  }
  return normalizeAxes(node, raw, rank).sort((a, b) => a - b);
}

/** One kernel call: y[o, i] = fold over k < r of x[o, k, i]. */
export interface Step {
  /** Product of the dims before the reduced run. */
  outer: number;
  /** The reduced run's length. */
  r: number;
  /** Product of the (kept) dims after it. */
  inner: number;
}

/**
 * The kernel steps reducing `axes` of `dims`, innermost run of reduced dims first. Size-1
 * dims are dropped; adjacent dims of the same kind merge. At least one step is returned
 * (r = 1 when nothing is left to fold), so element maps such as x^2 still apply.
 */
export function reduceSteps(dims: readonly number[], axes: readonly number[]): Step[] {
  const blocks: { size: number; reduced: boolean }[] = [];
  dims.forEach((d, i) => {
    if (d === 1) return;
    const reduced = axes.includes(i);
    const last = blocks[blocks.length - 1];
    if (last && last.reduced === reduced) last.size *= d;
    else blocks.push({ size: d, reduced });
  });
  const steps: Step[] = [];
  for (let j = blocks.length - 1; j >= 0; j--) {
    if (!blocks[j].reduced) continue;
    const outer = sizeOf(blocks.slice(0, j).map((b) => b.size));
    const inner = sizeOf(blocks.slice(j + 1).map((b) => b.size));
    steps.push({ outer, r: blocks[j].size, inner });
    blocks.splice(j, 1);
  }
  if (steps.length === 0) steps.push({ outer: sizeOf(dims), r: 1, inner: 1 });
  return steps;
}

function outputDims(dims: readonly number[], axes: number[], keep: boolean): number[] {
  return keep
    ? dims.map((d, i) => (axes.includes(i) ? 1 : d))
    : dims.filter((_, i) => !axes.includes(i));
}

/** Axes from the node, reading the `axes` input's value at shape inference. */
function axesAt(node: Node, inputs: (InputInfo | undefined)[], rank: number): number[] {
  return reducedAxes(node, rank, inputInts(node, inputs, 1, "axes"));
}

function runF32(kr: Kernels, spec: ReduceSpec, x: ArenaTensor, y: ArenaTensor, axes: number[]) {
  const steps = reduceSteps(x.dims, axes);
  const fn = kr.fn as unknown as Record<string, ReduceKernel>;
  let src = x.offset;
  const scratch: number[] = [];
  try {
    steps.forEach((s, k) => {
      const last = k === steps.length - 1;
      const dst = last ? y.offset : kr.arena.alloc(4 * s.outer * s.inner, "reduction partials");
      if (!last) scratch.push(dst);
      const scale = spec.mean ? 1 / s.r : 1;
      fn[kernelName(k === 0 ? spec.first : spec.then)](s.outer, s.r, s.inner, src, dst, scale);
      src = dst;
    });
  } finally {
    for (const p of scratch) kr.arena.free(p);
  }
  if (spec.finish) runUnaryF32(kr, `f32_v${spec.finish}_x8`, y, y);
}

/** Integer reductions on the host: one pass over x, folding into the output element. */
function runInt(kr: Kernels, spec: ReduceSpec, x: ArenaTensor, y: ArenaTensor, axes: number[]) {
  const { init, fold } = spec.int!;
  const keep = outputDims(x.dims, axes, true);
  const acc = new Array<bigint>(sizeOf(keep)).fill(init);
  const xs = arenaView(kr, x);
  const rank = x.dims.length;
  const idx = new Array<number>(rank).fill(0);
  const outStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    outStrides[i] = axes.includes(i) ? 0 : s;
    s *= keep[i];
  }
  let o = 0;
  for (let e = 0; e < xs.length; e++) {
    acc[o] = fold(acc[o], BigInt(xs[e]));
    for (let i = rank - 1; i >= 0; i--) {
      idx[i]++;
      o += outStrides[i];
      if (idx[i] < x.dims[i]) break;
      o -= outStrides[i] * x.dims[i];
      idx[i] = 0;
    }
  }
  const ys = arenaView(kr, y);
  if (y.type === "int64") (ys as BigInt64Array).set(acc.map((v) => BigInt.asIntN(64, v)));
  else (ys as Int32Array).set(acc.map((v) => Number(BigInt.asIntN(32, v))));
}

function requireType(node: Node, x: InputInfo, ints: boolean): void {
  const ok = x.type === "float32" || (ints && (x.type === "int32" || x.type === "int64"));
  if (!ok) {
    throw new DTypeError(
      `${nodeLabel(node)}: input "data" is "${x.type}", expected ` +
        (ints ? '"float32", "int32" or "int64"' : '"float32"'),
    );
  }
}

function reduceOp(spec: ReduceSpec): Op {
  return {
    type: spec.type,
    inferShapes(node, inputs): OutputInfo[] {
      const x = inputs[0];
      if (!hasInput(node, 0) || !x) throw shapeError(node, `input "data" is required`);
      requireType(node, x, spec.int !== undefined);
      const axes = axesAt(node, inputs, x.dims.length);
      return [{ type: x.type, dims: outputDims(x.dims, axes, intAttr(node, "keepdims", 1) !== 0) }];
    },
    run(ctx, node, inputs, outputs) {
      const kr = ctx.kernels;
      const x = inputs[0]!;
      const y = outputs[0];
      if (sizeOf(y.dims) === 0) return;
      const fromInput = inputs[1] ? Array.from(arenaView(kr, inputs[1]), Number) : undefined;
      const axes = reducedAxes(node, x.dims.length, fromInput);
      if (x.type === "float32") runF32(kr, spec, x, y, axes);
      else runInt(kr, spec, x, y, axes);
    },
  };
}

function argOp(type: "ArgMax" | "ArgMin"): Op {
  const isMin = type === "ArgMin";
  const view = (node: Node, dims: readonly number[]): [number, number, number, number] => {
    const axis = normalizeAxis(node, intAttr(node, "axis", 0), Math.max(dims.length, 1));
    return [axis, sizeOf(dims.slice(0, axis)), dims[axis] ?? 1, sizeOf(dims.slice(axis + 1))];
  };
  return {
    type,
    inferShapes(node, inputs): OutputInfo[] {
      const x = inputs[0];
      if (!hasInput(node, 0) || !x) throw shapeError(node, `input "data" is required`);
      requireType(node, x, true);
      const [axis, outer, r, inner] = view(node, x.dims);
      if (r === 0 && outer * inner > 0) {
        throw shapeError(
          node,
          `cannot take the ${isMin ? "min" : "max"} of the empty axis ${axis}`,
        );
      }
      const keep = intAttr(node, "keepdims", 1) !== 0;
      return [{ type: "int64", dims: outputDims(x.dims, [axis], keep) }];
    },
    run(ctx, node, inputs, outputs) {
      const kr = ctx.kernels;
      const x = inputs[0]!;
      const y = outputs[0];
      const [, outer, r, inner] = view(node, x.dims);
      if (outer * inner === 0) return;
      const last = intAttr(node, "select_last_index", 0) === 1;
      if (x.type === "float32") {
        kr.fn.f32_argmax_x4(outer, r, inner, x.offset, y.offset, (isMin ? 1 : 0) | (last ? 2 : 0));
        return;
      }
      const xs = arenaView(kr, x) as Int32Array | BigInt64Array;
      const ys = arenaView(kr, y) as BigInt64Array;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let best = 0;
          let bv = xs[o * r * inner + i];
          for (let k = 1; k < r; k++) {
            const v = xs[(o * r + k) * inner + i];
            if (isMin ? v < bv || (last && v === bv) : v > bv || (last && v === bv)) {
              best = k;
              bv = v;
            }
          }
          ys[o * inner + i] = BigInt(best);
        }
      }
    },
  };
}

/** The reduction ops. */
export const ops: Op[] = [...SPECS.map(reduceOp), argOp("ArgMax"), argOp("ArgMin")];
