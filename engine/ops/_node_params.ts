/**
 * Reading what a node is told: attributes with their ONNX defaults, and the small integer
 * tensors (shapes, axes, pads, starts…) that became inputs in later opsets. At shape
 * inference these come from `InputInfo.value`; at run time from the arena.
 *
 * @module
 */
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { type DType, Tensor } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import type { ArenaTensor, InputInfo, OutputInfo } from "./op.ts";

/** An output whose value is known at shape inference (shape arithmetic folded on the host). */
export interface KnownOutput extends OutputInfo {
  /** The output's value, when every input it depends on is known and it is small. */
  value?: Tensor;
}

/** Outputs up to this many elements are computed at shape inference when their inputs are known. */
export const FOLD_LIMIT = 1 << 16;

/** Largest integer tensor whose values shape inference is given (shapes, axes, pads…). */
export const INFERENCE_INT_LIMIT = 4096;
/** Largest tensor of another type whose values it is given (Resize scales and similar). */
export const INFERENCE_FLOAT_LIMIT = 16;

/**
 * Whether shape inference is given the values of a computed tensor of this type and size
 * (the executor reads them back from the arena; the load-time type check keeps them).
 */
export function inferenceReadsValue(type: DType, elements: number): boolean {
  return elements <=
    (type === "int64" || type === "int32" ? INFERENCE_INT_LIMIT : INFERENCE_FLOAT_LIMIT);
}

let foldLimitNow = FOLD_LIMIT;

/**
 * The largest output shape inference computes now: FOLD_LIMIT, unless `withFoldLimit` lowers
 * it.
 */
export function foldLimit(): number {
  return foldLimitNow;
}

/**
 * Runs `fn` with shape inference computing outputs of at most `limit` elements: the load-time
 * type check needs only the small values that shapes come from, not folded constants.
 */
export function withFoldLimit<T>(limit: number, fn: () => T): T {
  const before = foldLimitNow;
  foldLimitNow = limit;
  try {
    return fn();
  } finally {
    foldLimitNow = before;
  }
}

/** `Node "name" (Op)`, the prefix (and so the capitalised start) of every error about a node. */
export function nodeLabel(node: Node): string {
  return `Node "${node.name}" (${node.op})`;
}

/** A ShapeError naming the node. */
export function shapeError(node: Node, detail: string): ShapeError {
  return new ShapeError(`${nodeLabel(node)}: ${detail}`);
}

/** `[1, 2, 3]`. */
export function formatDims(dims: readonly number[]): string {
  return `[${dims.join(", ")}]`;
}

/** An integer attribute, or `fallback` when absent. */
export function intAttr(node: Node, name: string, fallback: number): number {
  const v = node.attributes[name];
  return typeof v === "number" ? v : fallback;
}

/** A float attribute, or `fallback` when absent. */
export function floatAttr(node: Node, name: string, fallback: number): number {
  const v = node.attributes[name];
  return typeof v === "number" ? v : fallback;
}

/** A string attribute, or `fallback` when absent. */
export function stringAttr(node: Node, name: string, fallback: string): string {
  const v = node.attributes[name];
  return typeof v === "string" ? v : fallback;
}

/** An integer-list attribute, or undefined when absent. */
export function intsAttr(node: Node, name: string): number[] | undefined {
  const v = node.attributes[name];
  if (Array.isArray(v)) return v as number[];
  if (typeof v === "number") return [v];
  return undefined;
}

/** A float-list attribute, or undefined when absent. */
export function floatsAttr(node: Node, name: string): number[] | undefined {
  return intsAttr(node, name);
}

/** Whether input `i` is given (present and not the empty name of an omitted input). */
export function hasInput(node: Node, i: number): boolean {
  return i < node.inputs.length && node.inputs[i] !== "";
}

/** Integer values of a host tensor (int64 sentinels such as INT64_MAX become huge numbers). */
export function tensorInts(t: Tensor): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  return out;
}

/** Float values of a host tensor. */
export function tensorFloats(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/**
 * The integer values of parameter input `i` at shape inference (int64 or int32), or
 * undefined when the input is omitted. Throws a ShapeError naming the node when the value is
 * not known at load time.
 */
export function inputInts(
  node: Node,
  inputs: (InputInfo | undefined)[],
  i: number,
  what: string,
): number[] | undefined {
  if (!hasInput(node, i)) return undefined;
  const info = inputs[i];
  if (!info) return undefined;
  if (info.type !== "int64" && info.type !== "int32") {
    throw shapeError(node, `input "${what}" must be int64 or int32, got "${info.type}"`);
  }
  if (!info.value) {
    throw shapeError(
      node,
      `input "${what}" ("${node.inputs[i]}") must be known at load time (a constant or ` +
        `computed from shapes) to infer the output shape`,
    );
  }
  return tensorInts(info.value);
}

/** The float values of parameter input `i` at shape inference, like `inputInts`. */
export function inputFloats(
  node: Node,
  inputs: (InputInfo | undefined)[],
  i: number,
  what: string,
): number[] | undefined {
  if (!hasInput(node, i)) return undefined;
  const info = inputs[i];
  if (!info) return undefined;
  if (!info.value) {
    throw shapeError(
      node,
      `input "${what}" ("${node.inputs[i]}") must be known at load time to infer the output shape`,
    );
  }
  return tensorFloats(info.value);
}

/** Reads an integer arena tensor (int64 or int32) into numbers. */
export function arenaInts(kr: Kernels, t: ArenaTensor): number[] {
  const n = sizeOfDims(t.dims);
  const buf = kr.arena.memory.buffer;
  if (t.type === "int64") return Array.from(new BigInt64Array(buf, t.offset, n), Number);
  if (t.type === "int32") return Array.from(new Int32Array(buf, t.offset, n));
  throw new InvalidArgumentError(`Expected an int64 or int32 tensor, got "${t.type}"`);
}

/** Reads a float32 arena tensor into numbers. */
export function arenaFloats(kr: Kernels, t: ArenaTensor): number[] {
  return Array.from(new Float32Array(kr.arena.memory.buffer, t.offset, sizeOfDims(t.dims)));
}

/** The values of input `i` at run time: from the arena, or undefined when omitted. */
export function runInts(
  kr: Kernels,
  inputs: (ArenaTensor | undefined)[],
  i: number,
): number[] | undefined {
  const t = inputs[i];
  return t ? arenaInts(kr, t) : undefined;
}

function sizeOfDims(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Makes a possibly negative axis non-negative; ShapeError naming the node when out of range. */
export function normalizeAxis(node: Node, axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw shapeError(
      node,
      `${what} ${axis} is out of range for rank ${rank} (allowed ${-rank}..${rank - 1})`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalizes a list of axes and rejects duplicates. */
export function normalizeAxes(node: Node, axes: number[], rank: number, what = "axes"): number[] {
  const out = axes.map((a) => normalizeAxis(node, a, rank, what));
  if (new Set(out).size !== out.length) {
    throw shapeError(node, `${what} ${formatDims(axes)} repeat an axis`);
  }
  return out;
}

/** The input at `i`, or a ShapeError naming the node when it is missing. */
export function requireInput(
  node: Node,
  inputs: (InputInfo | undefined)[],
  i: number,
  what: string,
): InputInfo {
  const info = inputs[i];
  if (!hasInput(node, i) || !info) throw shapeError(node, `input "${what}" is required`);
  return info;
}

/** A host tensor holding numbers as `type` (int64 through BigInt). */
export function makeTensor(
  type: DType,
  values: readonly number[],
  dims: readonly number[],
): Tensor {
  switch (type) {
    case "int64":
      return new Tensor(type, BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), dims);
    case "float32":
      return new Tensor(type, Float32Array.from(values), dims);
    case "int32":
      return new Tensor(type, Int32Array.from(values), dims);
    case "int8":
      return new Tensor(type, Int8Array.from(values), dims);
    case "uint8":
    case "bool":
      return new Tensor(type, Uint8Array.from(values), dims);
    case "float16":
      throw new InvalidArgumentError(
        "Cannot make a float16 tensor from numbers (makeTensor): convert them to float16 bits first",
      );
  }
}

/** The bytes of a host tensor (a view, not a copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A host tensor of `type` over a copy of `bytes`. */
export function tensorFromBytes(type: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  return tensorOverBytes(type, dims, bytes.slice());
}

/** A host tensor of `type` over `bytes` itself (no copy): for bytes nothing else holds. */
export function tensorOverBytes(type: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  const b = bytes.buffer as ArrayBuffer;
  const o = bytes.byteOffset;
  const n = sizeOfDims(dims);
  switch (type) {
    case "float32":
      return new Tensor(type, new Float32Array(b, o, n), dims);
    case "float16":
      return new Tensor(type, new Uint16Array(b, o, n), dims);
    case "int64":
      return new Tensor(type, new BigInt64Array(b, o, n), dims);
    case "int32":
      return new Tensor(type, new Int32Array(b, o, n), dims);
    case "int8":
      return new Tensor(type, new Int8Array(b, o, n), dims);
    case "uint8":
    case "bool":
      return new Tensor(type, new Uint8Array(b, o, n), dims);
  }
}

/** Copies a host tensor's bytes into an arena tensor (used by ops whose output is computed on the host). */
export function writeArena(kr: Kernels, out: ArenaTensor, value: Tensor): void {
  const bytes = tensorBytes(value);
  new Uint8Array(kr.arena.memory.buffer, out.offset, bytes.length).set(bytes);
}
