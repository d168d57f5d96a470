/**
 * A small GGUF (version 3) writer, enough for f32 and q8_0 models: typed metadata (numbers,
 * booleans, strings and arrays of them) and f32 or q8_0 tensors, written from the format
 * description in ggml's gguf.h. Layout: magic "GGUF", version, tensor count (u64), metadata count (u64), the metadata
 * key/value pairs, one info per tensor (name, dims innermost first, ggml type, offset into the
 * data blob), padding to the alignment, then the data blob with every tensor aligned.
 * Everything is little-endian.
 */
import { toFloat16Bits } from "../engine/formats/float16.ts";

/** GGUF metadata value types (gguf.h `gguf_type`). */
export const GGUF_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** A scalar GGUF type name. */
export type GgufScalarType = Exclude<keyof typeof GGUF_TYPE, "array">;

/** One metadata key/value pair: a scalar, or an array of scalars of one type. */
export type GgufEntry =
  | { key: string; type: GgufScalarType; value: number | bigint | boolean | string }
  | {
    key: string;
    type: "array";
    itemType: GgufScalarType;
    values: readonly (number | bigint | boolean | string)[];
  };

/**
 * A tensor given as f32 values; `dims` in GGUF order, innermost (contiguous) first: [in, out]
 * for [out, in]. Stored as f32, or as q8_0 (`type`): blocks of 32 values along the innermost
 * dim, each an f16 scale d = max |v| / 127 and 32 int8 q = round(v / d), 34 bytes (ggml's 8-bit
 * format; the innermost dim must be a multiple of 32).
 */
export interface GgufTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
  type?: "f32" | "q8_0";
}

/** ggml_type ids (ggml.h `ggml_type`). */
const GGML_TYPE = { f32: 0, q8_0: 8 } as const;

/** Values per q8_0 block. */
const Q8_0_BLOCK = 32;

/** The q8_0 bytes of `data`, rows of `rowLength` values (a multiple of 32). */
export function quantizeQ8_0(data: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % Q8_0_BLOCK !== 0 || data.length % rowLength !== 0) {
    throw new RangeError(`q8_0 needs rows of a multiple of 32 values, got ${rowLength}`);
  }
  const blocks = data.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * (2 + Q8_0_BLOCK));
  const view = new DataView(out.buffer);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let max = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) max = Math.max(max, Math.abs(data[b * Q8_0_BLOCK + i]));
    const d = max / 127;
    const at = b * (2 + Q8_0_BLOCK);
    view.setUint16(at, toFloat16Bits(d), true);
    const inv = d > 0 ? 1 / d : 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      q[at + 2 + i] = Math.round(data[b * Q8_0_BLOCK + i] * inv);
    }
  }
  return out;
}

/** A growing little-endian byte buffer. */
class Bytes {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  /** Reserves n bytes (growing the buffer) and returns where they start. Call it before
   * reading #buf or #view: growing replaces them. */
  #room(n: number): number {
    if (this.length + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
      grown.set(this.#buf.subarray(0, this.length));
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.#room(1);
    this.#view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.#room(1);
    this.#view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.#room(2);
    this.#view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.#room(2);
    this.#view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.#room(4);
    this.#view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.#room(4);
    this.#view.setInt32(at, v, true);
  }
  u64(v: number | bigint): void {
    const at = this.#room(8);
    this.#view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: number | bigint): void {
    const at = this.#room(8);
    this.#view.setBigInt64(at, BigInt(v), true);
  }
  f32(v: number): void {
    const at = this.#room(4);
    this.#view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.#room(8);
    this.#view.setFloat64(at, v, true);
  }
  /** A GGUF string: u64 byte length, then UTF-8 bytes without a terminator. */
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    const at = this.#room(b.length); // may grow #buf: take it only after
    this.#buf.set(b, at);
  }
  /** Zero bytes up to a multiple of `alignment`. */
  pad(alignment: number): void {
    this.#room((alignment - (this.length % alignment)) % alignment);
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

function scalar(out: Bytes, type: GgufScalarType, v: number | bigint | boolean | string): void {
  const num = () => {
    if (typeof v !== "number") {
      throw new TypeError(`A GGUF ${type} value must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  switch (type) {
    case "u8":
      return out.u8(num());
    case "i8":
      return out.i8(num());
    case "u16":
      return out.u16(num());
    case "i16":
      return out.i16(num());
    case "u32":
      return out.u32(num());
    case "i32":
      return out.i32(num());
    case "f32":
      return out.f32(num());
    case "f64":
      return out.f64(num());
    case "u64":
    case "i64":
      if (typeof v !== "number" && typeof v !== "bigint") {
        throw new TypeError(`A GGUF ${type} value must be a number or bigint, got ${v}`);
      }
      return type === "u64" ? out.u64(v) : out.i64(v);
    case "bool":
      if (typeof v !== "boolean") throw new TypeError(`A GGUF bool must be a boolean, got ${v}`);
      return out.i8(v ? 1 : 0);
    case "string":
      if (typeof v !== "string") throw new TypeError(`A GGUF string must be a string, got ${v}`);
      return out.string(v);
  }
}

/** The size of `dims` in elements. */
function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Writes a GGUF v3 file of `metadata` and `tensors` (f32 or q8_0) to `path`, streaming the data
 * (a model's tensors need not fit in memory twice). `general.alignment` (u32) in the metadata
 * sets the alignment; it defaults to 32. Returns the file's size in bytes.
 */
export async function writeGguf(
  path: string,
  metadata: readonly GgufEntry[],
  tensors: readonly GgufTensor[],
): Promise<number> {
  const alignEntry = metadata.find((e) => e.key === "general.alignment");
  const alignment = alignEntry?.type === "u32" ? Number(alignEntry.value) : 32;
  if (alignEntry && (alignEntry.type !== "u32" || !(alignment > 0) || alignment % 8 !== 0)) {
    throw new RangeError("The GGUF general.alignment must be a u32 multiple of 8");
  }
  const keys = new Set<string>();
  const head = new Bytes();
  head.u8(0x47), head.u8(0x47), head.u8(0x55), head.u8(0x46); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const e of metadata) {
    if (keys.has(e.key)) throw new Error(`The GGUF metadata key "${e.key}" appears twice`);
    keys.add(e.key);
    head.string(e.key);
    head.u32(GGUF_TYPE[e.type]);
    if (e.type === "array") {
      head.u32(GGUF_TYPE[e.itemType]);
      head.u64(e.values.length);
      for (const v of e.values) scalar(head, e.itemType, v);
    } else {
      scalar(head, e.type, e.value);
    }
  }
  const names = new Set<string>();
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`The GGUF tensor "${t.name}" appears twice`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !(d > 0))) {
      throw new RangeError(`GGUF tensor "${t.name}" has bad dims [${t.dims}]`);
    }
    if (count(t.dims) !== t.data.length) {
      throw new RangeError(
        `GGUF tensor "${t.name}": dims [${t.dims}] hold ${count(t.dims)} values, the data ` +
          `${t.data.length}`,
      );
    }
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    const blob = t.type === "q8_0"
      ? quantizeQ8_0(t.data, t.dims[0])
      : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    blobs.push(blob);
    head.u32(GGML_TYPE[t.type ?? "f32"]);
    head.u64(offset);
    offset += Math.ceil(blob.byteLength / alignment) * alignment;
  }
  head.pad(alignment);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const writeAll = async (b: Uint8Array) => {
      for (let at = 0; at < b.length;) at += await file.write(b.subarray(at));
    };
    await writeAll(head.bytes());
    const zeros = new Uint8Array(alignment);
    for (const b of blobs) {
      await writeAll(b);
      await writeAll(zeros.subarray(0, (alignment - (b.length % alignment)) % alignment));
    }
  } finally {
    file.close();
  }
  return head.length + offset;
}
