/**
 * Slice: one strided copy (first element + strides x steps). starts/ends/axes come from
 * attributes (opsets < 10) or inputs (10+, with steps); out-of-range values, including the
 * INT64_MAX / INT64_MIN sentinels exporters use for "to the end", clamp per the spec.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import { stridesOf } from "../tensor.ts";
import {
  type CopyProgram,
  elementBytes,
  foldCopyProgram,
  runCopyProgram,
} from "./_copy_program.ts";
import {
  formatDims,
  inputInts,
  intsAttr,
  type KnownOutput,
  normalizeAxes,
  requireInput,
  runInts,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

/** starts, ends, axes, steps as given (undefined when omitted). */
interface SliceParams {
  starts?: number[];
  ends?: number[];
  axes?: number[];
  steps?: number[];
}

/** Per axis: first index, step, and output length. */
function slicePlan(
  node: Node,
  dims: readonly number[],
  p: SliceParams,
): { first: number[]; step: number[]; out: number[] } {
  const { starts, ends } = p;
  if (!starts || !ends) throw shapeError(node, "starts and ends are required");
  const n = starts.length;
  const axes = p.axes ?? starts.map((_, i) => i);
  const steps = p.steps ?? starts.map(() => 1);
  if (ends.length !== n || axes.length !== n || steps.length !== n) {
    throw shapeError(
      node,
      `starts ${formatDims(starts)}, ends ${formatDims(ends)}, axes ${formatDims(axes)} and ` +
        `steps ${formatDims(steps)} must have the same length`,
    );
  }
  const ax = normalizeAxes(node, axes, dims.length);
  const first = dims.map(() => 0);
  const step = dims.map(() => 1);
  const out = [...dims];
  ax.forEach((a, k) => {
    const d = dims[a];
    const st = steps[k];
    if (st === 0 || !Number.isFinite(st)) {
      throw shapeError(node, `step ${st} on axis ${a} is not allowed`);
    }
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
    const len = Math.max(0, Math.ceil((e - s) / st));
    first[a] = len > 0 ? s : 0;
    step[a] = st;
    out[a] = len;
  });
  return { first, step, out };
}

/** The copy of the selected elements into output 0. */
export function sliceProgram(
  dims: readonly number[],
  first: readonly number[],
  step: readonly number[],
  out: readonly number[],
  esize: number,
): CopyProgram {
  const st = stridesOf(dims);
  return {
    esize,
    steps: [{
      dims: [...out],
      src: { input: 0 },
      srcOffset: first.reduce((acc, f, k) => acc + f * st[k], 0),
      srcStrides: st.map((s, k) => s * step[k]),
      dst: 0,
      dstOffset: 0,
      dstStrides: stridesOf(out),
    }],
  };
}

function attrParams(node: Node): SliceParams | undefined {
  const starts = intsAttr(node, "starts");
  if (!starts) return undefined;
  return { starts, ends: intsAttr(node, "ends"), axes: intsAttr(node, "axes") };
}

/** ONNX Slice (opsets 1–21). */
export const sliceOp: Op = {
  type: "Slice",
  check(node, opset) {
    if (opset < 10 && !intsAttr(node, "starts")) return ["starts and ends attributes are required"];
    return [];
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const p = attrParams(node) ?? {
      starts: inputInts(node, inputs, 1, "starts"),
      ends: inputInts(node, inputs, 2, "ends"),
      axes: inputInts(node, inputs, 3, "axes"),
      steps: inputInts(node, inputs, 4, "steps"),
    };
    const { first, step, out } = slicePlan(node, x.dims, p);
    const program = sliceProgram(x.dims, first, step, out, elementBytes(x.type));
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const kr = ctx.kernels;
    const p = attrParams(node) ?? {
      starts: runInts(kr, inputs, 1),
      ends: runInts(kr, inputs, 2),
      axes: runInts(kr, inputs, 3),
      steps: runInts(kr, inputs, 4),
    };
    const { first, step, out } = slicePlan(node, x.dims, p);
    runCopyProgram(
      kr,
      sliceProgram(x.dims, first, step, out, elementBytes(x.type)),
      inputs,
      outputs,
    );
  },
};

/** The ops this file implements. */
export const ops: Op[] = [sliceOp];
