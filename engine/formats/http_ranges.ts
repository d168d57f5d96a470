/**
 * A file over HTTP read in parts with Range requests, so a loader can take each tensor when it
 * needs it instead of downloading the whole file first. Small reads go through a window (one
 * request serves the neighbouring tensors a model reads next); large ones stream straight into
 * their destination. Every request is bounded in silence, like `readSource`'s downloads.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import { stallGuard } from "./read_source.ts";

/** A remote file read in parts. */
export interface HttpRanges {
  /** The file's size (from the server's Content-Range). */
  size: number;
  /** Fills `into` from byte `position`; returns the bytes read (fewer only at the end). */
  read(into: Uint8Array, position: number): Promise<number>;
}

/** Bytes fetched at once for small reads (the tensors of one Mamba layer: about 14 MB). */
const WINDOW = 16 << 20;

/**
 * Opens `url` for range reads; `what` names it in errors. Undefined when the server does not
 * serve ranges (it answered the probe with the whole file): download it whole instead. An HTTP
 * error is a ModelFormatError whose cause is the response (a 404 reads as a missing file).
 */
export async function openHttpRanges(
  url: URL,
  what: string,
  { stallMs = 30_000, windowBytes = WINDOW }: { stallMs?: number; windowBytes?: number } = {},
): Promise<HttpRanges | undefined> {
  const fail = (detail: string, cause?: unknown) =>
    new ModelFormatError(`Cannot fetch ${what} "${url}": ${detail}`, { cause });
  /** A Range request for [start, end); the response, its body's reader and the stall guard. */
  const get = async (start: number, end: number) => {
    const abort = new AbortController();
    const inTime = stallGuard(stallMs, () => fail(`no data for ${stallMs / 1000} s`), abort);
    let res: Response;
    try {
      res = await inTime(
        fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, signal: abort.signal }),
      );
    } catch (cause) {
      throw cause instanceof ModelFormatError ? cause : fail(String(cause), cause);
    }
    return { res, inTime, abort };
  };
  /** Reads a 206 response's body into `into`; returns the bytes it held. */
  const body = async (r: Awaited<ReturnType<typeof get>>, into: Uint8Array): Promise<number> => {
    const reader = r.res.body?.getReader();
    let at = 0;
    try {
      while (reader) {
        const { done, value } = await r.inTime(reader.read());
        if (done) break;
        if (at + value.length > into.length) throw fail("the server sent more than asked");
        into.set(value, at);
        at += value.length;
      }
    } catch (cause) {
      r.abort.abort();
      if (cause instanceof ModelFormatError) throw cause;
      throw fail(`the connection failed after ${at} bytes (${(cause as Error).message})`, cause);
    }
    return at;
  };
  /** The [start, end, size] a 206 response declares. */
  const range = (res: Response) => {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    if (!m) {
      throw fail(`its Content-Range "${res.headers.get("content-range")}" is not bytes a-b/size`);
    }
    return [Number(m[1]), Number(m[2]) + 1, Number(m[3])];
  };

  const probe = await get(0, windowBytes);
  if (probe.res.status === 200 || probe.res.status === 416) {
    // No ranges here (or an empty file): the caller downloads it whole.
    await probe.res.body?.cancel();
    return undefined;
  }
  if (probe.res.status !== 206) {
    await probe.res.body?.cancel();
    throw fail(`HTTP ${probe.res.status}`, probe.res);
  }
  const [first, , size] = range(probe.res);
  if (first !== 0) {
    await probe.res.body?.cancel();
    throw fail(`asked for bytes from 0, it sent from ${first}`);
  }
  // One buffer for every window: fresh memory is slow to touch (page faults).
  const buffer = new Uint8Array(Math.min(windowBytes, size));
  let window = { start: 0, bytes: buffer.subarray(0, await body(probe, buffer)) };

  /** One Range request into `into` from `position`, checked against what was asked. */
  const fetchInto = async (into: Uint8Array, position: number): Promise<number> => {
    const end = Math.min(size, position + into.length);
    if (end <= position) return 0;
    const r = await get(position, end);
    if (r.res.status !== 206) {
      await r.res.body?.cancel();
      throw fail(`HTTP ${r.res.status} for bytes ${position}-${end - 1}`, r.res);
    }
    const [start, stop] = range(r.res);
    if (start !== position || stop !== end) {
      await r.res.body?.cancel();
      throw fail(`asked for bytes ${position}-${end - 1}, it sent ${start}-${stop - 1}`);
    }
    const n = await body(r, into.subarray(0, end - position));
    if (n !== end - position) throw fail(`bytes ${position}-${end - 1} came ${n} bytes short`);
    return n;
  };

  return {
    size,
    async read(into, position) {
      const inWindow = position >= window.start &&
        position + into.length <= window.start + window.bytes.length;
      if (!inWindow && into.length >= windowBytes) return await fetchInto(into, position);
      if (!inWindow) {
        const bytes = buffer.subarray(0, Math.max(0, Math.min(windowBytes, size - position)));
        // Emptied first: a failed fetch must not leave the old window over half-new bytes.
        window = { start: 0, bytes: buffer.subarray(0, 0) };
        window = { start: position, bytes: bytes.subarray(0, await fetchInto(bytes, position)) };
      }
      const part = window.bytes.subarray(
        position - window.start,
        Math.min(window.bytes.length, position - window.start + into.length),
      );
      into.set(part);
      return part.length;
    },
  };
}
