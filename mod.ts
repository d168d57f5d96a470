/**
 * Quartet: run pruned neural networks fast on the web and at the edge, with WebAssembly SIMD
 * kernels for dense and sparse (C4n, pattern, block) weights.
 *
 * @example Multiply two matrices
 * ```ts
 * import { init, Tensor } from "./mod.ts";
 * const q = await init();
 * const a = new Tensor("float32", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const b = new Tensor("float32", new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
 * const c = q.matmul(a, b, { activation: "clamp", p0: 0, p1: 6 });
 * console.log(c.dims, c.data); // [2, 2] Float32Array [4, 5, 6, 6]
 * q.dispose();
 * ```
 *
 * @module
 */
export { init, Runtime } from "./engine/runtime.ts";
export type { InitOptions, MatMulOptions, RuntimeInfo } from "./engine/runtime.ts";
export { loadModel, Model } from "./engine/model.ts";
export type {
  LayerSummary,
  LoadModelOptions,
  ModelSource,
  ModelSummary,
  RunOptions,
  TensorInfo,
} from "./engine/model.ts";
export type { NodeProfile } from "./engine/executor.ts";
export { loadMamba, MambaModel } from "./engine/models/mamba/api.ts";
export { BYTE_TOKENIZER, tokenizerFromJson } from "./engine/models/mamba/tokenizer.ts";
export type { TextTokenizer } from "./engine/models/mamba/tokenizer.ts";
export { decodePng, encodePng, loadUpscaler, upscale } from "./engine/models/sr/api.ts";
export { SR_MODELS } from "./engine/models/sr/models.ts";
export type { UpscaleOptions, Upscaler, UpscaleResult } from "./engine/models/sr/upscale.ts";
export { pruneMamba, pruneOnnx, pruneTfjs, readMambaFiles } from "./engine/prune/api.ts";
export type { MambaFiles, PruneMambaOptions, PruneMambaResult } from "./engine/prune/mamba.ts";
export { pruneReportMarkdown, pruneReportSvg } from "./engine/prune/report.ts";
export type { LayerReport } from "./engine/prune/report.ts";
export type { PruneMask, PruneOptions, PruneResult } from "./engine/prune/prune.ts";
export type { PruneTfjsResult } from "./engine/prune/prune_tfjs.ts";
export type { TfjsLayersFiles } from "./engine/formats/tfjs/write.ts";
export { packSparseModel } from "./engine/formats/sparse_package/api.ts";
export type {
  PackedTensorReport,
  PackOptions,
  PackResult,
} from "./engine/formats/sparse_package/pack.ts";
export type { Image } from "./engine/models/sr/image.ts";
export type {
  GenerateOptions,
  GenerateStats,
  LoadMambaOptions,
  MambaConfig,
  MambaState,
  MambaSummary,
} from "./engine/models/mamba/mamba.ts";
export type {
  AttributeValue,
  Dim,
  Graph,
  Model as IrModel,
  Node,
  ValueInfo,
} from "./engine/ir/graph.ts";
export { Tensor } from "./engine/tensor.ts";
export type { DataTypeMap, DType } from "./engine/tensor.ts";
export type { KernelChoice, KernelVariant, ThreadInfo } from "./engine/wasm/kernels.ts";
export type { WasmFeatures } from "./engine/wasm/features.ts";
export { ACTIVATIONS } from "./kernels-as/activations.ts";
export type { Activation } from "./kernels-as/activations.ts";
export {
  DTypeError,
  InvalidArgumentError,
  KernelLoadError,
  ModelFormatError,
  OutOfMemoryError,
  QuartetError,
  ShapeError,
  ThreadError,
  UnsupportedOpError,
} from "./engine/errors.ts";
export type { UnsupportedNode } from "./engine/errors.ts";

/** The version of this release. */
export const VERSION = "0.1.0";
