/**
 * Tile: each axis splits into (repeat, element) with a zero source stride on the repeat,
 * so the whole op is one strided copy.
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
  runInts,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function checkRepeats(
  node: Node,
  dims: readonly number[],
  repeats: number[] | undefined,
): number[] {
  if (!repeats) throw shapeError(node, 'the "repeats" input is required');
  if (repeats.length !== dims.length || repeats.some((r) => !Number.isInteger(r) || r < 0)) {
    throw shapeError(
      node,
      `repeats ${formatDims(repeats)} must be ${dims.length} non-negative integers for ${
        formatDims(dims)
      }`,
    );
  }
  return repeats;
}

/** The copy that tiles input 0 by `repeats`. */
export function tileProgram(
  dims: readonly number[],
  repeats: readonly number[],
  esize: number,
): CopyProgram {
  const st = stridesOf(dims);
  const out = dims.map((d, k) => d * repeats[k]);
  const ost = stridesOf(out);
  return {
    esize,
    steps: [{
      dims: dims.flatMap((d, k) => [repeats[k], d]),
      src: { input: 0 },
      srcOffset: 0,
      srcStrides: st.flatMap((s) => [0, s]),
      dst: 0,
      dstOffset: 0,
      dstStrides: ost.flatMap((s, k) => [s * dims[k], s]),
    }],
  };
}

/** ONNX Tile (opsets 6–21). */
export const tileOp: Op = {
  type: "Tile",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const repeats = checkRepeats(node, x.dims, inputInts(node, inputs, 1, "repeats"));
    const out = x.dims.map((d, k) => d * repeats[k]);
    const program = tileProgram(x.dims, repeats, elementBytes(x.type));
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const repeats = checkRepeats(node, x.dims, runInts(ctx.kernels, inputs, 1));
    runCopyProgram(
      ctx.kernels,
      tileProgram(x.dims, repeats, elementBytes(x.type)),
      inputs,
      outputs,
    );
  },
};

/** The ops this file implements. */
export const ops: Op[] = [tileOp];
