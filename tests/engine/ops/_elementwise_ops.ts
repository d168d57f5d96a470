/** Every op of the elementwise / reduction / normalisation files, by type, for the op tests. */
import type { Op } from "../../../engine/ops/op.ts";
import { ops as batchNorm } from "../../../engine/ops/batch_normalization.ts";
import { ops as binary } from "../../../engine/ops/binary.ts";
import { ops as comparison } from "../../../engine/ops/comparison.ts";
import { ops as groupNorm } from "../../../engine/ops/group_normalization.ts";
import { ops as layerNorm } from "../../../engine/ops/layer_normalization.ts";
import { ops as logical } from "../../../engine/ops/logical.ts";
import { ops as reduce } from "../../../engine/ops/reduce.ts";
import { ops as softmax } from "../../../engine/ops/softmax.ts";
import { ops as unary } from "../../../engine/ops/unary.ts";
import { ops as where } from "../../../engine/ops/where.ts";

/** The ops by type. */
export const REGISTRY_FOR_TESTS: ReadonlyMap<string, Op> = new Map(
  [unary, binary, comparison, logical, where, softmax, reduce, batchNorm, layerNorm, groupNorm]
    .flat()
    .map((op) => [op.type, op]),
);
