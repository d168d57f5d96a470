/**
 * TopK on the host over arena views: post-processing sizes (detection scores, logits) are
 * small enough that a sort per slice is not worth a kernel. Ties keep the lower index first,
 * as the spec asks; `sorted = 0` still returns sorted results (the order is free then).
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import { fromFloat16Bits, typedView } from "./cast.ts";
import {
  hasInput,
  inputInts,
  intAttr,
  type KnownOutput,
  nodeLabel,
  normalizeAxis,
  requireInput,
  runInts,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function kOf(node: Node, given: number[] | undefined, len: number): number {
  const k = hasInput(node, 1) ? given?.[0] : intAttr(node, "k", NaN);
  if (k === undefined || !Number.isInteger(k) || k < 0 || k > len) {
    throw shapeError(node, `K ${k} must be an integer in 0..${len} (the axis size)`);
  }
  return k;
}

/** ONNX TopK (opsets 1–21): K as attribute (< 10) or input; axis, largest, sorted. */
export const topKOp: Op = {
  type: "TopK",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "X");
    if (x.type === "bool") throw new DTypeError(`${nodeLabel(node)}: cannot sort "bool" values`);
    const axis = normalizeAxis(node, intAttr(node, "axis", -1), x.dims.length);
    const k = kOf(node, inputInts(node, inputs, 1, "K"), x.dims[axis]);
    const dims = [...x.dims];
    dims[axis] = k;
    return [{ type: x.type, dims }, { type: "int64", dims: [...dims] }];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const axis = normalizeAxis(node, intAttr(node, "axis", -1), x.dims.length);
    const len = x.dims[axis];
    const k = kOf(node, runInts(kr, inputs, 1), len);
    const largest = intAttr(node, "largest", 1) !== 0;
    const inner = sizeOf(x.dims.slice(axis + 1));
    const outer = sizeOf(x.dims.slice(0, axis));
    const buf = kr.arena.memory.buffer;
    const src = typedView(x.type, buf, x.offset, sizeOf(x.dims));
    const vals = typedView(x.type, buf, outputs[0].offset, outer * k * inner);
    const idxOut = new BigInt64Array(buf, outputs[1].offset, outer * k * inner);
    const key: (i: number) => number | bigint = x.type === "float16"
      ? (i) => fromFloat16Bits((src as Uint16Array)[i])
      : (i) => src[i];
    const order = Array.from({ length: len }, (_, i) => i);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * len * inner + j;
        order.sort((a, b) => {
          const va = key(base + a * inner);
          const vb = key(base + b * inner);
          if (va === vb) return a - b;
          // NaN ranks above every number (as in numpy and onnxruntime); a comparison with it
          // is always false, which left the sort order undefined.
          const nanA = va !== va;
          if (nanA || vb !== vb) return nanA && vb !== vb ? a - b : nanA === largest ? -1 : 1;
          return (va > vb) === largest ? -1 : 1;
        });
        for (let t = 0; t < k; t++) {
          const at = (o * k + t) * inner + j;
          (vals as Uint8Array)[at] = (src as Uint8Array)[base + order[t] * inner];
          idxOut[at] = BigInt(order[t]);
        }
        for (let t = 0; t < len; t++) order[t] = t;
      }
    }
  },
};

/** The ops this file implements. */
export const ops: Op[] = [topKOp];
