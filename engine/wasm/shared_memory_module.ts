/**
 * The threaded build of the kernels: the same code as the single-threaded build, with its
 * imported memory declared shared. The kernels need no atomics (threads split the output and
 * never write the same bytes; synchronisation happens in JavaScript on a control block), so
 * the only difference between the builds is the memory import's limits, and it is made here
 * at load time instead of shipping every variant twice.
 *
 * @module
 */
import { KernelLoadError } from "../errors.ts";

const IMPORT_SECTION = 2;
const KIND_FUNC = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const KIND_TAG = 4;
/** Limits flags: 0 = min, 1 = min and max, 3 = min, max and shared. */
const LIMITS_SHARED = 3;

class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, pos: number) {
    this.pos = pos;
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw new KernelLoadError("The kernel module is truncated");
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new KernelLoadError("The kernel module has a malformed LEB128 number");
  }

  skip(n: number): void {
    this.pos += n;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function concat(parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function skipLimits(r: Reader): void {
  const flags = r.byte();
  r.u32();
  if (flags & 1) r.u32();
}

/**
 * Returns a copy of a Wasm module binary whose memory import is declared shared with
 * `maxPages` as its maximum (a shared memory must declare one). Throws `KernelLoadError`
 * when the binary has no memory import.
 */
export function shareMemoryImport(bytes: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const sectionStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const payloadStart = r.pos;
    if (id !== IMPORT_SECTION) {
      r.skip(size);
      continue;
    }
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      r.skip(r.u32()); // module name
      r.skip(r.u32()); // field name
      const kind = r.byte();
      if (kind === KIND_FUNC || kind === KIND_TAG) {
        if (kind === KIND_TAG) r.byte();
        r.u32();
      } else if (kind === KIND_TABLE) {
        r.byte();
        skipLimits(r);
      } else if (kind === KIND_GLOBAL) {
        r.skip(2);
      } else if (kind === KIND_MEMORY) {
        const limitsStart = r.pos;
        const flags = r.byte();
        const min = r.u32();
        if (flags & 1) r.u32();
        const newLimits = [LIMITS_SHARED, ...leb(min), ...leb(maxPages)];
        const payload = [
          ...bytes.subarray(payloadStart, limitsStart),
          ...newLimits,
          ...bytes.subarray(r.pos, payloadStart + size),
        ];
        return concat([
          bytes.subarray(0, sectionStart),
          [IMPORT_SECTION, ...leb(payload.length)],
          payload,
          bytes.subarray(payloadStart + size),
        ]);
      } else {
        throw new KernelLoadError(`The kernel module has an import of unknown kind ${kind}`);
      }
    }
    break;
  }
  throw new KernelLoadError("The kernel module imports no memory: it cannot run on threads");
}
