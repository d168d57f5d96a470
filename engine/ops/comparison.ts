/**
 * Comparisons with numpy broadcasting, producing bool: Equal, Less, LessOrEqual, Greater,
 * GreaterOrEqual. Float32 runs the `f32_v<op>_x16` kernels (Greater* swap the operands of
 * Less*); int32, int64, bool and uint8 compare on the host.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import { sizeOf } from "../tensor.ts";
import { hasInput, nodeLabel, shapeError } from "./_node_params.ts";
import { broadcastShapes, type Element, mapBroadcast } from "./broadcast.ts";
import { runBinaryKernel } from "./binary.ts";
import type { Op, OutputInfo } from "./op.ts";

interface CompareSpec {
  type: string;
  /** Kernel token and whether the operands are swapped (a > b is b < a). */
  token: string;
  swap: boolean;
  host: (a: Element, b: Element) => boolean;
  /** Types besides float32 it accepts. */
  types: string[];
}

const INTS = ["int32", "int64", "int8", "uint8"];

const SPECS: CompareSpec[] = [
  { type: "Equal", token: "equal", swap: false, host: (a, b) => a === b, types: [...INTS, "bool"] },
  { type: "Less", token: "less", swap: false, host: (a, b) => a < b, types: INTS },
  { type: "LessOrEqual", token: "lessequal", swap: false, host: (a, b) => a <= b, types: INTS },
  { type: "Greater", token: "less", swap: true, host: (a, b) => a > b, types: INTS },
  { type: "GreaterOrEqual", token: "lessequal", swap: true, host: (a, b) => a >= b, types: INTS },
];

function compareOp(spec: CompareSpec): Op {
  return {
    type: spec.type,
    inferShapes(node, inputs): OutputInfo[] {
      const [a, b] = inputs;
      if (!hasInput(node, 0) || !hasInput(node, 1) || !a || !b) {
        throw shapeError(node, "needs inputs A and B");
      }
      if (a.type !== "float32" && !spec.types.includes(a.type)) {
        throw new DTypeError(
          `${nodeLabel(node)}: input "A" is "${a.type}", expected one of "float32", ` +
            spec.types.map((t) => `"${t}"`).join(", "),
        );
      }
      if (b.type !== a.type) {
        throw new DTypeError(
          `${nodeLabel(node)}: inputs are "${a.type}" and "${b.type}", they must be of one type`,
        );
      }
      return [{ type: "bool", dims: broadcastShapes([a.dims, b.dims], nodeLabel(node)) }];
    },
    run(ctx, _node, inputs, outputs) {
      const [a, b] = [inputs[0]!, inputs[1]!];
      const y = outputs[0];
      if (sizeOf(y.dims) === 0) return;
      if (a.type === "float32") {
        const kernel = `f32_v${spec.token}_x16`;
        if (spec.swap) runBinaryKernel(ctx.kernels, kernel, b, a, y, 1);
        else runBinaryKernel(ctx.kernels, kernel, a, b, y, 1);
        return;
      }
      mapBroadcast(ctx.kernels, [a, b], y, ([p, q]) => (spec.host(p, q) ? 1 : 0));
    },
  };
}

/** The comparison ops. */
export const ops: Op[] = SPECS.map(compareOp);
