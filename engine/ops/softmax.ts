/**
 * Softmax and LogSoftmax on float32, numerically stable (shifted by the maximum), on any axis
 * without transposing: the `f32_softmax_x8` kernel runs over an [outer, n, inner] view.
 *
 * The axis semantics changed in opset 13. Before it the input is coerced to 2-D at `axis`
 * (default 1) and each row of prod(dims[axis:]) values is normalised; from 13 on only the
 * single `axis` (default -1) is. `check(node, opset)` records which applies to the node (the
 * Op contract passes the opset nowhere else); a node never checked with an opset gets the
 * opset 13 semantics.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import { hasInput, intAttr, nodeLabel, normalizeAxis, shapeError } from "./_node_params.ts";
import type { Op, OutputInfo } from "./op.ts";

/** Opset of each checked node (the Op contract passes it to `check` only). */
const OPSETS = new WeakMap<Node, number>();

/** Whether a node uses the opset < 13 coerce-to-2D semantics. */
function coerces2d(node: Node): boolean {
  return (OPSETS.get(node) ?? 13) < 13;
}

/** The [outer, n, inner] view a node normalises over. */
export function softmaxView(node: Node, dims: readonly number[]): [number, number, number] {
  const rank = dims.length;
  const coerce = coerces2d(node);
  if (rank === 0) return [1, 1, 1];
  const axis = normalizeAxis(node, intAttr(node, "axis", coerce ? 1 : -1), rank);
  const outer = sizeOf(dims.slice(0, axis));
  if (coerce) return [outer, sizeOf(dims.slice(axis)), 1];
  return [outer, dims[axis], sizeOf(dims.slice(axis + 1))];
}

function softmaxOp(type: "Softmax" | "LogSoftmax"): Op {
  const log = type === "LogSoftmax" ? 1 : 0;
  return {
    type,
    check(node, opset) {
      // Opset 0 means "unknown" (constant folding checks nodes without one): keep what the
      // model's own check recorded.
      if (opset > 0) OPSETS.set(node, opset);
      return [];
    },
    inferShapes(node, inputs): OutputInfo[] {
      const x = inputs[0];
      if (!hasInput(node, 0) || !x) throw shapeError(node, `input "input" is required`);
      if (x.type !== "float32") {
        throw new DTypeError(
          `${nodeLabel(node)}: input "input" is "${x.type}", expected "float32"`,
        );
      }
      // Validates the axis against the rank.
      softmaxView(node, x.dims);
      return [{ type: x.type, dims: [...x.dims] }];
    },
    run(ctx, node, inputs, outputs) {
      const x = inputs[0]!;
      if (sizeOf(x.dims) === 0) return;
      const [outer, n, inner] = softmaxView(node, x.dims);
      ctx.kernels.fn.f32_softmax_x8(outer, n, inner, x.offset, outputs[0].offset, log);
    },
  };
}

/** The softmax ops. */
export const ops: Op[] = [softmaxOp("Softmax"), softmaxOp("LogSoftmax")];
