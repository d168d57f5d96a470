/**
 * Copy programs: most data-movement ops (Transpose, Slice, Concat, Split, Expand, Tile, Pad,
 * DepthToSpace…) are a few strided copies. An op plans them from dims alone; the same plan
 * runs on the arena through the `x8_copy_nd` kernel, or on host bytes to fold small shape
 * tensors at load.
 *
 * @module
 */
import { ShapeError } from "../errors.ts";
import { bytesPerElement, type DType, sizeOf, stridesOf, Tensor } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { foldLimit, type KnownOutput, tensorBytes, tensorOverBytes } from "./_node_params.ts";
import type { ArenaTensor, InputInfo } from "./op.ts";

/** Where a copy reads: an input, an output already written, or one constant element. */
export type CopySource = { input: number } | { output: number } | { constant: Uint8Array };

/** dst[dstOffset + Σ i_k·dstStrides_k] = src[srcOffset + Σ i_k·srcStrides_k] over dims. */
export interface CopyStep {
  /** Extent of the copied block. */
  dims: number[];
  /** What is read. */
  src: CopySource;
  /** First source element (elements, not bytes). */
  srcOffset: number;
  /** Source strides in elements (0 broadcasts, negative walks backwards). */
  srcStrides: number[];
  /** Output written. */
  dst: number;
  /** First destination element. */
  dstOffset: number;
  /** Destination strides in elements. */
  dstStrides: number[];
}

/** A list of copies over elements of one size, run in order. */
export interface CopyProgram {
  /** Bytes per element. */
  esize: number;
  /** The copies. */
  steps: CopyStep[];
}

/** The kernel's rank limit. */
const MAX_RANK = 16;

/** One step with its dims merged where both sides are contiguous, and unit dims dropped. */
export function coalesce(step: CopyStep): { dims: number[]; s: number[]; d: number[] } | null {
  const dims: number[] = [];
  const s: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < step.dims.length; i++) {
    const n = step.dims[i];
    if (n === 0) return null;
    if (n === 1) continue;
    const k = dims.length - 1;
    if (
      k >= 0 && s[k] === step.srcStrides[i] * n && d[k] === step.dstStrides[i] * n
    ) {
      dims[k] *= n;
      s[k] = step.srcStrides[i];
      d[k] = step.dstStrides[i];
    } else {
      dims.push(n);
      s.push(step.srcStrides[i]);
      d.push(step.dstStrides[i]);
    }
  }
  return { dims, s, d };
}

/** Contiguous copy of a whole tensor of `dims` from input `input` to output `dst`. */
export function wholeCopy(dims: readonly number[], input = 0, dst = 0): CopyStep {
  const st = stridesOf(dims);
  return {
    dims: [...dims],
    src: { input },
    srcOffset: 0,
    srcStrides: st,
    dst,
    dstOffset: 0,
    dstStrides: st,
  };
}

/** Runs a copy program on arena tensors with the `x8_copy_nd` kernel. */
export function runCopyProgram(
  kr: Kernels,
  program: CopyProgram,
  inputs: readonly (ArenaTensor | undefined)[],
  outputs: readonly ArenaTensor[],
): void {
  const es = program.esize;
  let scratch = -1;
  try {
    for (const step of program.steps) {
      const c = coalesce(step);
      if (!c) continue;
      const rank = c.dims.length;
      if (rank > MAX_RANK) {
        throw new ShapeError(
          `A strided copy of rank ${rank} exceeds the kernel's ${MAX_RANK}: use tensors of at ` +
            `most ${MAX_RANK} dimensions`,
        );
      }
      if (scratch < 0) scratch = kr.arena.alloc(3 * MAX_RANK * 4 + 16, "copy parameters");
      let srcBase: number;
      const src = step.src;
      if ("input" in src) srcBase = inputs[src.input]!.offset;
      else if ("output" in src) srcBase = outputs[src.output].offset;
      else {
        srcBase = scratch + 3 * MAX_RANK * 4;
        kr.arena.u8(srcBase, es).set(src.constant.subarray(0, es));
      }
      const p = kr.arena.i32(scratch, 3 * rank);
      p.set(c.dims, 0);
      p.set(c.s, rank);
      p.set(c.d, 2 * rank);
      kr.fn.x8_copy_nd(
        rank,
        es,
        scratch,
        srcBase + step.srcOffset * es,
        outputs[step.dst].offset + step.dstOffset * es,
      );
    }
  } finally {
    if (scratch >= 0) kr.arena.free(scratch);
  }
}

/** Runs a copy program on host byte arrays (small tensors folded at load). */
export function runCopyProgramHost(
  program: CopyProgram,
  inputs: readonly (Uint8Array | undefined)[],
  outputs: readonly Uint8Array[],
): void {
  const es = program.esize;
  for (const step of program.steps) {
    const c = coalesce(step);
    if (!c) continue;
    const src = step.src;
    const from = "input" in src
      ? inputs[src.input]!
      : "output" in src
      ? outputs[src.output]
      : src.constant;
    const to = outputs[step.dst];
    // A contiguous innermost axis on both sides is copied as one run of bytes.
    const last = c.dims.length - 1;
    const run = last >= 0 && c.s[last] === 1 && c.d[last] === 1 ? c.dims[last] : 1;
    const rank = run > 1 ? last : c.dims.length;
    const idx = new Array<number>(rank).fill(0);
    let s = step.srcOffset;
    let d = step.dstOffset;
    while (true) {
      if (run > 1) to.set(from.subarray(s * es, (s + run) * es), d * es);
      else for (let b = 0; b < es; b++) to[d * es + b] = from[s * es + b];
      let k = rank - 1;
      for (; k >= 0; k--) {
        if (++idx[k] < c.dims[k]) {
          s += c.s[k];
          d += c.d[k];
          break;
        }
        idx[k] = 0;
        s -= (c.dims[k] - 1) * c.s[k];
        d -= (c.dims[k] - 1) * c.d[k];
      }
      if (k < 0) break;
    }
  }
}

/**
 * Computes the outputs of a copy program on the host when every input it reads has a known
 * value and the outputs are small; returns the outputs with their values, or as given.
 */
export function foldCopyProgram(
  program: CopyProgram,
  inputs: readonly (InputInfo | undefined)[],
  outputs: KnownOutput[],
): KnownOutput[] {
  let total = 0;
  for (const o of outputs) total += sizeOf(o.dims);
  if (total > foldLimit()) return outputs;
  const srcBytes: (Uint8Array | undefined)[] = [];
  for (const step of program.steps) {
    if ("input" in step.src) {
      const v = inputs[step.src.input]?.value;
      if (!v) return outputs;
      srcBytes[step.src.input] = tensorBytes(v);
    }
  }
  // One output that is one contiguous run of one input (a Slice of whole rows): it shares
  // the input's bytes (host tensors are never written once made), no copy.
  const step = program.steps.length === 1 && outputs.length === 1 ? program.steps[0] : undefined;
  const run = step && "input" in step.src ? coalesce(step) : undefined;
  if (
    step && run && "input" in step.src && step.dstOffset === 0 &&
    (run.dims.length === 0 || (run.dims.length === 1 && run.s[0] === 1 && run.d[0] === 1)) &&
    (run.dims[0] ?? 1) === sizeOf(outputs[0].dims)
  ) {
    const src = srcBytes[step.src.input]!;
    const bytes = src.subarray(
      step.srcOffset * program.esize,
      (step.srcOffset + (run.dims[0] ?? 1)) * program.esize,
    );
    return [{ ...outputs[0], value: tensorOverBytes(outputs[0].type, outputs[0].dims, bytes) }];
  }
  const outBytes = outputs.map((o) => new Uint8Array(sizeOf(o.dims) * program.esize));
  runCopyProgramHost(program, srcBytes, outBytes);
  return outputs.map((o, i) => ({ ...o, value: tensorOverBytes(o.type, o.dims, outBytes[i]) }));
}

/** Bytes per element of a data-movement tensor. */
export function elementBytes(type: DType): number {
  return bytesPerElement(type);
}

/**
 * A value that only changes shape (Reshape, Squeeze…): the same data under new dims. Host
 * tensors are never written after they are made, so the two share their elements.
 */
export function reshapeValue(
  value: Tensor | undefined,
  dims: readonly number[],
): Tensor | undefined {
  if (!value) return undefined;
  return new Tensor(value.type, value.data, dims);
}
