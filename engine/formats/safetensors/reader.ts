/**
 * A safetensors file whose tensors are read one at a time, when a model packs them, straight
 * into the memory that keeps them (the Wasm arena): a local file is never held whole, so
 * loading needs about the model's own memory instead of that plus the file's size. A URL's
 * body is downloaded whole first (the reads then copy out of it).
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { localPath, readSource } from "../read_source.ts";
import {
  decodeSafetensorsData,
  safetensorsDataStart,
  safetensorsElementBytes,
  type SafetensorsTensorInfo,
  safetensorsTensors,
} from "./safetensors.ts";

/** Reads `into.length` bytes at `position`; returns how many there were (fewer at the end). */
type ReadAt = (into: Uint8Array, position: number) => number;

/** An open safetensors file: every tensor's shape now, its values on request. */
export class SafetensorsReader {
  /** The file's name in errors. */
  readonly file: string;
  /** Every tensor's dtype, shape and place, checked against the file. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly #readAt: ReadAt;
  readonly #close: () => void;

  /** Use `openSafetensors` or `safetensorsReaderOf`. */
  constructor(
    file: string,
    tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
    readAt: ReadAt,
    close: () => void,
  ) {
    this.file = file;
    this.tensors = tensors;
    this.#readAt = readAt;
    this.#close = close;
  }

  /** Writes tensor `name`'s values, as float32, into `into` (exactly its size). */
  read(name: string, into: Float32Array): void {
    const info = this.tensors.get(name);
    if (!info || info.size !== into.length) {
      throw new ModelFormatError(
        `Cannot read "${this.file}": tensor "${name}" is ${
          info ? `${info.size} elements, not ${into.length}` : "missing"
        }`,
      );
    }
    const stored = info.size * safetensorsElementBytes(info.dtype);
    // float32 lands in place; halves go through a scratch buffer to be widened.
    const raw = info.dtype === "F32"
      ? new Uint8Array(into.buffer, into.byteOffset, into.byteLength)
      : new Uint8Array(stored);
    let at = 0;
    while (at < stored) {
      const n = this.#readAt(raw.subarray(at, Math.min(stored, at + READ_CHUNK)), info.offset + at);
      if (n <= 0) {
        throw new ModelFormatError(
          `Cannot read "${this.file}": tensor "${name}" ends past the end of the file ` +
            `(it changed or was cut short after it was opened)`,
        );
      }
      at += n;
    }
    if (info.dtype !== "F32") decodeSafetensorsData(info.dtype, raw, into);
  }

  /** Releases the file (further reads fail). */
  close(): void {
    this.#close();
  }
}

/** Bytes per read call (some hosts cap one read at 2 GiB). */
const READ_CHUNK = 64 << 20;

/** Bytes read at any position of a file of `size` bytes (a local file, or one in memory). */
export interface ByteRanges {
  /** The file's size. */
  size: number;
  /** Fills `into` from `position`; returns the bytes read (fewer only at the end). */
  readAt: ReadAt;
  /** Releases the file. */
  close(): void;
}

/** A whole file's bytes as ranges. */
export function bytesAsRanges(bytes: Uint8Array, file: string): ByteRanges {
  let open = true;
  return {
    size: bytes.length,
    readAt(into, position) {
      if (!open) throw new ModelFormatError(`Cannot read "${file}": it was closed`);
      const part = bytes.subarray(position, position + into.length);
      into.set(part);
      return part.length;
    },
    close: () => open = false,
  };
}

/**
 * A reader of the safetensors file at bytes [base, base + size) of `ranges` (a whole file, or
 * a section of one), its header checked. Closing the reader closes `ranges`.
 */
export function safetensorsReaderOver(
  ranges: ByteRanges,
  file: string,
  base = 0,
  size = ranges.size - base,
): SafetensorsReader {
  const readAt: ReadAt = (into, position) =>
    ranges.readAt(
      into.subarray(0, Math.max(0, Math.min(into.length, size - position))),
      base + position,
    );
  const first8 = new Uint8Array(8);
  const dataStart = safetensorsDataStart(first8.subarray(0, readAt(first8, 0)), size, file);
  const header = new Uint8Array(dataStart - 8);
  if (readAt(header, 8) !== header.length) {
    throw new ModelFormatError(`Cannot read "${file}": the file ended inside its header`);
  }
  const tensors = safetensorsTensors(header, dataStart, size, file);
  return new SafetensorsReader(file, tensors, readAt, ranges.close);
}

/** A reader over a whole file's bytes already in memory. */
export function safetensorsReaderOf(bytes: Uint8Array, file: string): SafetensorsReader {
  return safetensorsReaderOver(bytesAsRanges(bytes, file), file);
}

/**
 * Opens the byte ranges of `source` (a path, a file: URL or a URL; `what` names it in errors)
 * and returns what `open` makes of them, closing them if it throws: a local file is read where
 * asked, a URL is downloaded whole.
 */
export async function openRanges<T>(
  source: string | URL,
  what: string,
  open: (ranges: ByteRanges) => T,
): Promise<T> {
  const local = localPath(source);
  const ranges = local
    ? await (await import("../file_ranges.ts")).openFileRanges(local, what)
    : bytesAsRanges(await readSource(source, what), String(source));
  try {
    return open(ranges);
  } catch (e) {
    ranges.close();
    throw e;
  }
}

/**
 * Opens the safetensors file `source` (a path, a file: URL or a URL); `file` names it in
 * errors. A local file is read tensor by tensor as the reader is asked; a URL is downloaded
 * whole. Close the reader when done.
 */
export function openSafetensors(
  source: string | URL,
  file: string,
): Promise<SafetensorsReader> {
  return openRanges(source, "checkpoint file", (ranges) => safetensorsReaderOver(ranges, file));
}
