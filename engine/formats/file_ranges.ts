/**
 * A local file opened for reads at any position (node:fs, in Deno, Node and Bun), so a loader
 * can take the parts it needs when it needs them instead of holding the whole file. Its own
 * module, loaded on first use: browsers and workers only fetch URLs and do not download it.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import { DIRECTORY_GIVEN } from "./read_file.ts";

/** An open local file. */
export interface FileRanges {
  /** Its size in bytes when it was opened. */
  size: number;
  /**
   * Fills `into` from byte `position` on; returns the bytes read, fewer than asked only at the
   * end of the file.
   */
  readAt(into: Uint8Array, position: number): number;
  /** Closes the file (once; later calls do nothing). */
  close(): void;
}

/**
 * Opens a regular file (a path or a file: URL) for positional reads; `what` names it in
 * errors, which are ModelFormatErrors carrying the system error as their cause (a missing
 * file's has code "ENOENT").
 */
export async function openFileRanges(path: string | URL, what: string): Promise<FileRanges> {
  const fail = (cause: unknown) =>
    new ModelFormatError(`Cannot read ${what} "${path}": ${(cause as Error).message}`, { cause });
  let fs: typeof import("node:fs");
  let fd: number;
  try {
    fs = await import("node:fs");
    fd = fs.openSync(path, "r");
  } catch (cause) {
    throw fail(cause);
  }
  let open = true;
  const close = () => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  try {
    const info = fs.fstatSync(fd);
    if (info.isDirectory()) throw new Error(DIRECTORY_GIVEN);
    if (!info.isFile()) throw new Error("It is not a regular file");
    return {
      size: info.size,
      readAt(into, position) {
        if (!open) throw fail(new Error("It was closed"));
        let at = 0;
        try {
          while (at < into.length) {
            const n = fs.readSync(fd, into, at, into.length - at, position + at);
            if (n === 0) break;
            at += n;
          }
        } catch (cause) {
          throw fail(cause);
        }
        return at;
      },
      close,
    };
  } catch (cause) {
    close();
    throw fail(cause);
  }
}
