/**
 * DepthToSpace (DCR, and CRD which is PyTorch's PixelShuffle) and SpaceToDepth: 6-D
 * transposes written as one strided copy each. With block 2 the kernel's inner loop is a
 * vector zip of two rows (DepthToSpace) or an even/odd split (SpaceToDepth).
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
  intAttr,
  type KnownOutput,
  requireInput,
  shapeError,
  stringAttr,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function blockSize(node: Node): number {
  const b = intAttr(node, "blocksize", 0);
  if (!Number.isInteger(b) || b < 1) {
    throw shapeError(node, `blocksize ${b} must be a positive integer`);
  }
  return b;
}

function mode(node: Node): "DCR" | "CRD" {
  const m = stringAttr(node, "mode", "DCR");
  if (m !== "DCR" && m !== "CRD") throw shapeError(node, `mode "${m}" is not DCR or CRD`);
  return m;
}

function depthToSpaceDims(node: Node, dims: readonly number[], b: number): number[] {
  if (dims.length !== 4 || dims[1] % (b * b) !== 0) {
    throw shapeError(
      node,
      `input ${formatDims(dims)} must be 4-D with channels divisible by blocksize² (${b * b})`,
    );
  }
  const [n, c, h, w] = dims;
  return [n, c / (b * b), h * b, w * b];
}

function spaceToDepthDims(node: Node, dims: readonly number[], b: number): number[] {
  if (dims.length !== 4 || dims[2] % b !== 0 || dims[3] % b !== 0) {
    throw shapeError(node, `input ${formatDims(dims)} must be 4-D with H and W divisible by ${b}`);
  }
  const [n, c, h, w] = dims;
  return [n, c * b * b, h / b, w / b];
}

/** The copy of DepthToSpace: output viewed as [N, C', H, b, W, b]. */
export function depthToSpaceProgram(
  dims: readonly number[],
  b: number,
  m: "DCR" | "CRD",
  esize: number,
): CopyProgram {
  const [n, c, h, w] = dims;
  const oc = c / (b * b);
  const hw = h * w;
  const out = [n, oc, h, b, w, b];
  // Source strides of each output dim, from the input viewed as [N,b,b,C',H,W] (DCR) or
  // [N,C',b,b,H,W] (CRD).
  const srcStrides = m === "DCR"
    ? [c * hw, hw, w, b * oc * hw, 1, oc * hw]
    : [c * hw, b * b * hw, w, b * hw, 1, hw];
  return {
    esize,
    steps: [{
      dims: out,
      src: { input: 0 },
      srcOffset: 0,
      srcStrides,
      dst: 0,
      dstOffset: 0,
      dstStrides: stridesOf(out),
    }],
  };
}

/** The copy of SpaceToDepth: output viewed as [N, b, b, C, H/b, W/b]. */
export function spaceToDepthProgram(
  dims: readonly number[],
  b: number,
  esize: number,
): CopyProgram {
  const [n, c, h, w] = dims;
  const out = [n, b, b, c, h / b, w / b];
  return {
    esize,
    steps: [{
      dims: out,
      src: { input: 0 },
      srcOffset: 0,
      srcStrides: [c * h * w, w, 1, h * w, b * w, b],
      dst: 0,
      dstOffset: 0,
      dstStrides: stridesOf(out),
    }],
  };
}

/** ONNX DepthToSpace (opsets 1–21; mode from 11, default DCR). */
export const depthToSpaceOp: Op = {
  type: "DepthToSpace",
  check(node) {
    const m = stringAttr(node, "mode", "DCR");
    const reasons = m === "DCR" || m === "CRD" ? [] : [`mode "${m}" is not DCR or CRD`];
    if (typeof node.attributes.blocksize !== "number") {
      reasons.push('the "blocksize" attribute is required');
    }
    return reasons;
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const b = blockSize(node);
    const out = depthToSpaceDims(node, x.dims, b);
    const program = depthToSpaceProgram(x.dims, b, mode(node), elementBytes(x.type));
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const program = depthToSpaceProgram(x.dims, blockSize(node), mode(node), elementBytes(x.type));
    runCopyProgram(ctx.kernels, program, inputs, outputs);
  },
};

/** ONNX SpaceToDepth (opsets 1–21). */
export const spaceToDepthOp: Op = {
  type: "SpaceToDepth",
  check(node) {
    return typeof node.attributes.blocksize === "number"
      ? []
      : ['the "blocksize" attribute is required'];
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const b = blockSize(node);
    const out = spaceToDepthDims(node, x.dims, b);
    const program = spaceToDepthProgram(x.dims, b, elementBytes(x.type));
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    runCopyProgram(
      ctx.kernels,
      spaceToDepthProgram(x.dims, blockSize(node), elementBytes(x.type)),
      inputs,
      outputs,
    );
  },
};

/** The ops this file implements. */
export const ops: Op[] = [depthToSpaceOp, spaceToDepthOp];
