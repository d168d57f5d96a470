/**
 * IR weights → a TensorFlow.js layers model again: the original `model.json` topology with a
 * new weight manifest and one float32 shard, so a model pruned in the IR (`pruneTfjs`) runs
 * in TensorFlow.js itself and in any tool that reads the format. The inverse of the weight
 * conversion in layers.ts: OIHW conv kernels go back to Keras's HWIO (HW·C·M for depthwise).
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import type { Model } from "../../ir/graph.ts";
import type { Tensor } from "../../tensor.ts";
import { forEachKernelIndex } from "./layers.ts";

/** A TF.js layers model as the two files it needs. */
export interface TfjsLayersFiles {
  /** The `model.json` text; its manifest names `shardName`. */
  modelJson: string;
  /** File name of the weight shard, beside model.json. */
  shardName: string;
  /** Every weight, float32 little-endian, in manifest order. */
  shard: Uint8Array;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/**
 * The Keras layout of a weight from the IR tensor the importer made of it: `kernel` and
 * `depthwise_kernel` from `<layer>/weight` (OIHW), `bias` from `<layer>/b`.
 */
function kerasWeight(model: Model, spec: WeightSpec): Float32Array {
  const slash = spec.name.lastIndexOf("/");
  const [layer, kind] = [spec.name.slice(0, slash), spec.name.slice(slash + 1)];
  const ir = kind === "bias" ? `${layer}/b` : `${layer}/weight`;
  const t: Tensor | undefined = model.graph.initializers.get(ir);
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (!t || t.type !== "float32" || t.size !== size) {
    throw new ModelFormatError(
      `Cannot write TF.js weight "${spec.name}": the model has no float32 tensor "${ir}" of ` +
        `${size} values (${t ? `it has ${t.type} [${t.dims.join(", ")}]` : "none"}); write ` +
        `only models that came from this model.json`,
    );
  }
  const src = t.data as Float32Array;
  if (kind === "bias") return src;
  if (kind !== "kernel" && kind !== "depthwise_kernel") {
    throw new ModelFormatError(
      `Cannot write TF.js weight "${spec.name}": "${kind}" weights are not imported, so ` +
        `there is nothing to write them from`,
    );
  }
  const out = new Float32Array(size);
  forEachKernelIndex(spec.shape, kind === "depthwise_kernel", (keras, oihw) => {
    out[keras] = src[oihw];
  });
  return out;
}

/**
 * Writes the weights of `model` (imported from `original` by `decodeTfjsLayers`, then changed
 * in place of its tensors, e.g. pruned) as a TF.js layers model. The topology and every
 * other field of `original` are kept; the manifest becomes one group of float32 weights in
 * one shard, in the original order, so quantized inputs come out as float32.
 *
 * @example
 * ```ts ignore
 * const original = JSON.parse(await Deno.readTextFile("x2/model.json"));
 * const files = encodeTfjsLayers(original, prunedIr);
 * await Deno.writeTextFile("out/model.json", files.modelJson);
 * await Deno.writeFile(`out/${files.shardName}`, files.shard);
 * ```
 */
export function encodeTfjsLayers(
  original: unknown,
  model: Model,
  shardName = "group1-shard1of1.bin",
): TfjsLayersFiles {
  const json = original as { weightsManifest?: { weights: WeightSpec[] }[] };
  if (!Array.isArray(json?.weightsManifest)) {
    throw new ModelFormatError(
      "Cannot write a TF.js model: the original model.json has no weightsManifest",
    );
  }
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const values = specs.map((s) => kerasWeight(model, s));
  const shard = new Uint8Array(values.reduce((n, v) => n + v.byteLength, 0));
  let at = 0;
  for (const v of values) {
    shard.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    at += v.byteLength;
  }
  const manifest = [{
    paths: [shardName],
    weights: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: "float32" })),
  }];
  return { modelJson: JSON.stringify({ ...json, weightsManifest: manifest }), shardName, shard };
}
