/**
 * Runs one data op the way the executor will: inferShapes on infos (parameter inputs with
 * values), prepare, run on arena tensors, download. Also returns the values folded at
 * inference so tests can check both paths.
 */
import { deepStrictEqual } from "node:assert/strict";
import type { Node } from "../../../engine/ir/graph.ts";
import type { KnownOutput } from "../../../engine/ops/_node_params.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { Random } from "../../_random.ts";

let counter = 0;

/** A node with inputs named in0.., outputs out0.. ("" marks an omitted input). */
export function makeNode(
  op: string,
  inputs: (string | boolean)[] | number,
  outputs = 1,
  attributes: Node["attributes"] = {},
): Node {
  const ins = typeof inputs === "number"
    ? Array.from({ length: inputs }, (_, i) => `in${i}`)
    : inputs.map((v, i) => (v === false || v === "" ? "" : `in${i}`));
  return {
    name: `${op.toLowerCase()}_${counter++}`,
    op,
    domain: "",
    inputs: ins,
    outputs: Array.from({ length: outputs }, (_, i) => `out${i}`),
    attributes,
  };
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A tensor of `type` and dims over a copy of bytes. */
export function fromBytes(type: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  const b = bytes.slice().buffer;
  switch (type) {
    case "float32":
      return new Tensor(type, new Float32Array(b), dims);
    case "float16":
      return new Tensor(type, new Uint16Array(b), dims);
    case "int64":
      return new Tensor(type, new BigInt64Array(b), dims);
    case "int32":
      return new Tensor(type, new Int32Array(b), dims);
    case "int8":
      return new Tensor(type, new Int8Array(b), dims);
    case "uint8":
    case "bool":
      return new Tensor(type, new Uint8Array(b), dims);
  }
}

/** Result of running an op. */
export interface OpRun {
  /** What inferShapes returned (with values when folded). */
  inferred: KnownOutput[];
  /** Outputs computed by `run` on the arena. */
  outputs: Tensor[];
}

/** Options of `runOp`. */
export interface RunOptions {
  /** Inputs whose value is given to inferShapes (default: all but input 0). */
  known?: number[];
  /** Alias output 0 to input 0's buffer (as the executor does for view ops). */
  alias?: boolean;
}

/** Runs `op` on `node` with host inputs; returns inferred infos and the arena outputs. */
export function runOp(
  kr: Kernels,
  op: Op,
  node: Node,
  inputs: (Tensor | undefined)[],
  options: RunOptions = {},
): OpRun {
  const known = options.known ?? inputs.map((_, i) => i).filter((i) => i > 0);
  const infos: (InputInfo | undefined)[] = inputs.map((t, i) =>
    t ? { type: t.type, dims: [...t.dims], value: known.includes(i) ? t : undefined } : undefined
  );
  op.check?.(node, 21);
  const inferred = op.inferShapes(node, infos) as KnownOutput[];
  const state = op.prepare?.({ kernels: kr }, node, infos);
  const blocks: number[] = [];
  const arenaIn: (ArenaTensor | undefined)[] = inputs.map((t) => {
    if (!t) return undefined;
    const b = bytesOf(t);
    const off = kr.arena.alloc(b.length, "test input");
    blocks.push(off);
    kr.arena.u8(off, b.length).set(b);
    return { type: t.type, dims: [...t.dims], offset: off };
  });
  const arenaOut: ArenaTensor[] = inferred.map((o, i) => {
    if (i === 0 && options.alias && arenaIn[0]) return { ...o, offset: arenaIn[0].offset };
    const n = o.dims.reduce((a, b) => a * b, 1) * bytesPerType(o.type);
    const off = kr.arena.alloc(n, "test output");
    blocks.push(off);
    // Poison outputs so a missed element shows up.
    kr.arena.u8(off, n).fill(0xa5);
    return { type: o.type, dims: [...o.dims], offset: off };
  });
  try {
    op.run({ kernels: kr }, node, arenaIn, arenaOut, state);
    const outputs = arenaOut.map((o) => {
      const n = o.dims.reduce((a, b) => a * b, 1) * bytesPerType(o.type);
      return fromBytes(o.type, o.dims, kr.arena.u8(o.offset, n));
    });
    return { inferred, outputs };
  } finally {
    op.release?.({ kernels: kr }, state);
    for (const b of blocks) kr.arena.free(b);
  }
}

function bytesPerType(type: DType): number {
  return { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 }[type];
}

/** Asserts two tensors have the same type, dims and exactly the same elements. */
export function assertTensorEqual(actual: Tensor, expected: Tensor, what = "tensor"): void {
  deepStrictEqual(actual.type, expected.type, `${what}: type`);
  deepStrictEqual([...actual.dims], [...expected.dims], `${what}: dims`);
  const a = bytesOf(actual);
  const e = bytesOf(expected);
  if (a.length !== e.length) throw new Error(`${what}: ${a.length} bytes, expected ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      const es = bytesPerType(actual.type);
      const k = Math.floor(i / es);
      throw new Error(
        `${what}: element ${k} differs: got ${actual.data[k]}, expected ${expected.data[k]}`,
      );
    }
  }
}

/** Random data of any element type (float16 as random half-precision bit patterns of normal numbers). */
export function randomTensor(rng: Random, type: DType, dims: readonly number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case "float32":
      return new Tensor(type, rng.floats(n), dims);
    case "float16":
      return new Tensor(type, Uint16Array.from({ length: n }, () => rng.int(0x0400, 0x7bff)), dims);
    case "int64":
      return new Tensor(
        type,
        BigInt64Array.from({ length: n }, () => BigInt(rng.int(-1e9, 1e9)) * 7919n),
        dims,
      );
    case "int32":
      return new Tensor(type, Int32Array.from({ length: n }, () => rng.int(-2e9, 2e9)), dims);
    case "int8":
      return new Tensor(type, Int8Array.from({ length: n }, () => rng.int(-128, 127)), dims);
    case "uint8":
      return new Tensor(type, Uint8Array.from({ length: n }, () => rng.int(0, 255)), dims);
    case "bool":
      return new Tensor(type, Uint8Array.from({ length: n }, () => rng.int(0, 1)), dims);
  }
}

/** An int64 tensor of values. */
export function i64(values: number[], dims: number[] = [values.length]): Tensor<"int64"> {
  return new Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

/** A float32 tensor of values. */
export function f32(values: number[], dims: number[] = [values.length]): Tensor<"float32"> {
  return new Tensor("float32", Float32Array.from(values), dims);
}

/** Random dims of a rank with awkward sizes (1, primes, odd), total at most `maxSize`. */
export function randomDims(rng: Random, rank: number, maxSize = 4096): number[] {
  const pool = [1, 2, 3, 5, 7, 8, 13, 17, 31];
  for (;;) {
    const dims = Array.from({ length: rank }, () => pool[rng.int(0, pool.length - 1)]);
    if (dims.reduce((a, b) => a * b, 1) <= maxSize) return dims;
  }
}

export { Random };
