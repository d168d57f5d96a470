/**
 * Reads model files from a path or a URL, in Deno, Node and browsers, with typed errors that
 * name what failed. One place for every loader (ONNX, external data, TF.js, safetensors).
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Largest file read (a Wasm memory holds at most 4 GiB, so no model can use more). */
const MAX_BYTES = 2 ** 32;

/** A download that sends nothing for this long is given up (milliseconds). */
const STALL_MS = 30_000;

/** How `readSource` reads URLs. */
export interface ReadOptions {
  /** Give up when no byte arrives for this long (milliseconds; default 30 s). */
  stallMs?: number;
}

/**
 * The bytes of a file given by path or URL; `what` names it in errors ("model", …). A URL's
 * body is read with a bound on its size (4 GiB) and on silence (30 s without a byte): a
 * server that stalls, lies about the length or cuts the connection gives a ModelFormatError.
 */
export async function readSource(
  source: string | URL,
  what = "model",
  options: ReadOptions = {},
): Promise<Uint8Array> {
  const local = localPath(source);
  const bytes = local
    ? await (await import("./read_file.ts")).readFile(local, what, MAX_BYTES)
    : await download(new URL(source), what, options.stallMs ?? STALL_MS);
  if (isHtmlPage(bytes)) {
    throw new ModelFormatError(
      `The ${what} "${source}" is an HTML page, not the file: a link to a web page that shows ` +
        `the file (on GitHub, Hugging Face, a file host) instead of its raw download URL?`,
    );
  }
  return bytes;
}

/** The local file `source` names (a path, or a file: URL as a URL); undefined for a download. */
export function localPath(source: string | URL): string | URL | undefined {
  const url = source instanceof URL ? source : URL_LIKE.test(source) ? new URL(source) : undefined;
  return !url ? source : url.protocol === "file:" ? url : undefined;
}

/** Whether the bytes start like an HTML document (no model file, weight or JSON file does). */
function isHtmlPage(bytes: Uint8Array): boolean {
  const head = String.fromCharCode(...bytes.subarray(0, 64)).replace(/^\xEF\xBB\xBF/, "")
    .trimStart();
  return /^<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i.test(head);
}

/** Fetches a URL's body chunk by chunk, bounded in size and in silence. */
async function download(url: URL, what: string, stallMs: number): Promise<Uint8Array> {
  const abort = new AbortController();
  const fail = (detail: string, cause?: unknown) => {
    abort.abort();
    return new ModelFormatError(`Cannot fetch ${what} "${url}": ${detail}`, { cause });
  };
  const inTime = stallGuard(
    stallMs,
    () => new ModelFormatError(`Cannot fetch ${what} "${url}": no data for ${stallMs / 1000} s`),
    abort,
  );
  let res: Response;
  try {
    res = await inTime(fetch(url, { signal: abort.signal }));
  } catch (cause) {
    throw cause instanceof ModelFormatError ? cause : fail(String(cause), cause);
  }
  if (!res.ok) throw fail(`HTTP ${res.status}`, res);
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > MAX_BYTES) throw fail(`it declares ${declared} bytes, more than ${MAX_BYTES}`);
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await inTime(reader.read());
      if (done) break;
      total += value.length;
      if (total > MAX_BYTES) throw fail(`it sends more than ${MAX_BYTES} bytes`);
      parts.push(value);
    }
  } catch (cause) {
    if (cause instanceof ModelFormatError) throw cause;
    throw fail(`the connection failed after ${total} bytes (${(cause as Error).message})`, cause);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Wraps each step of a download (the response, each read of its body) so that it rejects with
 * `failure()` when nothing comes for `stallMs`, and then aborts the request through `abort`.
 */
export function stallGuard(
  stallMs: number,
  failure: () => Error,
  abort: AbortController,
): <T>(step: Promise<T>) => Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (step) =>
    Promise.race([
      step,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Rejected before the abort, whose own rejection of the pending read would win.
          reject(failure());
          abort.abort();
        }, stallMs);
      }),
    ]).finally(() => clearTimeout(timer));
}

/**
 * Whether `readSource` failed because the file is not there (not found on disk, HTTP 404):
 * what an optional file may do. Any other failure (a server error, a cut connection) is one
 * to report.
 */
export function isMissingSource(e: unknown): boolean {
  if (!(e instanceof ModelFormatError)) return false;
  const cause = e.cause as { code?: string; name?: string; status?: number } | undefined;
  return cause?.status === 404 || cause?.name === "NotFound" || cause?.code === "ENOENT";
}

/**
 * Throws unless `name` (a file a model names beside itself: external data, weight shards)
 * stays beside it: no parent directory, no root, no other host or scheme.
 */
export function checkBesideName(name: string, what: string): void {
  if (name.split(/[/\\]/).includes("..") || /^([/\\]|[a-z][a-z0-9+.-]*:)/i.test(name)) {
    throw new ModelFormatError(`${what} "${name}" must stay beside the model`);
  }
}

/** The file `name` in the same directory as the file `source` (path or URL). */
export function siblingSource(source: string | URL, name: string): string | URL {
  if (source instanceof URL || URL_LIKE.test(source)) return new URL(name, source);
  return source.replace(/[^/\\]*$/, "") + name;
}

/** The file `name` inside the directory `dir` (path or URL). */
export function childSource(dir: string | URL, name: string): string | URL {
  const d = String(dir);
  return siblingSource(d.endsWith("/") ? dir : `${d}/`, name);
}
