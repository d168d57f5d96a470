/**
 * ONNX AveragePool (1-D and 2-D, NCHW), both count_include_pad modes and ceil_mode. A window
 * is divided by its taps inside the input (count_include_pad = 0), or inside the input and
 * its padding (= 1); taps that ceil_mode pushes past the padding never count, as in
 * onnxruntime.
 *
 * @module
 */
import { sizeOf } from "../tensor.ts";
import { requireFloat32 } from "./conv.ts";
import { checkPoolAttributes, pooledDims, poolWindow } from "./max_pool.ts";
import type { Op, OutputInfo } from "./op.ts";

const averagePool: Op = {
  type: "AveragePool",
  check(node) {
    return checkPoolAttributes(node);
  },
  inferShapes(node, inputs): OutputInfo[] {
    requireFloat32(node, inputs);
    return [{ type: "float32", dims: pooledDims(inputs[0]!.dims, poolWindow(node, inputs[0])) }];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const { y: ay, x: ax } = poolWindow(node, x);
    if (sizeOf(outputs[0].dims) === 0) return;
    const include = ((node.attributes.count_include_pad as number | undefined) ?? 0) !== 0;
    const scratch = kr.arena.alloc(ax.out * 4, "AveragePool divisors");
    try {
      kr.fn.f32_avgpool_w4(
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
        include ? -ay.begin : 0,
        include ? ay.input + ay.end : ay.input,
        include ? -ax.begin : 0,
        include ? ax.input + ax.end : ax.input,
        scratch,
      );
    } finally {
      kr.arena.free(scratch);
    }
  },
};

/** AveragePool. */
export const ops: Op[] = [averagePool];
