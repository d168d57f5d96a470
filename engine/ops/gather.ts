/**
 * Gather (whole blocks selected by indices, through the `x8_gather` kernel) and
 * GatherElements (one element per index, on the host over arena views). Negative indices
 * count from the end; an index out of range is an InvalidArgumentError naming the node.
 *
 * @module
 */
import { DTypeError, InvalidArgumentError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, sizeOf, stridesOf } from "../tensor.ts";
import {
  foldLimit,
  formatDims,
  intAttr,
  type KnownOutput,
  nodeLabel,
  normalizeAxis,
  requireInput,
  runInts,
  shapeError,
  tensorBytes,
  tensorFromBytes,
  tensorInts,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

function checkIndexType(node: Node, info: InputInfo): void {
  if (info.type !== "int64" && info.type !== "int32") {
    throw new DTypeError(`${nodeLabel(node)}: indices must be int64 or int32, got "${info.type}"`);
  }
}

/** Indices made non-negative; an InvalidArgumentError names the node and the bad value. */
function normalizeIndices(node: Node, values: number[], len: number): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const w = v < 0 ? v + len : v;
    if (!(w >= 0 && w < len)) {
      throw new InvalidArgumentError(
        `${nodeLabel(node)}: index ${v} in "${node.inputs[1]}" is out of range for an axis ` +
          `of size ${len}`,
      );
    }
    out[i] = w;
  }
  return out;
}

/** Gather on host bytes: out[o, i, :] = data[o, idx[i], :]. */
function gatherBytes(
  data: Uint8Array,
  outer: number,
  axisLen: number,
  block: number,
  idx: Int32Array,
): Uint8Array {
  const out = new Uint8Array(outer * idx.length * block);
  let d = 0;
  for (let o = 0; o < outer; o++) {
    for (const i of idx) {
      const s = (o * axisLen + i) * block;
      out.set(data.subarray(s, s + block), d);
      d += block;
    }
  }
  return out;
}

/** ONNX Gather (opsets 1–21): any data type, int32/int64 indices of any rank (scalar too). */
export const gatherOp: Op = {
  type: "Gather",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const ind = requireInput(node, inputs, 1, "indices");
    checkIndexType(node, ind);
    if (x.dims.length === 0) throw shapeError(node, "cannot gather from a scalar (rank 0)");
    const axis = normalizeAxis(node, intAttr(node, "axis", 0), x.dims.length);
    const dims = [...x.dims.slice(0, axis), ...ind.dims, ...x.dims.slice(axis + 1)];
    const out: KnownOutput = { type: x.type, dims };
    if (x.value && ind.value && sizeOf(dims) <= foldLimit()) {
      const idx = normalizeIndices(node, tensorInts(ind.value), x.dims[axis]);
      const block = sizeOf(x.dims.slice(axis + 1)) * bytesPerElement(x.type);
      const outer = sizeOf(x.dims.slice(0, axis));
      const bytes = gatherBytes(tensorBytes(x.value), outer, x.dims[axis], block, idx);
      out.value = tensorFromBytes(x.type, dims, bytes);
    }
    return [out];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const axis = normalizeAxis(node, intAttr(node, "axis", 0), x.dims.length);
    const idx = normalizeIndices(node, runInts(kr, inputs, 1)!, x.dims[axis]);
    const outer = sizeOf(x.dims.slice(0, axis));
    const block = sizeOf(x.dims.slice(axis + 1)) * bytesPerElement(x.type);
    if (outer === 0 || idx.length === 0 || block === 0) return;
    const scratch = kr.arena.alloc(idx.byteLength, `indices of node "${node.name}"`);
    try {
      kr.arena.i32(scratch, idx.length).set(idx);
      kr.fn.x8_gather(outer, idx.length, x.dims[axis], block, scratch, x.offset, outputs[0].offset);
    } finally {
      kr.arena.free(scratch);
    }
  },
};

/** GatherElements on host bytes: out[i] = data[i with axis coordinate replaced by idx[i]]. */
function gatherElementsBytes(
  node: Node,
  data: Uint8Array,
  dims: readonly number[],
  indexDims: readonly number[],
  values: number[],
  axis: number,
  esize: number,
  out: Uint8Array,
): void {
  const st = stridesOf(dims);
  const r = indexDims.length;
  const pos = new Array<number>(r).fill(0);
  let base = 0;
  const len = dims[axis];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const w = v < 0 ? v + len : v;
    if (!(w >= 0 && w < len)) {
      throw new InvalidArgumentError(
        `${nodeLabel(node)}: index ${v} in "${node.inputs[1]}" is out of range for an axis ` +
          `of size ${len}`,
      );
    }
    const s = (base + w * st[axis]) * esize;
    out.set(data.subarray(s, s + esize), i * esize);
    for (let k = r - 1; k >= 0; k--) {
      if (++pos[k] < indexDims[k]) {
        if (k !== axis) base += st[k];
        break;
      }
      if (k !== axis) base -= (indexDims[k] - 1) * st[k];
      pos[k] = 0;
    }
  }
}

/** ONNX GatherElements (opsets 11–21). */
export const gatherElementsOp: Op = {
  type: "GatherElements",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const ind = requireInput(node, inputs, 1, "indices");
    checkIndexType(node, ind);
    const r = x.dims.length;
    if (r === 0 || ind.dims.length !== r) {
      throw shapeError(
        node,
        `indices ${formatDims(ind.dims)} must have the rank of data ${formatDims(x.dims)}`,
      );
    }
    const axis = normalizeAxis(node, intAttr(node, "axis", 0), r);
    if (ind.dims.some((d, k) => k !== axis && d > x.dims[k])) {
      throw shapeError(
        node,
        `indices ${formatDims(ind.dims)} exceed data ${formatDims(x.dims)} off the axis`,
      );
    }
    const out: KnownOutput = { type: x.type, dims: [...ind.dims] };
    if (x.value && ind.value && sizeOf(ind.dims) <= foldLimit()) {
      const es = bytesPerElement(x.type);
      const bytes = new Uint8Array(sizeOf(ind.dims) * es);
      gatherElementsBytes(
        node,
        tensorBytes(x.value),
        x.dims,
        ind.dims,
        tensorInts(ind.value),
        axis,
        es,
        bytes,
      );
      out.value = tensorFromBytes(x.type, ind.dims, bytes);
    }
    return [out];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const ind = inputs[1]!;
    const axis = normalizeAxis(node, intAttr(node, "axis", 0), x.dims.length);
    const es = bytesPerElement(x.type);
    const values = runInts(kr, inputs, 1)!;
    const data = kr.arena.u8(x.offset, sizeOf(x.dims) * es);
    const out = kr.arena.u8(outputs[0].offset, values.length * es);
    gatherElementsBytes(node, data, x.dims, ind.dims, values, axis, es, out);
  },
};

/** The ops this file implements. */
export const ops: Op[] = [gatherOp, gatherElementsOp];
