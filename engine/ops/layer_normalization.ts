/**
 * LayerNormalization (opset 17) and RMSNormalization (opset 23; also Mamba's and LLaMA's
 * RMSNorm) over the trailing dims X.dims[axis:], which are contiguous in row-major layout:
 * each row of prod(dims[axis:]) floats is one `f32_layernorm_x8` / `f32_rmsnorm_x8` row.
 * Statistics are computed in float32 (stash_type 1). LayerNormalization's optional Mean and
 * InvStdDev outputs are written when requested. Scale and bias broadcastable to the
 * normalised shape are expanded to it first.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import {
  floatAttr,
  hasInput,
  intAttr,
  nodeLabel,
  normalizeAxis,
  shapeError,
} from "./_node_params.ts";
import { broadcastsTo, mapBroadcast } from "./broadcast.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";

function requireF32(node: Node, info: InputInfo | undefined, i: number, name: string): InputInfo {
  if (!hasInput(node, i) || !info) throw shapeError(node, `input "${name}" is required`);
  if (info.type !== "float32") {
    throw new DTypeError(
      `${nodeLabel(node)}: input "${name}" is "${info.type}", expected "float32"`,
    );
  }
  return info;
}

function axisOf(node: Node, rank: number): number {
  return normalizeAxis(node, intAttr(node, "axis", -1), rank);
}

function checkParam(node: Node, p: InputInfo, name: string, normalized: number[]): void {
  if (!broadcastsTo(p.dims, normalized)) {
    throw shapeError(
      node,
      `input "${name}" with dims [${p.dims.join(", ")}] does not broadcast to the normalised ` +
        `shape [${normalized.join(", ")}]`,
    );
  }
}

/**
 * A parameter as n contiguous floats: itself when it already has n, else a broadcast copy
 * in scratch (pushed to `scratch` for the caller to free).
 */
function expanded(kr: Kernels, p: ArenaTensor, normalized: number[], scratch: number[]): number {
  const n = sizeOf(normalized);
  if (sizeOf(p.dims) === n) return p.offset;
  const offset = kr.arena.alloc(4 * n, "expanded normalisation parameter");
  scratch.push(offset);
  mapBroadcast(kr, [p], { type: "float32", dims: normalized, offset }, (v) => v[0]);
  return offset;
}

const layerNorm: Op = {
  type: "LayerNormalization",
  inferShapes(node, inputs): OutputInfo[] {
    const x = requireF32(node, inputs[0], 0, "X");
    const rank = x.dims.length;
    const axis = axisOf(node, rank);
    const normalized = x.dims.slice(axis);
    checkParam(node, requireF32(node, inputs[1], 1, "Scale"), "Scale", normalized);
    if (hasInput(node, 2)) checkParam(node, requireF32(node, inputs[2], 2, "B"), "B", normalized);
    const statDims = [...x.dims.slice(0, axis), ...normalized.map(() => 1)];
    const outs: OutputInfo[] = [{ type: "float32", dims: [...x.dims] }];
    for (let i = 1; i < node.outputs.length; i++) outs.push({ type: "float32", dims: statDims });
    return outs;
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const axis = axisOf(node, x.dims.length);
    const normalized = x.dims.slice(axis);
    const rows = sizeOf(x.dims.slice(0, axis));
    const n = sizeOf(normalized);
    if (rows * n === 0) return;
    const scratch: number[] = [];
    try {
      const scale = expanded(kr, inputs[1]!, normalized, scratch);
      const bias = inputs[2] ? expanded(kr, inputs[2], normalized, scratch) : 0;
      const stat = (i: number) => (node.outputs[i] && outputs[i] ? outputs[i].offset : 0);
      kr.fn.f32_layernorm_x8(
        rows,
        n,
        x.offset,
        outputs[0].offset,
        scale,
        bias,
        floatAttr(node, "epsilon", 1e-5),
        stat(1),
        stat(2),
      );
    } finally {
      for (const p of scratch) kr.arena.free(p);
    }
  },
};

const rmsNorm: Op = {
  type: "RMSNormalization",
  inferShapes(node, inputs): OutputInfo[] {
    const x = requireF32(node, inputs[0], 0, "X");
    const normalized = x.dims.slice(axisOf(node, x.dims.length));
    checkParam(node, requireF32(node, inputs[1], 1, "scale"), "scale", normalized);
    return [{ type: "float32", dims: [...x.dims] }];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const axis = axisOf(node, x.dims.length);
    const normalized = x.dims.slice(axis);
    const rows = sizeOf(x.dims.slice(0, axis));
    const n = sizeOf(normalized);
    if (rows * n === 0) return;
    const scratch: number[] = [];
    try {
      const scale = expanded(kr, inputs[1]!, normalized, scratch);
      const eps = floatAttr(node, "epsilon", 1e-5);
      kr.fn.f32_rmsnorm_x8(rows, n, x.offset, outputs[0].offset, scale, eps);
    } finally {
      for (const p of scratch) kr.arena.free(p);
    }
  },
};

/** LayerNormalization and RMSNormalization. */
export const ops: Op[] = [layerNorm, rmsNorm];
