/**
 * Shape-type ops whose output is (usually) known at load: Shape, Size, ConstantOfShape,
 * Range, Constant. `inferShapes` returns their values (`KnownOutput.value`) so the chains
 * exporters emit (Shape → Gather → Concat → Reshape) fold before the first run; `run`
 * still writes the same values into the arena.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { arrayTypeOf, bytesPerElement, checkDims, type DType, sizeOf, Tensor } from "../tensor.ts";
import { runCopyProgram } from "./_copy_program.ts";
import {
  arenaFloats,
  arenaInts,
  foldLimit,
  formatDims,
  inputInts,
  intAttr,
  type KnownOutput,
  makeTensor,
  nodeLabel,
  requireInput,
  shapeError,
  tensorBytes,
  tensorFloats,
  tensorFromBytes,
  writeArena,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

/** Shape's output values for input dims and the start/end attributes (opset 15). */
function shapeSlice(node: Node, dims: readonly number[]): number[] {
  const r = dims.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(intAttr(node, "start", 0));
  const end = clamp(intAttr(node, "end", r));
  return dims.slice(start, Math.max(start, end));
}

/** ONNX Shape (opsets 1–21, start/end from 15). */
export const shapeOp: Op = {
  type: "Shape",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const v = shapeSlice(node, x.dims);
    return [{ type: "int64", dims: [v.length], value: makeTensor("int64", v, [v.length]) }];
  },
  run(ctx, node, inputs, outputs) {
    const v = shapeSlice(node, inputs[0]!.dims);
    writeArena(ctx.kernels, outputs[0], makeTensor("int64", v, [v.length]));
  },
};

/** ONNX Size (opsets 1–21): the element count as an int64 scalar. */
export const sizeOp: Op = {
  type: "Size",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    return [{ type: "int64", dims: [], value: makeTensor("int64", [sizeOf(x.dims)], []) }];
  },
  run(ctx, _node, inputs, outputs) {
    writeArena(ctx.kernels, outputs[0], makeTensor("int64", [sizeOf(inputs[0]!.dims)], []));
  },
};

function fillValue(node: Node): Tensor {
  const v = node.attributes.value;
  if (v === undefined) return new Tensor("float32", new Float32Array(1), [1]);
  if (!(v instanceof Tensor) || v.size !== 1) {
    throw shapeError(node, 'the "value" attribute must be a one-element tensor');
  }
  return v;
}

function checkShape(node: Node, shape: number[] | undefined): number[] {
  if (!shape) throw shapeError(node, 'the "input" shape is required');
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw shapeError(node, `shape ${formatDims(shape)} has a negative or invalid size`);
  }
  return shape;
}

/** ONNX ConstantOfShape (opsets 9–21). */
export const constantOfShapeOp: Op = {
  type: "ConstantOfShape",
  check(node) {
    const v = node.attributes.value;
    return v === undefined || (v instanceof Tensor && v.size === 1)
      ? []
      : ['the "value" attribute must be a one-element tensor'];
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const dims = checkShape(node, inputInts(node, inputs, 0, "input"));
    const v = fillValue(node);
    const out: KnownOutput = { type: v.type, dims };
    const n = sizeOf(dims);
    if (n <= foldLimit()) {
      const bytes = tensorBytes(v);
      const all = new Uint8Array(n * bytes.length);
      for (let i = 0; i < n; i++) all.set(bytes, i * bytes.length);
      out.value = tensorFromBytes(v.type, dims, all);
    }
    return [out];
  },
  run(ctx, node, _inputs, outputs) {
    const v = fillValue(node);
    const y = outputs[0];
    runCopyProgram(
      ctx.kernels,
      {
        esize: bytesPerElement(v.type),
        steps: [{
          dims: [sizeOf(y.dims)],
          src: { constant: tensorBytes(v).slice() },
          srcOffset: 0,
          srcStrides: [0],
          dst: 0,
          dstOffset: 0,
          dstStrides: [1],
        }],
      },
      [],
      outputs,
    );
  },
};

const RANGE_TYPES: DType[] = ["float32", "int32", "int64"];

/** The length of Range(start, limit, delta), checked before anything is built. */
function rangeLength(node: Node, start: number, limit: number, delta: number): number {
  if (![start, limit, delta].every(Number.isFinite)) {
    throw shapeError(
      node,
      `start, limit and delta must be finite, got ${start}, ${limit}, ${delta}`,
    );
  }
  if (delta === 0) throw shapeError(node, "delta must not be 0");
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  checkDims([n], nodeLabel(node));
  return n;
}

/** Range's values as a tensor: the spec's start + i * delta, in float32 arithmetic for float32. */
function rangeTensor(type: DType, n: number, start: number, delta: number): Tensor {
  const f = type === "float32" ? Math.fround : (v: number) => v;
  if (type === "int64") {
    return new Tensor(
      type,
      BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i * delta)),
      [n],
    );
  }
  const out = new (arrayTypeOf(type))(n);
  for (let i = 0; i < n; i++) out[i] = f(start + f(i * delta));
  return new Tensor(type, out, [n]);
}

/** ONNX Range (opsets 11–21): float32, int32 or int64 scalars. */
export const rangeOp: Op = {
  type: "Range",
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const names = ["start", "limit", "delta"];
    const infos = names.map((n, i) => requireInput(node, inputs, i, n));
    const type = infos[0].type;
    if (!RANGE_TYPES.includes(type) || infos.some((i) => i.type !== type)) {
      throw new DTypeError(
        `${nodeLabel(node)}: start, limit and delta must share one of float32, int32, int64; got ` +
          infos.map((i) => `"${i.type}"`).join(", "),
      );
    }
    const [s, l, d] = infos.map((info, i) => {
      if (!info.value || info.value.size !== 1) {
        throw shapeError(node, `input "${names[i]}" must be a scalar known at load time`);
      }
      return tensorFloats(info.value)[0];
    });
    const n = rangeLength(node, s, l, d);
    // Small ranges are known now (shape arithmetic); large ones are built when run.
    return [{ type, dims: [n], value: n <= foldLimit() ? rangeTensor(type, n, s, d) : undefined }];
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const type = inputs[0]!.type;
    const read = (i: number) =>
      type === "float32" ? arenaFloats(kr, inputs[i]!)[0] : arenaInts(kr, inputs[i]!)[0];
    const [start, limit, delta] = [read(0), read(1), read(2)];
    writeArena(
      kr,
      outputs[0],
      rangeTensor(type, rangeLength(node, start, limit, delta), start, delta),
    );
  },
};

const CONSTANT_ATTRS = ["value", "value_float", "value_floats", "value_int", "value_ints"];

function constantValue(node: Node): Tensor {
  const a = node.attributes;
  if (a.value instanceof Tensor) return a.value;
  if (typeof a.value_float === "number") return makeTensor("float32", [a.value_float], []);
  if (Array.isArray(a.value_floats)) {
    const v = a.value_floats as number[];
    return makeTensor("float32", v, [v.length]);
  }
  if (typeof a.value_int === "number") return makeTensor("int64", [a.value_int], []);
  if (Array.isArray(a.value_ints)) {
    const v = a.value_ints as number[];
    return makeTensor("int64", v, [v.length]);
  }
  throw shapeError(node, `needs one of the attributes ${CONSTANT_ATTRS.join(", ")}`);
}

/** ONNX Constant (opsets 1–21): tensor, float(s) and int(s) values; no strings, no sparse. */
export const constantOp: Op = {
  type: "Constant",
  check(node) {
    for (const a of ["value_string", "value_strings"]) {
      if (a in node.attributes) return [`string constants ("${a}") are not supported`];
    }
    if ("sparse_value" in node.attributes) {
      return ['sparse constants ("sparse_value") are not supported'];
    }
    return CONSTANT_ATTRS.some((a) => a in node.attributes)
      ? []
      : [`needs one of the attributes ${CONSTANT_ATTRS.join(", ")}`];
  },
  inferShapes(node: Node): KnownOutput[] {
    const v = constantValue(node);
    return [{ type: v.type, dims: [...v.dims], value: v }];
  },
  run(ctx, node, _inputs, outputs) {
    writeArena(ctx.kernels, outputs[0], constantValue(node));
  },
};

/** The ops this file implements. */
export const ops: Op[] = [shapeOp, sizeOp, constantOfShapeOp, rangeOp, constantOp];
