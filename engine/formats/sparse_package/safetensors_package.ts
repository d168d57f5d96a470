/**
 * Reads a Quartet sparse package that holds a safetensors checkpoint (`packSafetensors`, a
 * Mamba `model.qsp`): every tensor's shape up front, its values on request, from the packed
 * sections (bit mask plus non-zeros) or from the safetensors file inside the package. The
 * prefix, header, sections and the inner file are checked when it is opened; masks and
 * float16 values when a tensor is read.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { safetensorsReaderOf } from "../safetensors/reader.ts";
import type { PackedTensor } from "./format.ts";
import { decodePackedTensor, type Fail, readPackageHeader } from "./unpack.ts";

/** The tensors of a safetensors package. */
export interface SafetensorsPackage {
  /** Every tensor's dims by name. */
  readonly dims: ReadonlyMap<string, readonly number[]>;
  /** Whether the tensor's values are float16 (exact halves). */
  float16(name: string): boolean;
  /** Writes the tensor's values, as float32, into `into` (exactly its size). */
  read(name: string, into: Float32Array): void;
  /** Releases the package's bytes (further reads fail). */
  close(): void;
}

/** Opens the package `bytes` (`file` names it in errors). */
export function readSafetensorsPackage(bytes: Uint8Array, file: string): SafetensorsPackage {
  const fail: Fail = (what) => new ModelFormatError(`Cannot load package "${file}": ${what}`);
  const { header, dataStart } = readPackageHeader(bytes, fail);
  if (header.modelFormat !== "safetensors") {
    throw fail(
      "it holds an ONNX model, not a safetensors checkpoint: load it with loadModel",
    );
  }
  const data = bytes.subarray(dataStart);
  const inner = safetensorsReaderOf(
    data.subarray(header.model.offset, header.model.offset + header.model.bytes),
    `${file} (its safetensors model)`,
  );
  const packed = new Map<string, PackedTensor>();
  const dims = new Map<string, readonly number[]>();
  for (const [name, info] of inner.tensors) dims.set(name, info.dims);
  for (const t of header.tensors) {
    if (packed.has(t.name)) throw fail(`tensor "${t.name}" is listed twice`);
    if (dims.has(t.name)) throw fail(`tensor "${t.name}" is both packed and in the model`);
    packed.set(t.name, t);
    dims.set(t.name, t.dims);
  }
  let open = true;
  return {
    dims,
    float16: (name) =>
      packed.has(name)
        ? packed.get(name)!.dtype === "float16"
        : inner.tensors.get(name)?.dtype === "F16",
    read(name, into) {
      if (!open) throw fail("it was closed");
      const t = packed.get(name);
      if (!t) return inner.read(name, into);
      const values = decodePackedTensor(data, t, fail).data;
      if (values.length !== into.length) {
        throw fail(`tensor "${name}" is ${values.length} elements, not ${into.length}`);
      }
      into.set(values);
    },
    close() {
      open = false;
      inner.close();
    },
  };
}
