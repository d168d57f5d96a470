/**
 * A safetensors file whose tensors are read one at a time, when a model packs them, straight
 * into the memory that keeps them (the Wasm arena): a local file is never held whole, nor a
 * URL's where its server answers Range requests, so loading needs about the model's own memory
 * instead of that plus the file's size. Other URLs are downloaded whole first.
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

/** `ReadAt` over a network: the same contract, answered later. */
type ReadAtAsync = (into: Uint8Array, position: number) => Promise<number>;

/** An open safetensors file: every tensor's shape now, its values on request. */
export class SafetensorsReader {
  /** The file's name in errors. */
  readonly file: string;
  /** Every tensor's dtype, shape and place, checked against the file. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly #readAt: ReadAt | undefined;
  readonly #readAtAsync: ReadAtAsync;
  readonly #close: () => void;

  /**
   * Use `openSafetensors` or `safetensorsIn`. `reads`: the file's bytes, read now (`readAt`: a
   * local file, bytes in memory) or later (only `readAsync`: HTTP ranges; then only
   * `readAsync` reads tensors).
   */
  constructor(
    file: string,
    tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
    reads: Pick<ByteRanges, "readAt" | "readAsync">,
    close: () => void,
  ) {
    this.file = file;
    this.tensors = tensors;
    this.#readAt = reads.readAt;
    this.#readAtAsync = reads.readAsync;
    this.#close = close;
  }

  /** Writes tensor `name`'s values, as float32, into `into` (exactly its size). */
  read(name: string, into: Float32Array): void {
    if (!this.#readAt) {
      throw new ModelFormatError(`Cannot read "${this.file}" at once: it is read with readAsync`);
    }
    const plan = this.#plan(name, into);
    for (const [part, position] of plan.parts) {
      if (this.#readAt(part, position) !== part.length) throw plan.short();
    }
    plan.finish();
  }

  /** `read`, for any reader (a remote file's parts arrive later). */
  async readAsync(name: string, into: Float32Array): Promise<void> {
    const plan = this.#plan(name, into);
    for (const [part, position] of plan.parts) {
      if (await this.#readAtAsync(part, position) !== part.length) throw plan.short();
    }
    plan.finish();
  }

  /**
   * Where tensor `name`'s stored bytes go (parts of at most READ_CHUNK, each with its file
   * position), and what turns them into float32 in `into`: float32 lands in place, halves go
   * through a scratch buffer to be widened.
   */
  #plan(name: string, into: Float32Array) {
    const info = this.tensors.get(name);
    if (!info || info.size !== into.length) {
      throw new ModelFormatError(
        `Cannot read "${this.file}": tensor "${name}" is ${
          info ? `${info.size} elements, not ${into.length}` : "missing"
        }`,
      );
    }
    const stored = info.size * safetensorsElementBytes(info.dtype);
    const raw = info.dtype === "F32"
      ? new Uint8Array(into.buffer, into.byteOffset, into.byteLength)
      : new Uint8Array(stored);
    const parts: [Uint8Array, number][] = [];
    for (let at = 0; at < stored; at += READ_CHUNK) {
      parts.push([raw.subarray(at, Math.min(stored, at + READ_CHUNK)), info.offset + at]);
    }
    return {
      parts,
      finish: () => {
        if (info.dtype !== "F32") decodeSafetensorsData(info.dtype, raw, into);
      },
      short: () =>
        new ModelFormatError(
          `Cannot read "${this.file}": tensor "${name}" ends past the end of the file ` +
            `(it changed or was cut short after it was opened)`,
        ),
    };
  }

  /** Releases the file (further reads fail). */
  close(): void {
    this.#close();
  }
}

/** Bytes per read call (some hosts cap one read at 2 GiB). */
const READ_CHUNK = 64 << 20;

/**
 * Bytes at any position of a file of `size` bytes: now (`readAt`: a local file, bytes in
 * memory) or later (`readAsync` only: HTTP Range requests).
 */
export interface ByteRanges {
  /** The file's size. */
  size: number;
  /** Fills `into` from `position`; returns the bytes read (fewer only at the end). */
  readAt?: ReadAt;
  /** `readAt`, answered later (every source has it). */
  readAsync: ReadAtAsync;
  /** Releases the file. */
  close(): void;
}

/** Ranges whose reads are answered now. */
function syncRanges(size: number, readAt: ReadAt, close: () => void): ByteRanges {
  return { size, readAt, readAsync: (into, p) => Promise.resolve(readAt(into, p)), close };
}

/** A whole file's bytes as ranges. */
export function bytesAsRanges(bytes: Uint8Array, file: string): ByteRanges {
  let open = true;
  return syncRanges(bytes.length, (into, position) => {
    if (!open) throw new ModelFormatError(`Cannot read "${file}": it was closed`);
    const part = bytes.subarray(position, position + into.length);
    into.set(part);
    return part.length;
  }, () => open = false);
}

/**
 * A reader of the safetensors file at bytes [base, base + size) of `ranges` (a whole file, or
 * a section of one), its header checked. It reads at once where `ranges` does, else only with
 * `readAsync`. Closing the reader closes `ranges`.
 */
export async function safetensorsIn(
  ranges: ByteRanges,
  file: string,
  base = 0,
  size = ranges.size - base,
): Promise<SafetensorsReader> {
  // Reads clamped to the section.
  const clamp = (into: Uint8Array, position: number) =>
    into.subarray(0, Math.max(0, Math.min(into.length, size - position)));
  const readAsync: ReadAtAsync = (into, position) =>
    ranges.readAsync(clamp(into, position), base + position);
  const first8 = new Uint8Array(8);
  const dataStart = safetensorsDataStart(
    first8.subarray(0, await readAsync(first8, 0)),
    size,
    file,
  );
  const header = new Uint8Array(dataStart - 8);
  if (await readAsync(header, 8) !== header.length) {
    throw new ModelFormatError(`Cannot read "${file}": the file ended inside its header`);
  }
  const tensors = safetensorsTensors(header, dataStart, size, file);
  const readAt = ranges.readAt;
  return new SafetensorsReader(file, tensors, {
    readAt: readAt && ((into, position) => readAt(clamp(into, position), base + position)),
    readAsync,
  }, ranges.close);
}

/**
 * Opens the byte ranges of `source` (a path, a file: URL or a URL; `what` names it in errors)
 * and returns what `open` makes of them, closing them if it fails: a local file is read where
 * asked; a URL with Range requests where its server serves them, else downloaded whole.
 */
export async function openRanges<T>(
  source: string | URL,
  what: string,
  open: (ranges: ByteRanges) => T | Promise<T>,
): Promise<T> {
  const local = localPath(source);
  let ranges: ByteRanges;
  if (local) {
    const f = await (await import("../file_ranges.ts")).openFileRanges(local, what);
    ranges = syncRanges(f.size, f.readAt, f.close);
  } else {
    const { openHttpRanges } = await import("../http_ranges.ts");
    const http = await openHttpRanges(new URL(source), what);
    let open = true;
    ranges = http
      ? {
        size: http.size,
        readAsync: (into, position) => {
          if (!open) throw new ModelFormatError(`Cannot read "${source}": it was closed`);
          return http.read(into, position);
        },
        close: () => open = false,
      }
      : bytesAsRanges(await readSource(source, what), String(source));
  }
  try {
    return await open(ranges);
  } catch (e) {
    ranges.close();
    throw e;
  }
}

/**
 * Opens the safetensors file `source` (a path, a file: URL or a URL); `file` names it in
 * errors. A local file is read tensor by tensor as the reader is asked; a URL too, with Range
 * requests (`readAsync`), where its server serves them, else it is downloaded whole. Close the
 * reader when done.
 */
export function openSafetensors(source: string | URL, file: string): Promise<SafetensorsReader> {
  return openRanges(source, "checkpoint file", (ranges) => safetensorsIn(ranges, file));
}
