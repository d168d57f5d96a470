/**
 * Tensors as users see them: an element type, a typed array and dimensions, shaped like
 * onnxruntime-web's so its users feel at home.
 *
 * @module
 */
import { DTypeError, ShapeError } from "./errors.ts";

/** Element types a tensor can hold (ONNX-style names). */
export type DType = "float32" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool";

/** The typed array that stores each element type (float16 as raw bits). */
export interface DataTypeMap {
  /** 32-bit floats. */
  float32: Float32Array;
  /** IEEE half floats, stored as their 16-bit patterns. */
  float16: Uint16Array;
  /** 64-bit integers. */
  int64: BigInt64Array;
  /** 32-bit integers. */
  int32: Int32Array;
  /** 8-bit integers. */
  int8: Int8Array;
  /** 8-bit unsigned integers. */
  uint8: Uint8Array;
  /** Booleans, one byte each (0 or 1). */
  bool: Uint8Array;
}

const ARRAY_TYPES = {
  float32: Float32Array,
  float16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

/** The typed array constructor that stores an element type. */
export function arrayTypeOf<T extends DType>(type: T): {
  new (buffer: ArrayBuffer, offset?: number, length?: number): DataTypeMap[T];
  new (length: number): DataTypeMap[T];
  readonly BYTES_PER_ELEMENT: number;
} {
  return ARRAY_TYPES[type] as unknown as ReturnType<typeof arrayTypeOf<T>>;
}

/** Largest element count a tensor may declare (2^32: anything more cannot fit a Wasm arena). */
export const MAX_ELEMENTS = 2 ** 32;

/** Bytes per element of a type. */
export function bytesPerElement(type: DType): number {
  return ARRAY_TYPES[type].BYTES_PER_ELEMENT;
}

/** Checks dims are non-negative integers with a sane product; returns the element count. */
export function checkDims(dims: readonly number[], what: string): number {
  let size = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_ELEMENTS) {
      throw new ShapeError(`${what}: dimension ${d} in [${dims.join(", ")}] is not a size`);
    }
    size *= d;
  }
  if (size > MAX_ELEMENTS) {
    throw new ShapeError(
      `${what}: [${dims.join(", ")}] has ${size} elements, more than the ${MAX_ELEMENTS} allowed`,
    );
  }
  return size;
}

/** Element count of a shape. */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Row-major (contiguous) strides of a shape, in elements. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/**
 * A tensor on the host: element type, data and dimensions (row-major, contiguous).
 *
 * @example Create a 2x3 float tensor
 * ```ts
 * import { Tensor } from "./tensor.ts";
 * const t = new Tensor("float32", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * console.log(t.size, t.strides); // 6 [3, 1]
 * ```
 */
export class Tensor<T extends DType = DType> {
  /** Element type. */
  readonly type: T;
  /** The elements, row-major. */
  readonly data: DataTypeMap[T];
  /** Dimensions. */
  readonly dims: readonly number[];

  /**
   * Creates a tensor. `data` must be the typed array of `type` with exactly as many elements
   * as `dims` describes.
   */
  constructor(type: T, data: DataTypeMap[T], dims: readonly number[]) {
    const Ctor = ARRAY_TYPES[type];
    if (!Ctor) {
      throw new DTypeError(
        `Unknown tensor type "${type}": use one of ${
          Object.keys(ARRAY_TYPES).map((t) => `"${t}"`).join(", ")
        }`,
      );
    }
    if (!(data instanceof Ctor)) {
      throw new DTypeError(
        `A "${type}" tensor needs a ${Ctor.name}, got ${
          (data as object)?.constructor?.name ?? typeof data
        }`,
      );
    }
    if (!Array.isArray(dims)) {
      throw new ShapeError(`Tensor dims must be a list of sizes, got ${JSON.stringify(dims)}`);
    }
    const size = checkDims(dims, `Tensor of type "${type}"`);
    if (data.length !== size) {
      throw new ShapeError(
        `Tensor dims [${dims.join(", ")}] need ${size} elements, the data has ${data.length}`,
      );
    }
    this.type = type;
    this.data = data;
    this.dims = Object.freeze([...dims]);
    // Type, data and dims stay consistent: fields cannot be replaced (the data's values can).
    Object.freeze(this);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Row-major strides in elements. */
  get strides(): number[] {
    return stridesOf(this.dims);
  }
}
