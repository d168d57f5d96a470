/**
 * Boolean logic with numpy broadcasting: And, Or, Xor, and Not. Bool tensors are masks and
 * shape flags, small enough for a host loop over the arena bytes.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import { sizeOf } from "../tensor.ts";
import { hasInput, nodeLabel, shapeError } from "./_node_params.ts";
import { broadcastShapes, mapBroadcast } from "./broadcast.ts";
import type { InputInfo, Op, OutputInfo } from "./op.ts";

function requireBool(node: Parameters<Op["inferShapes"]>[0], x: InputInfo, what: string): void {
  if (x.type !== "bool") {
    throw new DTypeError(`${nodeLabel(node)}: input "${what}" is "${x.type}", expected "bool"`);
  }
}

function logicalOp(type: string, f: (a: number, b: number) => number): Op {
  return {
    type,
    inferShapes(node, inputs): OutputInfo[] {
      const [a, b] = inputs;
      if (!hasInput(node, 0) || !hasInput(node, 1) || !a || !b) {
        throw shapeError(node, "needs inputs A and B");
      }
      requireBool(node, a, "A");
      requireBool(node, b, "B");
      return [{ type: "bool", dims: broadcastShapes([a.dims, b.dims], nodeLabel(node)) }];
    },
    run(ctx, _node, inputs, outputs) {
      if (sizeOf(outputs[0].dims) === 0) return;
      mapBroadcast(
        ctx.kernels,
        [inputs[0]!, inputs[1]!],
        outputs[0],
        (v) => f((v[0] as number) & 1, (v[1] as number) & 1),
      );
    },
  };
}

const not: Op = {
  type: "Not",
  inferShapes(node, inputs): OutputInfo[] {
    const x = inputs[0];
    if (!hasInput(node, 0) || !x) throw shapeError(node, `input "X" is required`);
    requireBool(node, x, "X");
    return [{ type: "bool", dims: [...x.dims] }];
  },
  run(ctx, _node, inputs, outputs) {
    const n = sizeOf(outputs[0].dims);
    const x = ctx.kernels.arena.u8(inputs[0]!.offset, n);
    const y = ctx.kernels.arena.u8(outputs[0].offset, n);
    for (let i = 0; i < n; i++) y[i] = x[i] ? 0 : 1;
  },
};

/** The logical ops. */
export const ops: Op[] = [
  logicalOp("And", (a, b) => a & b),
  logicalOp("Or", (a, b) => a | b),
  logicalOp("Xor", (a, b) => a ^ b),
  not,
];
