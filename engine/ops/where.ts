/**
 * Where(condition, X, Y) with three-way numpy broadcasting. 32-bit elements (float32, int32)
 * run the `x32_where_x8` bitwise-select kernel over the 2-D blocks of the broadcast plan;
 * other types select on the host.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import { bytesPerElement, sizeOf } from "../tensor.ts";
import { hasInput, nodeLabel, shapeError } from "./_node_params.ts";
import { broadcastShapes, forEachBlock, mapBroadcast, planBroadcast } from "./broadcast.ts";
import type { Op, OutputInfo } from "./op.ts";

type WhereKernel = (
  rows: number,
  n: number,
  c: number,
  ldc: number,
  sc: number,
  a: number,
  lda: number,
  sa: number,
  b: number,
  ldb: number,
  sb: number,
  y: number,
) => void;

const where: Op = {
  type: "Where",
  inferShapes(node, inputs): OutputInfo[] {
    const [c, x, y] = inputs;
    if (![0, 1, 2].every((i) => hasInput(node, i)) || !c || !x || !y) {
      throw shapeError(node, "needs inputs condition, X and Y");
    }
    if (c.type !== "bool") {
      throw new DTypeError(`${nodeLabel(node)}: input "condition" is "${c.type}", not "bool"`);
    }
    if (x.type !== y.type) {
      throw new DTypeError(`${nodeLabel(node)}: X is "${x.type}" but Y is "${y.type}"`);
    }
    if (x.type === "float16") {
      throw new DTypeError(`${nodeLabel(node)}: "float16" tensors are not supported`);
    }
    return [{ type: x.type, dims: broadcastShapes([c.dims, x.dims, y.dims], nodeLabel(node)) }];
  },
  run(ctx, _node, inputs, outputs) {
    const [c, a, b] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const out = outputs[0];
    if (sizeOf(out.dims) === 0) return;
    if (bytesPerElement(out.type) !== 4) {
      mapBroadcast(ctx.kernels, [c, a, b], out, (v) => (v[0] ? v[1] : v[2]));
      return;
    }
    const fn = (ctx.kernels.fn as unknown as Record<string, WhereKernel>).x32_where_x8;
    const plan = planBroadcast(out.dims, [c.dims, a.dims, b.dims]);
    const [ldc, lda, ldb] = plan.ld;
    const [sc, sa, sb] = plan.inner;
    forEachBlock(plan, ([ec, ea, eb], ey) => {
      fn(
        plan.rows,
        plan.n,
        c.offset + ec,
        ldc,
        sc,
        a.offset + 4 * ea,
        lda,
        sa,
        b.offset + 4 * eb,
        ldb,
        sb,
        out.offset + 4 * ey,
      );
    });
  },
};

/** The Where op. */
export const ops: Op[] = [where];
