/**
 * Every operator the engine runs, by ONNX type, and the file that implements it. Op files load
 * on first use: `loadOps` imports just the files a model needs, so a bundle downloads only the
 * operators its models run (each op file is its own chunk). A test checks that every op file
 * under engine/ops/ is listed here and that each type maps to the file that defines it.
 *
 * @module
 */
import { KernelLoadError } from "../errors.ts";
import type { Op } from "./op.ts";

/** The op files (in engine/ops/); each exports `ops: Op[]`. */
const FILES: Record<string, () => Promise<{ ops: Op[] }>> = {
  "average_pool.ts": () => import("./average_pool.ts"),
  "batch_normalization.ts": () => import("./batch_normalization.ts"),
  "binary.ts": () => import("./binary.ts"),
  "cast.ts": () => import("./cast.ts"),
  "causal_conv1d.ts": () => import("./causal_conv1d.ts"),
  "comparison.ts": () => import("./comparison.ts"),
  "concat.ts": () => import("./concat.ts"),
  "conv.ts": () => import("./conv.ts"),
  "conv_transpose.ts": () => import("./conv_transpose.ts"),
  "depth_to_space.ts": () => import("./depth_to_space.ts"),
  "expand.ts": () => import("./expand.ts"),
  "gather.ts": () => import("./gather.ts"),
  "global_pool.ts": () => import("./global_pool.ts"),
  "group_normalization.ts": () => import("./group_normalization.ts"),
  "gru.ts": () => import("./gru.ts"),
  "layer_normalization.ts": () => import("./layer_normalization.ts"),
  "logical.ts": () => import("./logical.ts"),
  "lstm.ts": () => import("./lstm.ts"),
  "matmul.ts": () => import("./matmul.ts"),
  "max_pool.ts": () => import("./max_pool.ts"),
  "non_zero.ts": () => import("./non_zero.ts"),
  "pad.ts": () => import("./pad.ts"),
  "reduce.ts": () => import("./reduce.ts"),
  "reshape.ts": () => import("./reshape.ts"),
  "resize.ts": () => import("./resize.ts"),
  "rnn.ts": () => import("./rnn.ts"),
  "selective_scan.ts": () => import("./selective_scan.ts"),
  "shape.ts": () => import("./shape.ts"),
  "slice.ts": () => import("./slice.ts"),
  "softmax.ts": () => import("./softmax.ts"),
  "split.ts": () => import("./split.ts"),
  "tile.ts": () => import("./tile.ts"),
  "top_k.ts": () => import("./top_k.ts"),
  "transpose.ts": () => import("./transpose.ts"),
  "unary.ts": () => import("./unary.ts"),
  "where.ts": () => import("./where.ts"),
};

/** The file of each op type. */
const FILE_OF: Record<string, string> = {
  Abs: "unary.ts",
  Add: "binary.ts",
  And: "logical.ts",
  ArgMax: "reduce.ts",
  ArgMin: "reduce.ts",
  AveragePool: "average_pool.ts",
  BatchNormalization: "batch_normalization.ts",
  Cast: "cast.ts",
  CastLike: "cast.ts",
  CausalConv1d: "causal_conv1d.ts",
  Ceil: "unary.ts",
  Clip: "unary.ts",
  Concat: "concat.ts",
  Constant: "shape.ts",
  ConstantOfShape: "shape.ts",
  Conv: "conv.ts",
  ConvTranspose: "conv_transpose.ts",
  Cos: "unary.ts",
  DepthToSpace: "depth_to_space.ts",
  Div: "binary.ts",
  Dropout: "reshape.ts",
  Elu: "unary.ts",
  Equal: "comparison.ts",
  Erf: "unary.ts",
  Exp: "unary.ts",
  Expand: "expand.ts",
  Flatten: "reshape.ts",
  Floor: "unary.ts",
  Gather: "gather.ts",
  GatherElements: "gather.ts",
  Gelu: "unary.ts",
  Gemm: "matmul.ts",
  GlobalAveragePool: "global_pool.ts",
  GlobalMaxPool: "global_pool.ts",
  Greater: "comparison.ts",
  GreaterOrEqual: "comparison.ts",
  GroupNormalization: "group_normalization.ts",
  GRU: "gru.ts",
  HardSigmoid: "unary.ts",
  HardSwish: "unary.ts",
  Identity: "reshape.ts",
  InstanceNormalization: "group_normalization.ts",
  LayerNormalization: "layer_normalization.ts",
  LeakyRelu: "unary.ts",
  Less: "comparison.ts",
  LessOrEqual: "comparison.ts",
  Log: "unary.ts",
  LogSoftmax: "softmax.ts",
  LSTM: "lstm.ts",
  MatMul: "matmul.ts",
  Max: "binary.ts",
  MaxPool: "max_pool.ts",
  Mean: "binary.ts",
  Min: "binary.ts",
  Mish: "unary.ts",
  Mod: "binary.ts",
  Mul: "binary.ts",
  Neg: "unary.ts",
  NonZero: "non_zero.ts",
  Not: "logical.ts",
  Or: "logical.ts",
  Pad: "pad.ts",
  Pow: "binary.ts",
  PRelu: "binary.ts",
  Range: "shape.ts",
  Reciprocal: "unary.ts",
  ReduceL1: "reduce.ts",
  ReduceL2: "reduce.ts",
  ReduceLogSum: "reduce.ts",
  ReduceLogSumExp: "reduce.ts",
  ReduceMax: "reduce.ts",
  ReduceMean: "reduce.ts",
  ReduceMin: "reduce.ts",
  ReduceProd: "reduce.ts",
  ReduceSum: "reduce.ts",
  ReduceSumSquare: "reduce.ts",
  Relu: "unary.ts",
  Reshape: "reshape.ts",
  Resize: "resize.ts",
  RMSNormalization: "layer_normalization.ts",
  RNN: "rnn.ts",
  Round: "unary.ts",
  SelectiveScan: "selective_scan.ts",
  Selu: "unary.ts",
  Shape: "shape.ts",
  Sigmoid: "unary.ts",
  Sign: "unary.ts",
  Silu: "unary.ts",
  Sin: "unary.ts",
  Size: "shape.ts",
  Slice: "slice.ts",
  Softmax: "softmax.ts",
  Softplus: "unary.ts",
  Softsign: "unary.ts",
  SpaceToDepth: "depth_to_space.ts",
  Split: "split.ts",
  Sqrt: "unary.ts",
  Squeeze: "reshape.ts",
  Sub: "binary.ts",
  Sum: "binary.ts",
  Tanh: "unary.ts",
  Tile: "tile.ts",
  TopK: "top_k.ts",
  Transpose: "transpose.ts",
  Unsqueeze: "reshape.ts",
  Upsample: "resize.ts",
  Where: "where.ts",
  Xor: "logical.ts",
};

/** Every op type the engine implements (If runs in the executor). */
export const OP_TYPES: readonly string[] = Object.keys(FILE_OF);

/**
 * Loads the implementations of `types`, each op file once, all in parallel. Types the engine
 * does not implement are skipped (the executor reports them all at once, with node names).
 * The map may hold more ops than asked for: those of the same files.
 */
export async function loadOps(types: Iterable<string>): Promise<Map<string, Op>> {
  const modules = await Promise.all(
    opFiles(types).map(async (f) => {
      try {
        return await FILES[f]();
      } catch (cause) {
        // A bundle's op chunk that did not download (offline, a partial deploy).
        throw new KernelLoadError(
          `Cannot load the operator file ${f}: ${(cause as Error).message}; check that the ` +
            `engine's files are all served next to quartet.mjs`,
          { cause },
        );
      }
    }),
  );
  return new Map(modules.flatMap((m) => m.ops.map((op) => [op.type, op] as const)));
}

/** The files in engine/ops/ that implement `types` (unknown types skipped), each once. */
export function opFiles(types: Iterable<string>): string[] {
  const files = new Set<string>();
  for (const type of types) if (Object.hasOwn(FILE_OF, type)) files.add(FILE_OF[type]);
  return [...files];
}

/** Every op, loaded: for the support table and tests. */
export function loadAllOps(): Promise<Map<string, Op>> {
  return loadOps(OP_TYPES);
}
