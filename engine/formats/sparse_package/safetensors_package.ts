/**
 * Reads a Quartet sparse package that holds a safetensors checkpoint (`packSafetensors`, a
 * Mamba `model.qsp`): every tensor's shape up front, its values on request, from the packed
 * sections (bit mask plus non-zeros) or from the safetensors file inside the package, read
 * where they lie, from a local file or with HTTP Range requests. The prefix, header, sections
 * and the inner file's header are checked when it is opened; masks and float16 values when a
 * tensor is read.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { type ByteRanges, openRanges, safetensorsIn } from "../safetensors/reader.ts";
import { type PackedTensor, PREFIX_BYTES } from "./format.ts";
import { expandPackedTensor, type Fail, readPackageHeader } from "./unpack.ts";

/** The tensors of a safetensors package. */
export interface SafetensorsPackage {
  /** Every tensor's dims by name. */
  readonly dims: ReadonlyMap<string, readonly number[]>;
  /** Whether the tensor's values are float16 (exact halves). */
  float16(name: string): boolean;
  /** Writes the tensor's values, as float32, into `into` (exactly its size). */
  read(name: string, into: Float32Array): void;
  /** `read`, for any package (over HTTP, its parts arrive later). */
  readAsync(name: string, into: Float32Array): Promise<void>;
  /** Releases the package (further reads fail). */
  close(): void;
}

/**
 * Opens the package `source` (a path, a file: URL or a URL; `file` names it in errors): read
 * where a tensor lies when it is asked for, from a local file or with HTTP Range requests (a
 * URL whose server does not serve ranges is downloaded whole).
 */
export function openSafetensorsPackage(
  source: string | URL,
  file: string,
): Promise<SafetensorsPackage> {
  return openRanges(source, "checkpoint file", (ranges) => safetensorsPackageIn(ranges, file));
}

/** The package in `ranges`, its header, sections and inner safetensors header checked. */
async function safetensorsPackageIn(
  ranges: ByteRanges,
  file: string,
): Promise<SafetensorsPackage> {
  const fail: Fail = (what) => new ModelFormatError(`Cannot load package "${file}": ${what}`);
  const prefix = new Uint8Array(PREFIX_BYTES);
  const got = await ranges.readAsync(prefix, 0);
  const jsonBytes = got === PREFIX_BYTES ? new DataView(prefix.buffer).getUint32(8, true) : 0;
  // The prefix and JSON header (nothing is allocated past the file's size).
  const head = new Uint8Array(Math.min(PREFIX_BYTES + jsonBytes, ranges.size));
  await ranges.readAsync(head, 0);
  const { header, dataStart } = readPackageHeader(head, fail, ranges.size);
  if (header.modelFormat !== "safetensors") {
    throw fail("it holds an ONNX model, not a safetensors checkpoint: load it with loadModel");
  }
  const inner = await safetensorsIn(
    ranges,
    `${file} (its safetensors model)`,
    dataStart + header.model.offset,
    header.model.bytes,
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
  /** A packed tensor's sections to read, and what expands them into `into`. */
  const plan = (t: PackedTensor, into: Float32Array) => {
    const size = t.dims.reduce((a, b) => a * b, 1);
    if (size !== into.length) {
      throw fail(`tensor "${t.name}" is ${size} elements, not ${into.length}`);
    }
    const values = new Uint8Array(t.values.bytes);
    const mask = t.mask && new Uint8Array(t.mask.bytes);
    const parts: [Uint8Array, number][] = [[values, dataStart + t.values.offset]];
    if (mask) parts.push([mask, dataStart + t.mask!.offset]);
    const short = () =>
      fail(`tensor "${t.name}" ends past the end of the file (it changed after it was opened)`);
    return { parts, short, finish: () => expandPackedTensor(t, values, mask, into, fail) };
  };
  return {
    dims,
    float16: (name) =>
      packed.has(name)
        ? packed.get(name)!.dtype === "float16"
        : inner.tensors.get(name)?.dtype === "F16",
    read(name, into) {
      const t = packed.get(name);
      if (!t) return inner.read(name, into);
      if (!ranges.readAt) throw fail("it is read with readAsync");
      const p = plan(t, into);
      for (const [part, at] of p.parts) {
        if (ranges.readAt(part, at) !== part.length) throw p.short();
      }
      p.finish();
    },
    async readAsync(name, into) {
      const t = packed.get(name);
      if (!t) return await inner.readAsync(name, into);
      const p = plan(t, into);
      for (const [part, at] of p.parts) {
        if (await ranges.readAsync(part, at) !== part.length) throw p.short();
      }
      p.finish();
    },
    close: () => inner.close(),
  };
}
