/**
 * safetensors: an 8-byte little-endian header length, a JSON header mapping tensor names to
 * dtype, shape and byte range, then the data. Everything is validated before any tensor is
 * built: the header fits the file, ranges are in bounds, consistent with dtype × shape, and
 * do not overlap. F32, F16 and BF16 become float32.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { MAX_ELEMENTS, Tensor } from "../../tensor.ts";
import { float16ToFloat32 } from "../float16.ts";
import { markFloat16Origin } from "../../weights/f16_gemv.ts";

/** The element types read (each becomes float32). */
export type SafetensorsDtype = "F32" | "F16" | "BF16";

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
/** Headers larger than this are refused (real ones are a few hundred KB). */
const MAX_HEADER = 100 * 2 ** 20;

/** One tensor as the header describes it, checked against the file. */
export interface SafetensorsTensorInfo {
  /** Stored element type. */
  dtype: SafetensorsDtype;
  /** Dimensions; [] is a scalar. */
  dims: number[];
  /** Elements (the product of dims). */
  size: number;
  /** Byte offset of its data from the start of the file. */
  offset: number;
}

function failure(file: string, why: string): ModelFormatError {
  return new ModelFormatError(`Cannot read "${file}": ${why}`);
}

/**
 * Where the data section of a safetensors file of `fileLength` bytes starts, from its first 8
 * bytes (the header's length), checked: the header fits the file and is not absurdly large.
 */
export function safetensorsDataStart(first8: Uint8Array, fileLength: number, file: string): number {
  if (first8.length < 8 || fileLength < 8) {
    throw failure(file, "the file is shorter than its 8-byte header length");
  }
  const len = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER, fileLength - 8))) {
    throw failure(
      file,
      len > BigInt(fileLength - 8)
        ? `the header claims ${len} bytes, the file has ${fileLength - 8} after the length; ` +
          `check the file is complete`
        : `the header claims ${len} bytes, more than the ${MAX_HEADER} allowed`,
    );
  }
  return 8 + Number(len);
}

/**
 * The tensors the JSON header (the bytes between the length and `dataStart`) describes, each
 * checked: a known dtype, a valid shape, a byte range inside the file's `fileLength` bytes that
 * matches dtype × shape and overlaps no other.
 */
export function safetensorsTensors(
  header: Uint8Array,
  dataStart: number,
  fileLength: number,
  file: string,
): Map<string, SafetensorsTensorInfo> {
  const fail = (why: string) => failure(file, why);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(header));
  } catch (cause) {
    throw new ModelFormatError(`Cannot read "${file}": the header is not valid JSON`, { cause });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw fail("the header is not a JSON object");
  }
  const dataLength = fileLength - dataStart;
  const ranges: [number, number, string][] = [];
  const out = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const what = `tensor "${name}"`;
    if (typeof e !== "object" || e === null) throw fail(`${what} has no description`);
    const size = BYTES[e.dtype as string];
    if (!size) throw fail(`${what} has dtype "${e.dtype}", not one of F32, F16, BF16`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw fail(`${what} has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const dims = e.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > MAX_ELEMENTS) throw fail(`${what} declares ${n} elements`);
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((v) => Number.isSafeInteger(v)) ||
      off[0] < 0 || off[1] < off[0]
    ) {
      throw fail(`${what} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLength) {
      throw fail(
        `${what} ends at byte ${end}, past the ${dataLength} data bytes; check the file is complete`,
      );
    }
    if (end - begin !== n * size) {
      throw fail(`${what} has ${end - begin} bytes, its ${e.dtype} [${dims}] needs ${n * size}`);
    }
    ranges.push([begin, end, name]);
    out.set(name, {
      dtype: e.dtype as SafetensorsDtype,
      dims,
      size: n,
      offset: dataStart + begin,
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw fail(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
  }
  return out;
}

/**
 * Decodes a tensor's stored bytes (`raw`: exactly its size × the dtype's bytes) as float32
 * into `into` (its size).
 */
export function decodeSafetensorsData(
  dtype: SafetensorsDtype,
  raw: Uint8Array,
  into: Float32Array,
): void {
  if (dtype === "F32") {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(raw);
    return;
  }
  // Halves need 2-byte alignment for the Uint16Array.
  const aligned = raw.byteOffset % 2 === 0 ? raw : raw.slice();
  const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, into.length);
  if (dtype === "F16") {
    float16ToFloat32(bits, into);
    return;
  }
  // bfloat16: the top 16 bits of a float32.
  const u = new Uint32Array(into.buffer, into.byteOffset, into.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
}

/** Parses safetensors bytes; `file` names the file in errors. Each tensor gets its own copy. */
export function parseSafetensors(
  bytes: Uint8Array,
  file = "model.safetensors",
): Map<string, Tensor> {
  const dataStart = safetensorsDataStart(bytes.subarray(0, 8), bytes.length, file);
  const infos = safetensorsTensors(bytes.subarray(8, dataStart), dataStart, bytes.length, file);
  const out = new Map<string, Tensor>();
  for (const [name, info] of infos) {
    const data = new Float32Array(info.size);
    const stored = info.size * BYTES[info.dtype];
    decodeSafetensorsData(info.dtype, bytes.subarray(info.offset, info.offset + stored), data);
    const t = new Tensor("float32", data, info.dims);
    // F16 weights may stay halves in the arena for memory-bound GEMVs (gemvWeights "auto").
    out.set(name, info.dtype === "F16" ? markFloat16Origin(t) : t);
  }
  return out;
}

/** Bytes per stored element of a dtype. */
export function safetensorsElementBytes(dtype: SafetensorsDtype): number {
  return BYTES[dtype];
}
