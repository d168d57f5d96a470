/**
 * The packing entry point of the public API, loaded on first use: most apps only load and run
 * models, so the packer (ONNX rewriting, bit masks, float16) stays out of their download.
 *
 * @module
 */
import type { PackOptions, PackResult } from "./pack.ts";

/**
 * Packs an ONNX model into a Quartet sparse package: each weight with at least a quarter zeros
 * as a bit mask plus its non-zeros (optionally float16). The input bytes are not modified.
 * `loadModel` reads the package like an ONNX file (bytes, path or URL). Given a safetensors
 * file (a Mamba checkpoint's `model.safetensors`, e.g. from `pruneMamba`), it packs that
 * instead: saved as `model.qsp` beside the checkpoint's config.json, `loadMamba` reads it.
 * Asynchronous because the packer loads on first use.
 *
 * @example
 * ```ts ignore
 * const pruned = await pruneOnnx(onnxBytes, { scheme: "c4n:2", calibration });
 * const { bytes, tensors } = await packSparseModel(pruned.bytes, { float16: true });
 * await Deno.writeFile("model.qsp", bytes);
 * const model = await loadModel("model.qsp");
 * ```
 */
export async function packSparseModel(
  model: Uint8Array,
  options: PackOptions = {},
): Promise<PackResult> {
  const packer = await import("./pack.ts");
  return packer.isSafetensors(model)
    ? packer.packSafetensors(model, options)
    : packer.packSparseModel(model, options);
}
