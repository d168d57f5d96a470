/**
 * Every operator the engine runs, by ONNX type. One import per op file; each file exports
 * `ops: Op[]`.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { ops as matmul } from "./matmul.ts";

const ALL: Op[][] = [matmul];

/** Operator implementations by type. */
export const REGISTRY: ReadonlyMap<string, Op> = new Map(
  ALL.flat().map((op) => [op.type, op] as const),
);
