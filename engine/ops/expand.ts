/**
 * Expand: numpy broadcast of X against a shape, as one strided copy with zero strides on
 * the broadcast dims (the kernel fills rows from a splat).
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
  type KnownOutput,
  requireInput,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

/** Bidirectional broadcast of two shapes (ONNX Expand / numpy rules). */
export function broadcastShapes(
  node: Node,
  a: readonly number[],
  b: readonly number[],
): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[i - (r - a.length)] ?? 1;
    const y = b[i - (r - b.length)] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw shapeError(node, `cannot broadcast ${formatDims(a)} with ${formatDims(b)}`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** The copy that broadcasts input 0 (dims) to `out`. */
export function broadcastProgram(
  dims: readonly number[],
  out: readonly number[],
  esize: number,
): CopyProgram {
  const pad = out.length - dims.length;
  const st = stridesOf(dims);
  return {
    esize,
    steps: [{
      dims: [...out],
      src: { input: 0 },
      srcOffset: 0,
      srcStrides: out.map((_, i) => (i < pad || dims[i - pad] === 1 ? 0 : st[i - pad])),
      dst: 0,
      dstOffset: 0,
      dstStrides: stridesOf(out),
    }],
  };
}

/** ONNX Expand (opsets 8–21). */
export const expandOp: Op = {
  type: "Expand",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const shape = inputInts(node, inputs, 1, "shape");
    if (!shape) throw shapeError(node, 'the "shape" input is required');
    const out = broadcastShapes(node, x.dims, shape);
    const program = broadcastProgram(x.dims, out, elementBytes(x.type));
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, _node, inputs, outputs) {
    const x = inputs[0]!;
    const program = broadcastProgram(x.dims, outputs[0].dims, elementBytes(x.type));
    runCopyProgram(ctx.kernels, program, inputs, outputs);
  },
};

/** The ops this file implements. */
export const ops: Op[] = [expandOp];
