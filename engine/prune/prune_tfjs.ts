/**
 * Pruning a TensorFlow.js layers model end to end: model.json in, model.json + one weight
 * shard out, pruned in the IR on the way (`pruneModel`), so the result runs in TensorFlow.js
 * as well as in Quartet.
 *
 * @module
 */
import { decodeTfjsLayers, readTfjsModelJson, siblingShards } from "../formats/tfjs/layers.ts";
import { encodeTfjsLayers, type TfjsLayersFiles } from "../formats/tfjs/write.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkPruneOptions, pruneModel, type PruneOptions } from "./prune.ts";
import type { LayerReport } from "./report.ts";

/** A pruned TF.js layers model (write both files side by side) and the per-layer report. */
export interface PruneTfjsResult extends TfjsLayersFiles {
  /** One row per weight layer considered. */
  layers: LayerReport[];
}

/**
 * Prunes the conv weights of the TF.js layers model at `modelJson` (path or URL, shards
 * beside it). Calibration feeds are keyed by the model's input layer names, in the model's
 * own NHWC layout. Weights are written as float32 even when the original was quantized.
 */
export async function pruneTfjs(
  modelJson: string | URL,
  options: PruneOptions & { shardName?: string },
): Promise<PruneTfjsResult> {
  checkPruneOptions(options, "pruneTfjs()", ["shardName"]);
  const { shardName, ...pruning } = options;
  // The shard is written beside model.json: a plain file name.
  if (shardName !== undefined && (!/^[^/\\]+$/.test(shardName) || shardName === "..")) {
    throw new InvalidArgumentError(
      `The shardName option must be a plain file name, not ${JSON.stringify(shardName)}`,
    );
  }
  const original = await readTfjsModelJson(modelJson);
  const dense = await decodeTfjsLayers(original, siblingShards(modelJson));
  const { model, layers } = await pruneModel(dense, pruning);
  return { ...encodeTfjsLayers(original, model, shardName), layers };
}
