/**
 * NonZero: its output size depends on the data, which the executor's static memory plan
 * cannot accept, so it runs only where the input is known at load (folded there); `run`
 * recomputes the same indices for completeness.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import { sizeOf, stridesOf, type Tensor } from "../tensor.ts";
import { typedView } from "./cast.ts";
import {
  type KnownOutput,
  makeTensor,
  requireInput,
  shapeError,
  writeArena,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function nonZero(data: ArrayLike<number | bigint>, dims: readonly number[]): Tensor {
  const hits: number[] = [];
  for (let i = 0; i < data.length; i++) if (Number(data[i]) !== 0) hits.push(i);
  const r = dims.length;
  const st = stridesOf(dims);
  const out = new Array<number>(r * hits.length);
  hits.forEach((h, c) => {
    for (let k = 0; k < r; k++) out[k * hits.length + c] = Math.floor(h / st[k]) % dims[k];
  });
  return makeTensor("int64", out, [r, hits.length]);
}

/** ONNX NonZero (opsets 9–21), for inputs known at load. */
export const nonZeroOp: Op = {
  type: "NonZero",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "X");
    if (!x.value) {
      throw shapeError(
        node,
        "the output size depends on the input values, which must be known at load time",
      );
    }
    const data = x.type === "float16"
      ? Array.from(x.value.data as Uint16Array, (h) => h & 0x7fff)
      : x.value.data;
    const v = nonZero(data, x.dims);
    return [{ type: "int64", dims: [...v.dims], value: v }];
  },
  run(ctx, _node, inputs, outputs) {
    const x = inputs[0]!;
    const src = typedView(x.type, ctx.kernels.arena.memory.buffer, x.offset, sizeOf(x.dims));
    const data = x.type === "float16" ? Array.from(src as Uint16Array, (h) => h & 0x7fff) : src;
    writeArena(ctx.kernels, outputs[0], nonZero(data, x.dims));
  },
};

/** The ops this file implements. */
export const ops: Op[] = [nonZeroOp];
