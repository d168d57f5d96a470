/**
 * ONNX GlobalAveragePool and GlobalMaxPool: one value per (batch, channel) plane, for any
 * spatial rank.
 *
 * @module
 */
import { ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import { requireFloat32 } from "./conv.ts";
import { nodeLabel } from "./_node_params.ts";
import type { InputInfo, Op, OutputInfo } from "./op.ts";

function inferGlobal(node: Node, inputs: (InputInfo | undefined)[]): OutputInfo[] {
  const x = inputs[0];
  if (!x) throw new ShapeError(`${nodeLabel(node)}: input X is required`);
  requireFloat32(node, inputs);
  if (x.dims.length < 3) {
    throw new ShapeError(
      `${nodeLabel(node)}: input must have a batch, a channel and at least one spatial dim, got ` +
        `[${x.dims.join(", ")}]`,
    );
  }
  return [{ type: "float32", dims: [x.dims[0], x.dims[1], ...x.dims.slice(2).map(() => 1)] }];
}

function globalPool(type: string, kind: "avg" | "max"): Op {
  return {
    type,
    inferShapes: inferGlobal,
    run(ctx, _node, inputs, outputs) {
      const x = inputs[0]!;
      const planes = x.dims[0] * x.dims[1];
      const size = sizeOf(x.dims.slice(2));
      if (planes === 0) return;
      const fn = kind === "avg"
        ? ctx.kernels.fn.f32_global_avgpool_w4
        : ctx.kernels.fn.f32_global_maxpool_w4;
      fn(planes, x.offset, size, outputs[0].offset);
    },
  };
}

/** GlobalAveragePool and GlobalMaxPool. */
export const ops: Op[] = [
  globalPool("GlobalAveragePool", "avg"),
  globalPool("GlobalMaxPool", "max"),
];
