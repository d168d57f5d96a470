/**
 * The pruning entry point of the public API, loaded on first use: most apps only run models,
 * so the pruner (calibration, least-squares refit, the ONNX writer) stays out of their
 * download until they prune.
 *
 * @module
 */
import type { Model as IrModel } from "../ir/graph.ts";
import type { PruneModelResult, PruneOptions, PruneResult } from "./prune.ts";
import type { PruneTfjsResult } from "./prune_tfjs.ts";
import type { MambaFiles, PruneMambaOptions, PruneMambaResult } from "./mamba.ts";

/**
 * Prunes the Conv / MatMul / Gemm / LSTM weights of an ONNX model to C4n, pattern or block
 * sparsity, including layers inside If branches, with a least-squares refit from calibration
 * inputs. The input bytes are never modified; the result is a new ONNX file (pack it with
 * `packSparseModel` to ship it small).
 *
 * @example
 * ```ts ignore
 * const { bytes, layers } = await pruneOnnx(await Deno.readFile("silero_vad_v5.onnx"), {
 *   scheme: "c4n:2",
 *   calibration: chunks.map((input) => ({ input, sr, state })),
 *   carry: { stateN: "state" },
 * });
 * console.log(pruneReportMarkdown(layers));
 * ```
 */
export async function pruneOnnx(bytes: Uint8Array, options: PruneOptions): Promise<PruneResult> {
  const pruner = await import("./prune.ts");
  return pruner.pruneOnnx(bytes, options);
}

/**
 * Prunes an in-memory IR model (a TF.js layers model from `loadTfjsLayers`, or one built in
 * code) as `pruneOnnx` prunes an ONNX file. The input model is never modified; `loadModel`
 * takes the result directly.
 *
 * @example
 * ```ts ignore
 * const dense = await loadTfjsLayers("esrgan-slim/x2/model.json");
 * const { model, layers } = await pruneModel(dense, { scheme: "c4n:2", calibration });
 * const sparse = await loadModel(model);
 * ```
 */
export async function pruneModel(
  model: IrModel,
  options: PruneOptions,
): Promise<PruneModelResult> {
  const pruner = await import("./prune.ts");
  return pruner.pruneModel(model, options);
}

/**
 * Prunes a TensorFlow.js layers model (`model.json` path or URL, weight shards beside it) as
 * `pruneOnnx` prunes an ONNX file, and returns it as a new layers model: the original
 * topology with a new manifest, and one float32 weight shard (`shardName`, default
 * "group1-shard1of1.bin") to write beside the new model.json. Calibration feeds are keyed by
 * input layer name, in the model's NHWC layout. Both TensorFlow.js and `loadModel` read the
 * result.
 *
 * @example
 * ```ts ignore
 * const r = await pruneTfjs("esrgan-slim/x2/model.json", { scheme: "c4n:2", calibration });
 * await Deno.writeTextFile("pruned/model.json", r.modelJson);
 * await Deno.writeFile(`pruned/${r.shardName}`, r.shard);
 * const model = await loadModel("pruned/model.json");
 * ```
 */
export async function pruneTfjs(
  modelJson: string | URL,
  options: PruneOptions & { shardName?: string },
): Promise<PruneTfjsResult> {
  const pruner = await import("./prune_tfjs.ts");
  return pruner.pruneTfjs(modelJson, options);
}

/**
 * Prunes a Hugging Face Mamba-1 checkpoint (config.json + safetensors, from `readMambaFiles`)
 * to C4n sparsity: the in / x / dt / out projections of every block, and optionally an untied
 * LM head. With calibration token sequences the masks are activation-aware and the survivors
 * refitted. The result is one standard safetensors file with zeros, in the stored dtype.
 *
 * @example
 * ```ts ignore
 * const input = await readMambaFiles("checkpoints/mamba-130m-hf");
 * const { files, layers } = await pruneMamba(input, { scheme: "c4n:2" });
 * await Deno.writeFile("pruned/model.safetensors", files["model.safetensors"]);
 * console.log(pruneReportMarkdown(layers));
 * ```
 */
export async function pruneMamba(
  input: MambaFiles,
  options: PruneMambaOptions,
): Promise<PruneMambaResult> {
  const pruner = await import("./mamba.ts");
  return pruner.pruneMamba(input, options);
}

/**
 * Reads a Mamba checkpoint's config.json and safetensors file(s) (sharded too) from a
 * directory or base URL, as `pruneMamba` takes them.
 *
 * @example
 * ```ts ignore
 * const input = await readMambaFiles("tests/fixtures/mamba");
 * ```
 */
export async function readMambaFiles(source: string): Promise<MambaFiles> {
  const pruner = await import("./mamba.ts");
  return pruner.readMambaFiles(source);
}
