/**
 * Every operator the engine runs, by ONNX type. One import per op file; each file exports
 * `ops: Op[]`. A test checks that every op file under engine/ops/ is listed here.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { ops as averagePool } from "./average_pool.ts";
import { ops as cast } from "./cast.ts";
import { ops as concat } from "./concat.ts";
import { ops as conv } from "./conv.ts";
import { ops as convTranspose } from "./conv_transpose.ts";
import { ops as depthToSpace } from "./depth_to_space.ts";
import { ops as expand } from "./expand.ts";
import { ops as gather } from "./gather.ts";
import { ops as globalPool } from "./global_pool.ts";
import { ops as matmul } from "./matmul.ts";
import { ops as maxPool } from "./max_pool.ts";
import { ops as nonZero } from "./non_zero.ts";
import { ops as pad } from "./pad.ts";
import { ops as reshape } from "./reshape.ts";
import { ops as resize } from "./resize.ts";
import { ops as shape } from "./shape.ts";
import { ops as slice } from "./slice.ts";
import { ops as split } from "./split.ts";
import { ops as tile } from "./tile.ts";
import { ops as topK } from "./top_k.ts";
import { ops as transpose } from "./transpose.ts";

const ALL: Op[][] = [
  averagePool,
  cast,
  concat,
  conv,
  convTranspose,
  depthToSpace,
  expand,
  gather,
  globalPool,
  matmul,
  maxPool,
  nonZero,
  pad,
  reshape,
  resize,
  shape,
  slice,
  split,
  tile,
  topK,
  transpose,
];

/** Operator implementations by type. */
export const REGISTRY: ReadonlyMap<string, Op> = new Map(
  ALL.flat().map((op) => [op.type, op] as const),
);
