/**
 * Split: one strided copy per output. The sizes come from the `split` attribute (opsets
 * < 13), the `split` input (13+), `num_outputs` (18+, last chunk smaller) or an even split.
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
  hasInput,
  inputInts,
  intAttr,
  intsAttr,
  type KnownOutput,
  normalizeAxis,
  requireInput,
  runInts,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function splitSizes(node: Node, dims: readonly number[], given: number[] | undefined): {
  axis: number;
  sizes: number[];
} {
  if (dims.length === 0) throw shapeError(node, "cannot split a scalar (rank 0)");
  const axis = normalizeAxis(node, intAttr(node, "axis", 0), dims.length);
  const d = dims[axis];
  const n = node.outputs.length;
  let sizes = given ?? intsAttr(node, "split");
  if (!sizes) {
    const num = node.attributes.num_outputs;
    if (typeof num === "number") {
      if (num !== n) {
        throw shapeError(node, `num_outputs is ${num} but the node has ${n} outputs`);
      }
      const chunk = Math.ceil(d / num);
      sizes = Array.from({ length: num }, (_, i) => Math.min(chunk, d - i * chunk));
      if (sizes.some((s) => s < 0)) {
        throw shapeError(node, `cannot split ${d} elements into ${num} chunks of ${chunk}`);
      }
    } else {
      if (d % n !== 0) {
        throw shapeError(node, `axis ${axis} of size ${d} does not split evenly into ${n} outputs`);
      }
      sizes = new Array<number>(n).fill(d / n);
    }
  }
  if (sizes.length !== n) {
    throw shapeError(node, `split ${formatDims(sizes)} has ${sizes.length} sizes for ${n} outputs`);
  }
  if (sizes.some((s) => !(s >= 0)) || sizes.reduce((a, b) => a + b, 0) !== d) {
    throw shapeError(node, `split ${formatDims(sizes)} does not add up to ${d} (axis ${axis})`);
  }
  return { axis, sizes };
}

/** The copies that cut X into outputs along `axis`. */
export function splitProgram(
  dims: readonly number[],
  axis: number,
  sizes: readonly number[],
  esize: number,
): CopyProgram {
  const inStrides = stridesOf(dims);
  let at = 0;
  return {
    esize,
    steps: sizes.map((s, j) => {
      const od = [...dims];
      od[axis] = s;
      const step = {
        dims: od,
        src: { input: 0 },
        srcOffset: at * inStrides[axis],
        srcStrides: inStrides,
        dst: j,
        dstOffset: 0,
        dstStrides: stridesOf(od),
      };
      at += s;
      return step;
    }),
  };
}

/** ONNX Split (opsets 2–21). */
export const splitOp: Op = {
  type: "Split",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const { axis, sizes } = splitSizes(node, x.dims, inputInts(node, inputs, 1, "split"));
    const outs = sizes.map((s) => {
      const d = [...x.dims];
      d[axis] = s;
      return { type: x.type, dims: d };
    });
    return foldCopyProgram(splitProgram(x.dims, axis, sizes, elementBytes(x.type)), inputs, outs);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const given = hasInput(node, 1) ? runInts(ctx.kernels, inputs, 1) : undefined;
    const { axis, sizes } = splitSizes(node, x.dims, given);
    runCopyProgram(
      ctx.kernels,
      splitProgram(x.dims, axis, sizes, elementBytes(x.type)),
      inputs,
      outputs,
    );
  },
};

/** The ops this file implements. */
export const ops: Op[] = [splitOp];
