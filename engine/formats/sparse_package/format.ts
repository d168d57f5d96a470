/**
 * The Quartet sparse package (`.qsp`): an ONNX model (or a safetensors checkpoint) whose large
 * float weights are stored compactly beside it, as a bit mask of the non-zero positions plus the non-zero values, in
 * float32 or float16. Layout and rules: docs/sparse-package.md.
 *
 * @module
 */

/** First four bytes of a package: "QSPK". */
export const PACKAGE_MAGIC = [0x51, 0x53, 0x50, 0x4b] as const;

/** The package version this build writes and reads. */
export const PACKAGE_VERSION = 1;

/** Fixed prefix: magic, version, header length, reserved (4 little-endian u32 fields). */
export const PREFIX_BYTES = 16;

/** Every section starts at a multiple of this many bytes from the data area's start. */
export const SECTION_ALIGN = 8;

/** A byte range of the data area. */
export interface Section {
  /** Byte offset from the start of the data area. */
  offset: number;
  /** Length in bytes. */
  bytes: number;
}

/** One weight tensor stored in the package. */
export interface PackedTensor {
  /** Initializer or Constant output name in the model (unique in the model). */
  name: string;
  /** The tensor's dims. */
  dims: number[];
  /** Element type of the stored values; the tensor loads as float32 either way. */
  dtype: "float32" | "float16";
  /** The stored values, little-endian: every element, or with a mask only the non-zeros. */
  values: Section;
  /** Bit i (LSB first within byte i >> 3) set: element i is stored; clear: it is zero. */
  mask?: Section;
}

/** The JSON header after the prefix. */
export interface PackageHeader {
  /** What wrote the package (informative). */
  producer: string;
  /**
   * What `model` holds (absent: "onnx"): an ONNX model with every packed tensor's data
   * removed (dims [0]), or a safetensors file (a Mamba checkpoint) without the packed tensors.
   */
  modelFormat?: "onnx" | "safetensors";
  /** The model, as `modelFormat` says. */
  model: Section;
  /** The packed tensors. */
  tensors: PackedTensor[];
}

/** Whether `bytes` start like a sparse package. */
export function isSparsePackage(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && PACKAGE_MAGIC.every((b, i) => bytes[i] === b);
}

/** `n` rounded up to the next multiple of `a`. */
export function alignTo(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
