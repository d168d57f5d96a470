/**
 * Cast and CastLike between float32, float16, int64, int32, int8, uint8 and bool. Float to
 * integer truncates toward zero; NaN and out-of-range values give the integer minimum (what
 * x86 conversion instructions, and so onnxruntime on x86, produce), and 8-bit targets keep
 * the low byte of that 32-bit result. Anything to bool is `x != 0`. float16 conversions are
 * exact and round to nearest even, without relying on Float16Array (Node 20, older Safari).
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, type DataTypeMap, type DType, sizeOf, Tensor } from "../tensor.ts";
import {
  foldLimit,
  type KnownOutput,
  nodeLabel,
  requireInput,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";
import { fromFloat16Bits, toFloat16Bits } from "../formats/float16.ts";

/** ONNX TensorProto data type codes of the element types we store. */
export const ONNX_TYPE_CODES: Readonly<Record<number, DType>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
};

const ONNX_TYPE_NAMES: Readonly<Record<number, string>> = {
  4: "uint16",
  5: "int16",
  8: "string",
  11: "double",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
  17: "float8e4m3fn",
  18: "float8e4m3fnuz",
  19: "float8e5m2",
  20: "float8e5m2fnuz",
  21: "uint4",
  22: "int4",
  23: "float4e2m1",
};

export { fromFloat16Bits, toFloat16Bits };

const I32_MIN = -2147483648;

function toInt32(x: number): number {
  const t = Math.trunc(x);
  return t >= -2147483648 && t <= 2147483647 ? t : I32_MIN;
}

/** Converts `n` elements of `src` (type `from`) into `dst` (type `to`). */
export function castInto(
  src: DataTypeMap[DType],
  from: DType,
  dst: DataTypeMap[DType],
  to: DType,
): void {
  const n = src.length;
  if (from === to) {
    (dst as Uint8Array).set(src as Uint8Array);
    return;
  }
  if (from === "int64") {
    const s = src as BigInt64Array;
    for (let i = 0; i < n; i++) {
      const v = s[i];
      switch (to) {
        case "int32":
          (dst as Int32Array)[i] = Number(BigInt.asIntN(32, v));
          break;
        case "int8":
        case "uint8":
          (dst as Uint8Array)[i] = Number(BigInt.asUintN(8, v));
          break;
        case "bool":
          (dst as Uint8Array)[i] = v !== 0n ? 1 : 0;
          break;
        case "float16":
          (dst as Uint16Array)[i] = toFloat16Bits(Number(v));
          break;
        default:
          (dst as Float32Array)[i] = Number(v);
      }
    }
    return;
  }
  const read = from === "float16"
    ? (i: number) => fromFloat16Bits((src as Uint16Array)[i])
    : (i: number) => (src as Float32Array)[i];
  const isFloat = from === "float32" || from === "float16";
  switch (to) {
    case "float32":
      for (let i = 0; i < n; i++) (dst as Float32Array)[i] = read(i);
      return;
    case "float16":
      for (let i = 0; i < n; i++) (dst as Uint16Array)[i] = toFloat16Bits(read(i));
      return;
    case "bool":
      for (let i = 0; i < n; i++) (dst as Uint8Array)[i] = read(i) !== 0 ? 1 : 0;
      return;
    case "int64": {
      const d = dst as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const t = Math.trunc(read(i));
        d[i] = Number.isFinite(t) && Math.abs(t) < 2 ** 63 ? BigInt(t) : -(2n ** 63n);
      }
      return;
    }
    default: {
      // int32, int8, uint8: typed-array stores wrap to the width.
      const d = dst as Int32Array;
      for (let i = 0; i < n; i++) d[i] = isFloat ? toInt32(read(i)) : read(i);
    }
  }
}

/** A typed array of `type` over `n` elements at a byte offset of `buffer`. */
export function typedView(
  type: DType,
  buffer: ArrayBufferLike,
  offset: number,
  n: number,
): DataTypeMap[DType] {
  switch (type) {
    case "float32":
      return new Float32Array(buffer, offset, n);
    case "float16":
      return new Uint16Array(buffer, offset, n);
    case "int64":
      return new BigInt64Array(buffer, offset, n);
    case "int32":
      return new Int32Array(buffer, offset, n);
    case "int8":
      return new Int8Array(buffer, offset, n);
    case "uint8":
    case "bool":
      return new Uint8Array(buffer, offset, n);
  }
}

/** The bytes of one element of `type` holding `value` (converted like Cast from float32). */
export function scalarBytes(value: number, type: DType): Uint8Array {
  const out = new Uint8Array(bytesPerElement(type));
  castInto(new Float32Array([value]), "float32", typedView(type, out.buffer, 0, 1), type);
  return out;
}

function targetType(node: Node, inputs: (InputInfo | undefined)[]): DType {
  if (node.op === "CastLike") return requireInput(node, inputs, 1, "target_type").type;
  const to = node.attributes.to;
  if (typeof to !== "number") throw shapeError(node, 'the "to" attribute is required');
  const type = ONNX_TYPE_CODES[to];
  if (!type) {
    throw new DTypeError(
      `${nodeLabel(node)}: casting to "${ONNX_TYPE_NAMES[to] ?? to}" is not supported`,
    );
  }
  return type;
}

function castCheck(node: Node): string[] {
  if (node.op === "CastLike") return [];
  const to = node.attributes.to;
  if (typeof to !== "number") return ['the "to" attribute is required'];
  return ONNX_TYPE_CODES[to] ? [] : [`casting to "${ONNX_TYPE_NAMES[to] ?? to}" is not supported`];
}

function castOp(type: "Cast" | "CastLike"): Op {
  return {
    type,
    check: castCheck,
    inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
      const x = requireInput(node, inputs, 0, "input");
      const to = targetType(node, inputs);
      const out: KnownOutput = { type: to, dims: [...x.dims] };
      const n = sizeOf(x.dims);
      if (x.value && n <= foldLimit()) {
        const dst = typedView(to, new ArrayBuffer(n * bytesPerElement(to)), 0, n);
        castInto(x.value.data, x.type, dst, to);
        out.value = new Tensor(to, dst, x.dims);
      }
      return [out];
    },
    run(ctx, _node, inputs, outputs) {
      const x = inputs[0]!;
      const y = outputs[0];
      const n = sizeOf(x.dims);
      const buf = ctx.kernels.arena.memory.buffer;
      castInto(
        typedView(x.type, buf, x.offset, n),
        x.type,
        typedView(y.type, buf, y.offset, n),
        y.type,
      );
    },
  };
}

/** ONNX Cast (opsets 6–21, element types above). */
export const castOpImpl: Op = castOp("Cast");
/** ONNX CastLike (opsets 15–21). */
export const castLikeOp: Op = castOp("CastLike");

/** The ops this file implements. */
export const ops: Op[] = [castOpImpl, castLikeOp];
