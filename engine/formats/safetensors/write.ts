/**
 * Writes safetensors files: an 8-byte little-endian header length, a JSON header mapping each
 * tensor name to its dtype, shape and byte range in the data section (plus an optional
 * `__metadata__` of string pairs), padded with spaces to a multiple of 8 bytes so the data
 * section starts aligned, then the tensors' bytes back to back in the order given.
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";

/** One tensor to write: its bytes are already in the dtype's little-endian encoding. */
export interface SafetensorsEntry {
  /** Tensor name (unique, not "__metadata__"). */
  name: string;
  /** Element type. */
  dtype: "F32" | "F16" | "BF16";
  /** Dimensions; [] is a scalar (one element). */
  shape: readonly number[];
  /** Raw little-endian bytes: product(shape) × the dtype's size. */
  data: Uint8Array;
}

const BYTES = { F32: 4, F16: 2, BF16: 2 } as const;

/**
 * Serialises tensors (and string metadata) as a safetensors file.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./write.ts";
 * const bytes = writeSafetensors([
 *   { name: "w", dtype: "F32", shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) },
 * ], { format: "pt" });
 * console.log(bytes.length % 8); // 0
 * ```
 */
export function writeSafetensors(
  tensors: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new InvalidArgumentError(
          `Cannot write safetensors: metadata "${k}" is not a string (the format allows strings only)`,
        );
      }
    }
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (const t of tensors) {
    const what = `Cannot write safetensors: tensor "${t.name}"`;
    if (t.name === "__metadata__" || t.name in header) {
      throw new InvalidArgumentError(`${what} is a reserved or repeated name`);
    }
    const size = BYTES[t.dtype];
    if (!size) {
      throw new InvalidArgumentError(`${what} has dtype "${t.dtype}", not F32, F16 or BF16`);
    }
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new InvalidArgumentError(`${what} has an invalid shape [${t.shape}]`);
    }
    const bytes = t.shape.reduce((a, b) => a * b, 1) * size;
    if (t.data.length !== bytes) {
      throw new InvalidArgumentError(
        `${what} has ${t.data.length} bytes, its ${t.dtype} [${t.shape}] needs ${bytes}`,
      );
    }
    header[t.name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
