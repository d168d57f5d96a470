/**
 * Reads model files from a path or a URL, in Deno, Node and browsers, with typed errors that
 * name what failed. One place for every loader (ONNX, external data, TF.js, safetensors).
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The bytes of a file given by path or URL; `what` names it in errors ("model", …). */
export async function readSource(source: string | URL, what = "model"): Promise<Uint8Array> {
  const url = source instanceof URL ? source : URL_LIKE.test(source) ? new URL(source) : undefined;
  if (url && url.protocol !== "file:") {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (cause) {
      throw new ModelFormatError(`Cannot fetch ${what} "${url}": ${cause}`, { cause });
    }
    if (!res.ok) throw new ModelFormatError(`Cannot fetch ${what} "${url}": HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const path = url ?? source;
  try {
    const deno = (globalThis as { Deno?: { readFile(p: string | URL): Promise<Uint8Array> } })
      .Deno;
    if (deno) return await deno.readFile(path);
    // Node and Bun: no Deno namespace, and their fetch cannot read file: URLs.
    const fs = await import("node:fs/promises");
    return new Uint8Array(await fs.readFile(path));
  } catch (cause) {
    throw new ModelFormatError(`Cannot read ${what} "${path}": ${(cause as Error).message}`, {
      cause,
    });
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
