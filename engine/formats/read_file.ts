/**
 * Reads a local model file (a path or a file: URL) for `readSource`, in Deno, Node and Bun.
 * Its own module, loaded on first use: browsers and workers only fetch URLs and do not
 * download it.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";

/** Why a directory given as a file is refused (`readFile`, `openFileRanges`). */
export const DIRECTORY_GIVEN =
  "It is a directory, not a file (a Mamba checkpoint directory loads with loadMamba, " +
  "or cli.ts generate / info)";

/** The parts of Deno's file API `readFile` uses (absent in Node and Bun). */
interface DenoFiles {
  open(path: string | URL): Promise<{
    stat(): Promise<{ isFile: boolean; isDirectory: boolean; size: number }>;
    read(into: Uint8Array): Promise<number | null>;
    close(): void;
  }>;
  readFile(path: string | URL): Promise<Uint8Array>;
}

/**
 * A file's bytes, from a path or a file: URL, refused past `maxBytes`; `what` names it in
 * errors. In Deno a regular file is read straight into a buffer of its size: `Deno.readFile`
 * took 3.4 s for a 516 MB checkpoint here, against 1.4 s (it grows its buffer as it reads,
 * then copies it, touching the memory about three times).
 */
export async function readFile(
  path: string | URL,
  what: string,
  maxBytes: number,
): Promise<Uint8Array> {
  try {
    const deno = (globalThis as { Deno?: DenoFiles }).Deno;
    if (!deno) {
      // Node and Bun: no Deno namespace, and their fetch cannot read file: URLs.
      const fs = await import("node:fs/promises");
      return new Uint8Array(await fs.readFile(path));
    }
    const file = await deno.open(path);
    try {
      const info = await file.stat();
      if (info.isDirectory) throw new Error(DIRECTORY_GIVEN);
      // Not a regular file (a pipe, a device): its size says nothing.
      if (!info.isFile) return await deno.readFile(path);
      if (info.size > maxBytes) {
        throw new Error(
          `It has ${info.size} bytes, more than a model can use (${maxBytes} bytes)`,
        );
      }
      const bytes = new Uint8Array(info.size);
      let at = 0;
      while (at < bytes.length) {
        const n = await file.read(bytes.subarray(at));
        if (n === null) break;
        at += n;
      }
      // The file changed while it was read: read it again as it is now.
      if (at !== bytes.length || (await file.read(new Uint8Array(1))) !== null) {
        return await deno.readFile(path);
      }
      return bytes;
    } finally {
      file.close();
    }
  } catch (cause) {
    throw new ModelFormatError(`Cannot read ${what} "${path}": ${(cause as Error).message}`, {
      cause,
    });
  }
}
