/**
 * Every operator the engine runs, by ONNX type. One import per op file; each file exports
 * `ops: Op[]`. A test checks that every op file under engine/ops/ is listed here.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { ops as averagePool } from "./average_pool.ts";
import { ops as batchNormalization } from "./batch_normalization.ts";
import { ops as binary } from "./binary.ts";
import { ops as cast } from "./cast.ts";
import { ops as causalConv1D } from "./causal_conv1d.ts";
import { ops as comparison } from "./comparison.ts";
import { ops as concat } from "./concat.ts";
import { ops as conv } from "./conv.ts";
import { ops as convTranspose } from "./conv_transpose.ts";
import { ops as depthToSpace } from "./depth_to_space.ts";
import { ops as expand } from "./expand.ts";
import { ops as gather } from "./gather.ts";
import { ops as globalPool } from "./global_pool.ts";
import { ops as groupNormalization } from "./group_normalization.ts";
import { ops as gru } from "./gru.ts";
import { ops as layerNormalization } from "./layer_normalization.ts";
import { ops as logical } from "./logical.ts";
import { ops as lstm } from "./lstm.ts";
import { ops as matmul } from "./matmul.ts";
import { ops as maxPool } from "./max_pool.ts";
import { ops as nonZero } from "./non_zero.ts";
import { ops as pad } from "./pad.ts";
import { ops as reduce } from "./reduce.ts";
import { ops as reshape } from "./reshape.ts";
import { ops as resize } from "./resize.ts";
import { ops as rnn } from "./rnn.ts";
import { ops as selectiveScan } from "./selective_scan.ts";
import { ops as shape } from "./shape.ts";
import { ops as slice } from "./slice.ts";
import { ops as softmax } from "./softmax.ts";
import { ops as split } from "./split.ts";
import { ops as tile } from "./tile.ts";
import { ops as topK } from "./top_k.ts";
import { ops as transpose } from "./transpose.ts";
import { ops as unary } from "./unary.ts";
import { ops as where } from "./where.ts";

const ALL: Op[][] = [
  averagePool,
  batchNormalization,
  binary,
  cast,
  causalConv1D,
  comparison,
  concat,
  conv,
  convTranspose,
  depthToSpace,
  expand,
  gather,
  globalPool,
  groupNormalization,
  gru,
  layerNormalization,
  logical,
  lstm,
  matmul,
  maxPool,
  nonZero,
  pad,
  reduce,
  reshape,
  resize,
  rnn,
  selectiveScan,
  shape,
  slice,
  softmax,
  split,
  tile,
  topK,
  transpose,
  unary,
  where,
];

/** Operator implementations by type. */
export const REGISTRY: ReadonlyMap<string, Op> = new Map(
  ALL.flat().map((op) => [op.type, op] as const),
);
