/**
 * Runs one elementwise / reduction / normalisation op as the executor does: check at the
 * given opset, inferShapes (with constant values for the listed inputs), prepare, run on arena
 * tensors, download, release. Checks that no arena memory leaks.
 */
import { deepStrictEqual } from "node:assert/strict";
import type { Node } from "../../../engine/ir/graph.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { REGISTRY_FOR_TESTS } from "./_elementwise_ops.ts";
import { bytesPerElement, type DType, Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";

let counter = 0;

/** A node of `op` with inputs in0.. ("" for an omitted one) and outputs out0... */
export function node(
  op: string,
  inputs: (string | boolean)[] | number,
  attributes: Node["attributes"] = {},
  outputs = 1,
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

/** Options of `runNode`. */
export interface RunNodeOptions {
  /** Inputs whose values inferShapes and prepare see (default: none but parameter inputs). */
  known?: number[];
  /** Opset passed to `check` (default 21). */
  opset?: number;
}

/** The op registered for a type among this test suite's ops. */
export function opFor(type: string): Op {
  const op = REGISTRY_FOR_TESTS.get(type);
  if (!op) throw new Error(`No op "${type}"`);
  return op;
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function fromBytes(type: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  const b = bytes.slice().buffer;
  switch (type) {
    case "float32":
      return new Tensor(type, new Float32Array(b), dims);
    case "int64":
      return new Tensor(type, new BigInt64Array(b), dims);
    case "int32":
      return new Tensor(type, new Int32Array(b), dims);
    case "float16":
      return new Tensor(type, new Uint16Array(b), dims);
    case "int8":
      return new Tensor(type, new Int8Array(b), dims);
    case "uint8":
    case "bool":
      return new Tensor(type, new Uint8Array(b), dims);
  }
}

/** Runs `node` on host tensors; returns the outputs and the reasons `check` gave. */
export function runNode(
  kr: Kernels,
  n: Node,
  inputs: (Tensor | undefined)[],
  options: RunNodeOptions = {},
): { outputs: Tensor[]; reasons: string[] } {
  const op = opFor(n.op);
  const reasons = op.check?.(n, options.opset ?? 21) ?? [];
  const known = options.known ?? [];
  const infos: (InputInfo | undefined)[] = inputs.map((t, i) =>
    t ? { type: t.type, dims: [...t.dims], value: known.includes(i) ? t : undefined } : undefined
  );
  const live = kr.arena.liveBytes;
  const shapes = op.inferShapes(n, infos);
  const state = op.prepare?.({ kernels: kr }, n, infos);
  const blocks: number[] = [];
  const alloc = (t: { type: DType; dims: readonly number[] }) => {
    const bytes = t.dims.reduce((a, b) => a * b, 1) * bytesPerElement(t.type);
    const off = kr.arena.alloc(bytes, "test tensor");
    blocks.push(off);
    return { off, bytes };
  };
  try {
    const arenaIn: (ArenaTensor | undefined)[] = inputs.map((t) => {
      if (!t) return undefined;
      const { off } = alloc(t);
      const b = bytesOf(t);
      kr.arena.u8(off, b.length).set(b);
      return { type: t.type, dims: [...t.dims], offset: off };
    });
    const arenaOut: ArenaTensor[] = shapes.map((s) => {
      const { off, bytes } = alloc(s);
      kr.arena.u8(off, bytes).fill(0xa5);
      return { type: s.type, dims: [...s.dims], offset: off };
    });
    op.run({ kernels: kr }, n, arenaIn, arenaOut, state);
    const outputs = arenaOut.map((o) => {
      const bytes = o.dims.reduce((a, b) => a * b, 1) * bytesPerElement(o.type);
      return fromBytes(o.type, o.dims, kr.arena.u8(o.offset, bytes));
    });
    return { outputs, reasons };
  } finally {
    for (const b of blocks) kr.arena.free(b);
    op.release?.({ kernels: kr }, state);
    deepStrictEqual(kr.arena.liveBytes, live, `${n.op}: arena blocks leaked`);
  }
}

/** A float32 tensor. */
export function f32(
  values: ArrayLike<number>,
  dims: number[] = [values.length],
): Tensor<"float32"> {
  return new Tensor("float32", Float32Array.from(values), dims);
}

/** An int64 tensor. */
export function i64(values: number[], dims: number[] = [values.length]): Tensor<"int64"> {
  return new Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

/** An int32 tensor. */
export function i32(values: number[], dims: number[] = [values.length]): Tensor<"int32"> {
  return new Tensor("int32", Int32Array.from(values), dims);
}

/** A bool tensor. */
export function bool(
  values: (number | boolean)[],
  dims: number[] = [values.length],
): Tensor<"bool"> {
  return new Tensor("bool", Uint8Array.from(values, (v) => (v ? 1 : 0)), dims);
}
