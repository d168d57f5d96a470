/**
 * Concat: one strided copy per input into its band of the output. Works on bytes, so int64
 * shape tensors concatenate like floats (and fold at load when their values are known).
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
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
  type KnownOutput,
  nodeLabel,
  normalizeAxis,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

/** Output dims of concatenating `dims` along `axis` (validated), and the normalized axis. */
function concatDims(node: Node, dims: readonly (readonly number[])[]): [number[], number] {
  if (dims.length === 0) throw shapeError(node, "needs at least one input");
  const rank = dims[0].length;
  if (rank === 0) throw shapeError(node, "cannot concatenate scalars (rank 0)");
  const raw = node.attributes.axis;
  if (typeof raw !== "number") throw shapeError(node, 'the "axis" attribute is required');
  const axis = normalizeAxis(node, raw, rank);
  const out = [...dims[0]];
  out[axis] = 0;
  for (const d of dims) {
    const same = d.length === rank && d.every((v, k) => k === axis || v === dims[0][k]);
    if (!same) {
      throw shapeError(
        node,
        `inputs ${formatDims(dims[0])} and ${formatDims(d)} differ outside axis ${axis}`,
      );
    }
    out[axis] += d[axis];
  }
  return [out, axis];
}

/** The copies that place every input in its band of output 0. */
export function concatProgram(
  dims: readonly (readonly number[])[],
  axis: number,
  out: readonly number[],
  esize: number,
): CopyProgram {
  const outStrides = stridesOf(out);
  let at = 0;
  return {
    esize,
    steps: dims.map((d, i) => {
      const step = {
        dims: [...d],
        src: { input: i },
        srcOffset: 0,
        srcStrides: stridesOf(d),
        dst: 0,
        dstOffset: at * outStrides[axis],
        dstStrides: outStrides,
      };
      at += d[axis];
      return step;
    }),
  };
}

/** ONNX Concat (opsets 4–21): any element type; negative axis from opset 11. */
export const concatOp: Op = {
  type: "Concat",
  check(node) {
    return typeof node.attributes.axis === "number" ? [] : ['the "axis" attribute is required'];
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const xs = inputs.map((x, i) => {
      if (!x) throw shapeError(node, `input ${i} is missing`);
      if (x.type !== inputs[0]!.type) {
        throw new DTypeError(
          `${nodeLabel(node)}: input ${i} is "${x.type}", input 0 is "${inputs[0]!.type}"`,
        );
      }
      return x;
    });
    const [out, axis] = concatDims(node, xs.map((x) => x.dims));
    const type = xs[0].type;
    const program = concatProgram(xs.map((x) => x.dims), axis, out, elementBytes(type));
    return foldCopyProgram(program, inputs, [{ type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const dims = inputs.map((x) => x!.dims);
    const [out, axis] = concatDims(node, dims);
    const program = concatProgram(dims, axis, out, elementBytes(outputs[0].type));
    runCopyProgram(ctx.kernels, program, inputs, outputs);
  },
};

/** The ops this file implements. */
export const ops: Op[] = [concatOp];
