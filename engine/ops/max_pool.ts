/**
 * ONNX MaxPool (1-D and 2-D, NCHW) without the optional Indices output. All N·C planes go
 * to the kernel in one call.
 *
 * @module
 */
import { ShapeError, UnsupportedOpError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import { checkWindowAttributes, requireFloat32, resolveWindow, type Window2d } from "./conv.ts";
import { nodeLabel } from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";

/** Problems shared by MaxPool and AveragePool attributes; empty when the node can run. */
export function checkPoolAttributes(node: Node): string[] {
  const reasons = checkWindowAttributes(node);
  const kernel = node.attributes.kernel_shape;
  if (!Array.isArray(kernel) || kernel.length === 0) reasons.push("kernel_shape is required");
  return reasons;
}

/** Resolves a MaxPool / AveragePool window over input dims; throws typed errors. */
export function poolWindow(node: Node, x: InputInfo | ArenaTensor | undefined): Window2d {
  if (!x) throw new ShapeError(`${nodeLabel(node)}: input X is required`);
  if (x.dims.length === 5) {
    throw new UnsupportedOpError([{ node: node.name, op: node.op, reason: "3-D pooling" }]);
  }
  const kernel = node.attributes.kernel_shape;
  if (!Array.isArray(kernel)) throw new ShapeError(`${nodeLabel(node)}: kernel_shape is required`);
  const ceil = ((node.attributes.ceil_mode as number | undefined) ?? 0) !== 0;
  return resolveWindow(node, x.dims, kernel as number[], { ceil });
}

/** Output dims of a pooled input. */
export function pooledDims(xDims: readonly number[], w: Window2d): number[] {
  return [xDims[0], xDims[1], ...(w.rank === 1 ? [w.x.out] : [w.y.out, w.x.out])];
}

const maxPool: Op = {
  type: "MaxPool",
  check(node) {
    const reasons = checkPoolAttributes(node);
    if (node.outputs.length > 1 && node.outputs[1] !== "") {
      reasons.push("the Indices output is not supported");
    }
    return reasons;
  },
  inferShapes(node, inputs): OutputInfo[] {
    requireFloat32(node, inputs);
    return [{ type: "float32", dims: pooledDims(inputs[0]!.dims, poolWindow(node, inputs[0])) }];
  },
  run(ctx, node, inputs, outputs) {
    const x = inputs[0]!;
    const { y: ay, x: ax } = poolWindow(node, x);
    if (sizeOf(outputs[0].dims) === 0) return;
    ctx.kernels.fn.f32_maxpool_w4(
      x.dims[0] * x.dims[1],
      x.offset,
      ay.input,
      ax.input,
      outputs[0].offset,
      ay.out,
      ax.out,
      ay.k,
      ax.k,
      ay.s,
      ax.s,
      ay.d,
      ax.d,
      ay.begin,
      ax.begin,
    );
  },
};

/** MaxPool. */
export const ops: Op[] = [maxPool];
