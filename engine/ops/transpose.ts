/**
 * Transpose: one strided copy. The kernel picks its inner loop from the two innermost dims
 * after merging contiguous runs, so NCHW↔NHWC and swaps of the last two dims become tiled
 * 4x4 register transposes and permutations that keep the last dim become row copies.
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
  intsAttr,
  type KnownOutput,
  requireInput,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function permutation(node: Node, rank: number): number[] {
  const perm = intsAttr(node, "perm");
  if (!perm) return Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const seen = new Set(perm);
  if (
    perm.length !== rank || seen.size !== rank || perm.some((p) => !(p >= 0 && p < rank))
  ) {
    throw shapeError(node, `perm ${formatDims(perm)} is not a permutation of ${rank} axes`);
  }
  return perm;
}

/** The copy that writes X transposed by `perm` into output 0. */
export function transposeProgram(
  dims: readonly number[],
  perm: readonly number[],
  esize: number,
): CopyProgram {
  const inStrides = stridesOf(dims);
  const outDims = perm.map((p) => dims[p]);
  return {
    esize,
    steps: [{
      dims: outDims,
      src: { input: 0 },
      srcOffset: 0,
      srcStrides: perm.map((p) => inStrides[p]),
      dst: 0,
      dstOffset: 0,
      dstStrides: stridesOf(outDims),
    }],
  };
}

/** ONNX Transpose (opsets 1–21): any rank, any element type; `perm` defaults to reversed axes. */
export const transposeOp: Op = {
  type: "Transpose",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const perm = permutation(node, x.dims.length);
    const out = [{ type: x.type, dims: perm.map((p) => x.dims[p]) }];
    return foldCopyProgram(transposeProgram(x.dims, perm, elementBytes(x.type)), inputs, out);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const perm = permutation(node, x.dims.length);
    runCopyProgram(
      ctx.kernels,
      transposeProgram(x.dims, perm, elementBytes(x.type)),
      inputs,
      outputs,
    );
  },
};

/** The ops this file implements. */
export const ops: Op[] = [transposeOp];
