/**
 * The protobuf wire format, as much as ONNX files need: a field reader over
 * @bufbuild/protobuf's wire-level `BinaryReader` (its reflection runtime, 70 KB minified, loads
 * only with the pruner), and a rewriter that re-encodes a message with some fields dropped or
 * replaced and every other byte kept (unknown fields included).
 *
 * @module
 */
import { BinaryReader, type WireType } from "npm:@bufbuild/protobuf@2.17.0/wire";

/** Wire types. */
export const VARINT = 0;
/** 64-bit little-endian (double, fixed64). */
export const I64 = 1;
/** Length-delimited (strings, bytes, messages, packed repeated numbers). */
export const LEN = 2;
/** 32-bit little-endian (float, fixed32). */
export const I32 = 5;

const utf8 = new TextDecoder();

/**
 * Reads fields from one message front to back. The wire decoding (varints, fixed-width
 * numbers, length-delimited fields, skipping unknown fields and groups) is @bufbuild/protobuf's
 * `BinaryReader`; this class only adds what the ONNX reader needs on top: an end-of-message
 * tag, sub-message readers and repeated numbers in either encoding.
 */
export class WireReader {
  /** The bytes of this message (a view into the file). */
  readonly buf: Uint8Array;
  readonly #r: BinaryReader;

  /** Reads the message in `buf`. */
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.#r = new BinaryReader(buf);
  }

  /** Byte position in `buf`. */
  get pos(): number {
    return this.#r.pos;
  }

  /** Length of `buf`. */
  get end(): number {
    return this.#r.len;
  }

  /** The next tag as [field number, wire type], or undefined at the end. */
  tag(): [number, number] | undefined {
    if (this.#r.pos >= this.#r.len) return undefined;
    const [field, wire] = this.#r.tag();
    return [field, wire];
  }

  /** A varint's low 32 bits, unsigned. */
  uint32(): number {
    return this.#r.uint32();
  }

  /** A varint as a signed 32-bit integer (int32, enums). */
  int32(): number {
    return this.#r.int32();
  }

  /** A varint as a 64-bit integer, signed (int64) or not (uint64). */
  int64(unsigned = false): bigint {
    return BigInt(unsigned ? this.#r.uint64() : this.#r.int64());
  }

  /** A little-endian float32. */
  float(): number {
    return this.#r.float();
  }

  /** A little-endian float64. */
  double(): number {
    return this.#r.double();
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    return this.#r.bytes();
  }

  /** A length-delimited field as UTF-8 text. */
  string(): string {
    return utf8.decode(this.#r.bytes());
  }

  /** A reader over the next length-delimited field (a sub-message). */
  message(): WireReader {
    return new WireReader(this.#r.bytes());
  }

  /**
   * Reads a repeated number field in either encoding: packed (one length-delimited field) or
   * one field per value.
   */
  repeated<T>(wire: number, one: number, read: (r: WireReader) => T, out: T[]): void {
    if (wire === one) {
      out.push(read(this));
    } else if (wire === LEN) {
      const packed = this.message();
      while (packed.pos < packed.end) out.push(read(packed));
    } else {
      this.skip(wire);
    }
  }

  /** Skips the value of a field of wire type `wire` (groups included). */
  skip(wire: number, field = 0): void {
    if (wire < 0 || wire > 5 || wire === 4) throw new Error(`invalid wire type ${wire}`);
    this.#r.skip(wire as WireType, field);
  }
}

/** A varint's bytes (lengths and tags: at most 2³² - 1). */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field: tag, length, payload. */
export function lenField(field: number, payload: Uint8Array): Uint8Array {
  const head = [...varint((field << 3) | LEN), ...varint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** A varint field (non-negative values). */
export function varintField(field: number, value: number): Uint8Array {
  return Uint8Array.from([...varint((field << 3) | VARINT), ...varint(value)]);
}

/**
 * Re-encodes a message: `edit` sees each field's number and, for length-delimited fields,
 * its payload, and returns undefined to keep the field as it is, null to drop it, or a new
 * payload. Returns `bytes` itself when nothing changed.
 */
export function rewriteMessage(
  bytes: Uint8Array,
  edit: (field: number, payload: Uint8Array | undefined) => Uint8Array | null | undefined,
): Uint8Array {
  const r = new WireReader(bytes);
  const parts: Uint8Array[] = [];
  let changed = false;
  let kept = 0;
  for (let start = 0, t = r.tag(); t; start = r.pos, t = r.tag()) {
    const [field, wire] = t;
    const payload = wire === LEN ? r.bytes() : (r.skip(wire, field), undefined);
    const next = edit(field, payload);
    if (next === undefined || next === payload) continue;
    changed = true;
    parts.push(bytes.subarray(kept, start));
    if (next !== null) parts.push(lenField(field, next));
    kept = r.pos;
  }
  if (!changed) return bytes;
  parts.push(bytes.subarray(kept));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
