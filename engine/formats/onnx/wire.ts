/**
 * The protobuf wire format, as much as ONNX files need: a field reader, and a rewriter that
 * re-encodes a message with some fields dropped or replaced and every other byte kept (unknown
 * fields included). The reader is plain code over the bytes: a model's few thousand fields are
 * read once, mostly before V8 has optimised anything, so each call it saves counts (the first
 * load of silero VAD v5 read it in 19 ms through @bufbuild/protobuf's `BinaryReader`, whose
 * generated schema tests/engine/formats/onnx/proto_test.ts checks this reader against).
 *
 * @module
 */

/** Wire types. */
export const VARINT = 0;
/** 64-bit little-endian (double, fixed64). */
export const I64 = 1;
/** Length-delimited (strings, bytes, messages, packed repeated numbers). */
export const LEN = 2;
/** 32-bit little-endian (float, fixed32). */
export const I32 = 5;
const START_GROUP = 3;
const END_GROUP = 4;

const utf8 = new TextDecoder();

/** Decodes a name; short ASCII ones (nearly every name in a model) skip the decoder call. */
function text(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let ascii = true;
    for (let i = start; i < end && ascii; i++) ascii = buf[i] < 0x80;
    if (ascii) return String.fromCharCode.apply(null, buf.subarray(start, end) as never);
  }
  return utf8.decode(buf.subarray(start, end));
}

/**
 * Reads fields from one message front to back: varints, fixed-width numbers, length-delimited
 * fields (views into the file, never copies), packed or unpacked repeated numbers, and skips
 * unknown fields and groups. A sub-message reader shares the file's bytes and reads a range
 * of them. Malformed bytes throw an `Error` naming the byte position.
 */
export class WireReader {
  /** The bytes the message is in (the whole file for sub-messages). */
  readonly buf: Uint8Array;
  /** Byte position in `buf`. */
  pos: number;
  /** Where the message ends in `buf`. */
  readonly end: number;
  /** The field number of the last tag `next()` read. */
  field = 0;
  /** The wire type of the last tag `next()` read. */
  wire = 0;
  #view: DataView | undefined;

  /** Reads the message in `buf` from `start` to `end`. */
  constructor(buf: Uint8Array, start = 0, end = buf.length, view?: DataView) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.#view = view;
  }

  #fail(what: string): Error {
    return new Error(`${what} at byte ${this.pos}`);
  }

  /** Reads the next tag into `field` and `wire`; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const t = this.uint32();
    this.field = t >>> 3;
    this.wire = t & 7;
    if (this.field === 0) throw this.#fail("field number 0");
    if (this.wire > 5) throw this.#fail(`invalid wire type ${this.wire}`);
    return true;
  }

  /** The next tag as [field number, wire type], or undefined at the end. */
  tag(): [number, number] | undefined {
    return this.next() ? [this.field, this.wire] : undefined;
  }

  /** A varint's low 32 bits, unsigned. */
  uint32(): number {
    const b = this.buf;
    let v = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw this.#fail("varint cut off");
      const c = b[this.pos++];
      if (shift < 32) v |= (c & 0x7f) << shift;
      if (c < 0x80) return v >>> 0;
    }
    throw this.#fail("varint longer than 10 bytes");
  }

  /** A varint as a signed 32-bit integer (int32, enums). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A varint as a 64-bit integer, signed (int64) or not (uint64). */
  int64(unsigned = false): bigint {
    const start = this.pos;
    const low = this.uint32();
    if (this.pos - start <= 4) return BigInt(low); // below 2^28
    let v = 0n;
    for (let i = this.pos - 1; i >= start; i--) v = (v << 7n) | BigInt(this.buf[i] & 0x7f);
    v = BigInt.asUintN(64, v);
    return unsigned ? v : BigInt.asIntN(64, v);
  }

  /** Moves past a `size`-byte number and returns where it starts in the view. */
  #fixed(size: number): number {
    if (this.pos + size > this.end) throw this.#fail(`${size}-byte number cut off`);
    this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos += size;
    return this.pos - size;
  }

  /** A little-endian float32. */
  float(): number {
    const at = this.#fixed(4);
    return this.#view!.getFloat32(at, true);
  }

  /** A little-endian float64. */
  double(): number {
    const at = this.#fixed(8);
    return this.#view!.getFloat64(at, true);
  }

  /** A length-delimited field's length; moves past the field. */
  #skipLength(): number {
    const n = this.uint32();
    if (n > this.end - this.pos) throw this.#fail(`length ${n} past the end`);
    this.pos += n;
    return n;
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const n = this.#skipLength();
    return this.buf.subarray(this.pos - n, this.pos);
  }

  /** A length-delimited field as UTF-8 text. */
  string(): string {
    const n = this.#skipLength();
    return text(this.buf, this.pos - n, this.pos);
  }

  /** A reader over the next length-delimited field (a sub-message). */
  message(): WireReader {
    const n = this.#skipLength();
    return new WireReader(this.buf, this.pos - n, this.pos, this.#view);
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

  /** Skips the value of a field of wire type `wire` (groups included, up to their end tag). */
  skip(wire: number, field = 0): void {
    switch (wire) {
      case VARINT:
        this.uint32();
        return;
      case I64:
        this.#fixed(8);
        return;
      case I32:
        this.#fixed(4);
        return;
      case LEN:
        this.#skipLength();
        return;
      case START_GROUP:
        for (;;) {
          if (!this.next()) throw this.#fail(`group ${field} not closed`);
          if (this.wire === END_GROUP) {
            if (this.field !== field) throw this.#fail(`group ${field} closed as ${this.field}`);
            return;
          }
          this.skip(this.wire, this.field);
        }
    }
    throw this.#fail(`invalid wire type ${wire}`);
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
