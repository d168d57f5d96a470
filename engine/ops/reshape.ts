/**
 * Ops that only relabel dims: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (at
 * inference). Each sets `aliasesInput: 0` so the executor can hand the output the input's
 * buffer; `run` copies the bytes only when the buffers differ. Known values pass through
 * with their new dims, so shape arithmetic folds at load.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, sizeOf, Tensor } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { reshapeValue } from "./_copy_program.ts";
import {
  formatDims,
  hasInput,
  inputInts,
  intAttr,
  intsAttr,
  type KnownOutput,
  nodeLabel,
  normalizeAxes,
  normalizeAxis,
  requireInput,
  shapeError,
} from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op } from "./op.ts";

/** Copies input 0's bytes to output 0 unless the executor aliased them. */
function copyThrough(kr: Kernels, x: ArenaTensor, y: ArenaTensor): void {
  if (x.offset === y.offset) return;
  const n = sizeOf(x.dims) * bytesPerElement(x.type);
  if (n === 0) return;
  new Uint8Array(kr.arena.memory.buffer).copyWithin(y.offset, x.offset, x.offset + n);
}

function viewOutput(x: InputInfo, dims: number[]): KnownOutput {
  return { type: x.type, dims, value: reshapeValue(x.value, dims) };
}

/** The output dims of Reshape: 0 copies the input dim (unless allowzero), -1 is inferred. */
export function reshapeDims(
  node: Node,
  dims: readonly number[],
  shape: readonly number[],
  allowZero: boolean,
): number[] {
  const size = sizeOf(dims);
  let infer = -1;
  const out = shape.map((s, i) => {
    if (s === -1) {
      if (infer >= 0) throw shapeError(node, `shape ${formatDims(shape)} has more than one -1`);
      infer = i;
      return 1;
    }
    if (s === 0 && !allowZero) {
      if (i >= dims.length) {
        throw shapeError(
          node,
          `shape ${formatDims(shape)} copies dim ${i}, the input has rank ${dims.length}`,
        );
      }
      return dims[i];
    }
    if (!Number.isInteger(s) || s < 0) {
      throw shapeError(node, `shape ${formatDims(shape)} has the invalid size ${s}`);
    }
    return s;
  });
  if (infer >= 0) {
    const rest = sizeOf(out);
    if (rest === 0 || size % rest !== 0) {
      throw shapeError(
        node,
        `cannot reshape ${formatDims(dims)} to ${formatDims(shape)}: -1 cannot be inferred`,
      );
    }
    out[infer] = size / rest;
  }
  if (sizeOf(out) !== size) {
    throw shapeError(
      node,
      `cannot reshape ${formatDims(dims)} (${size} elements) to ${formatDims(shape)}`,
    );
  }
  return out;
}

/** ONNX Reshape (opsets 5–21, allowzero from 14). */
export const reshapeOp: Op = {
  type: "Reshape",
  aliasesInput: 0,
  check(node) {
    return hasInput(node, 1) ? [] : ['the "shape" input is required'];
  },
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const shape = inputInts(node, inputs, 1, "shape");
    if (!shape) throw shapeError(node, 'the "shape" input is required');
    if (inputs[1]!.dims.length !== 1) {
      throw shapeError(node, `the "shape" input must be 1-D, got ${formatDims(inputs[1]!.dims)}`);
    }
    const allowZero = intAttr(node, "allowzero", 0) !== 0;
    if (allowZero && shape.includes(0) && shape.includes(-1)) {
      throw shapeError(node, `shape ${formatDims(shape)} mixes 0 and -1 with allowzero set`);
    }
    return [viewOutput(x, reshapeDims(node, x.dims, shape, allowZero))];
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
  },
};

/** ONNX Flatten (opsets 1–21): [d0·…·d(axis-1), d(axis)·…]; negative axis from opset 11. */
export const flattenOp: Op = {
  type: "Flatten",
  aliasesInput: 0,
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    const r = x.dims.length;
    const raw = intAttr(node, "axis", 1);
    // axis == rank is allowed: everything goes to the first dim.
    const axis = raw === r ? r : normalizeAxis(node, raw, r);
    return [viewOutput(x, [sizeOf(x.dims.slice(0, axis)), sizeOf(x.dims.slice(axis))])];
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
  },
};

function axesOf(node: Node, inputs: (InputInfo | undefined)[]): number[] | undefined {
  return intsAttr(node, "axes") ?? inputInts(node, inputs, 1, "axes");
}

/** ONNX Squeeze (opsets 1–21): axes attribute (< 13) or input (13+); none removes every 1. */
export const squeezeOp: Op = {
  type: "Squeeze",
  aliasesInput: 0,
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const axes = axesOf(node, inputs);
    if (!axes) return [viewOutput(x, x.dims.filter((d) => d !== 1))];
    const drop = new Set(normalizeAxes(node, axes, x.dims.length));
    for (const a of drop) {
      if (x.dims[a] !== 1) {
        throw shapeError(
          node,
          `cannot squeeze axis ${a} of size ${x.dims[a]} in ${formatDims(x.dims)}`,
        );
      }
    }
    return [viewOutput(x, x.dims.filter((_, i) => !drop.has(i)))];
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
  },
};

/** ONNX Unsqueeze (opsets 1–21): axes (attribute < 13, input 13+) index the output. */
export const unsqueezeOp: Op = {
  type: "Unsqueeze",
  aliasesInput: 0,
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const axes = axesOf(node, inputs);
    if (!axes) throw shapeError(node, "axes are required");
    const r = x.dims.length + axes.length;
    const add = new Set(normalizeAxes(node, axes, r));
    const out: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) out.push(add.has(i) ? 1 : x.dims[k++]);
    return [viewOutput(x, out)];
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
  },
};

/** ONNX Identity (opsets 1–21, tensors). */
export const identityOp: Op = {
  type: "Identity",
  aliasesInput: 0,
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "input");
    return [{ type: x.type, dims: [...x.dims], value: x.value }];
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
  },
};

/**
 * ONNX Dropout at inference (opsets 7–21): the output is the input; the optional mask is all
 * true. A `training_mode` known to be true is refused: training is not supported.
 */
export const dropoutOp: Op = {
  type: "Dropout",
  aliasesInput: 0,
  inferShapes(node, inputs): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const training = hasInput(node, 2) ? inputs[2]?.value : undefined;
    if (training && Number(training.data[0]) !== 0) {
      throw new InvalidArgumentError(
        `${nodeLabel(node)}: training_mode is true, only inference is supported: export the ` +
          `model in inference mode`,
      );
    }
    const out: KnownOutput[] = [{ type: x.type, dims: [...x.dims], value: x.value }];
    if (node.outputs.length > 1 && node.outputs[1] !== "") {
      const n = sizeOf(x.dims);
      out.push({
        type: "bool",
        dims: [...x.dims],
        value: n <= 1 << 16 ? new Tensor("bool", new Uint8Array(n).fill(1), x.dims) : undefined,
      });
    }
    return out;
  },
  run(ctx, _node, inputs, outputs) {
    copyThrough(ctx.kernels, inputs[0]!, outputs[0]);
    const mask = outputs[1];
    if (mask) ctx.kernels.arena.u8(mask.offset, sizeOf(mask.dims)).fill(1);
  },
};

/** The ops this file implements. */
export const ops: Op[] = [reshapeOp, flattenOp, squeezeOp, unsqueezeOp, identityOp, dropoutOp];
