/**
 * ONNX Conv (1-D and 2-D, NCHW) and the window geometry it shares with ConvTranspose and the
 * pooling ops.
 *
 * Paths, chosen once per node in `prepare`:
 * - depthwise (one input channel per group, any channel multiplier): fixed-shape kernels for
 *   3x3 / 5x5 at stride 1 / 2 (`kernels-as/conv/kernels.ts`), a generic kernel otherwise;
 * - pointwise (1x1, stride 1, no padding): the NCHW GEMM straight on the input, no copy;
 * - pattern-sparse 3x3 (constant weights whose kernels keep ≤ 4 taps, stride 1 or 2): the
 *   pattern kernel over padded planes (`conv_pattern.ts`), when the cost model predicts a gain;
 * - everything else: im2col of a tile of output pixels into a bounded scratch, then the NCHW
 *   GEMM, tile after tile.
 *
 * Fused epilogues: `fused_activation` / `fused_p0` / `fused_p1` (see `op.ts`) and
 * `fused_residual`, which appends one input shaped like the output that is added before the
 * activation, on each output tile while it is still in cache.
 *
 * @module
 */
import { activationCode, ACTIVATIONS } from "../../kernels-as/activations.ts";
import { DWCONV_SHAPES } from "../../kernels-as/conv/kernels.ts";
import { dwconvName } from "../../kernels-as/conv/f32_dwconv.tmpl.ts";
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";
import { DTypeError, ShapeError, UnsupportedOpError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import type { KernelCall } from "../threads/pool.ts";
import { itemsFor, noScratch, runQueued, splitRange, threadsFor } from "../threads/split.ts";
import {
  type Epilogue,
  gemmNchw,
  gemmNchwCall,
  type PackedNchwWeights,
  packNchwWeights,
  releaseNchwWeights,
} from "./gemm.ts";
import type { PatternConvWeights } from "./conv_pattern.ts";
import { sparsePackers } from "../weights/sparse_packers.ts";
import { fusedEpilogue } from "./matmul.ts";
import { nodeLabel } from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";

/** The auto_pad values ONNX defines. */
export const AUTO_PADS = ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"] as const;

/** One spatial axis of a sliding window: size, stride, dilation, pads, output size. */
export interface WindowAxis {
  /** Input size. */
  input: number;
  /** Kernel size. */
  k: number;
  /** Stride. */
  s: number;
  /** Dilation. */
  d: number;
  /** Padding before. */
  begin: number;
  /** Padding after. */
  end: number;
  /** Output size. */
  out: number;
}

/**
 * Output size and padding of one axis of Conv / MaxPool / AveragePool, per the ONNX spec.
 * With `ceil`, a last window that would start in the end padding is dropped (as
 * onnxruntime and PyTorch do). Output sizes may come out below 1; callers check.
 */
export function windowAxis(
  input: number,
  k: number,
  s: number,
  d: number,
  begin: number,
  end: number,
  autoPad: string,
  ceil = false,
): WindowAxis {
  const ek = (k - 1) * d + 1;
  if (autoPad === "VALID") {
    return { input, k, s, d, begin: 0, end: 0, out: Math.floor((input - ek) / s) + 1 };
  }
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const out = Math.ceil(input / s);
    const total = Math.max(0, (out - 1) * s + ek - input);
    const small = Math.floor(total / 2);
    return autoPad === "SAME_UPPER"
      ? { input, k, s, d, begin: small, end: total - small, out }
      : { input, k, s, d, begin: total - small, end: small, out };
  }
  const span = input + begin + end - ek;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && out > 1 && (out - 1) * s >= input + begin) out--;
  return { input, k, s, d, begin, end, out };
}

/** A 2-D window (1-D windows have a height axis of size 1). */
export interface Window2d {
  /** Height axis. */
  y: WindowAxis;
  /** Width axis. */
  x: WindowAxis;
  /** Spatial rank of the op (1 or 2). */
  rank: number;
}

function ints(node: Node, name: string): number[] | undefined {
  const v = node.attributes[name];
  return Array.isArray(v) ? v as number[] : undefined;
}

/** Attribute problems of a windowed op (Conv, ConvTranspose, pools); empty when fine. */
export function checkWindowAttributes(node: Node): string[] {
  const reasons: string[] = [];
  const autoPad = node.attributes.auto_pad ?? "NOTSET";
  if (!AUTO_PADS.includes(autoPad as typeof AUTO_PADS[number])) {
    reasons.push(`auto_pad "${autoPad}" is not one of ${AUTO_PADS.join(", ")}`);
  }
  for (const name of ["kernel_shape", "strides", "dilations", "output_padding"]) {
    const v = ints(node, name);
    if (v && v.length > 2) reasons.push(`${v.length}-D windows are not supported (${name})`);
  }
  const pads = ints(node, "pads");
  if (pads && pads.length > 4) reasons.push(`${pads.length / 2}-D windows are not supported`);
  for (const name of ["strides", "dilations"]) {
    const v = ints(node, name);
    if (v?.some((x) => !Number.isInteger(x) || x < 1)) {
      reasons.push(`${name} [${v.join(", ")}] must be positive integers`);
    }
  }
  if (pads?.some((x) => !Number.isInteger(x) || x < 0)) {
    reasons.push(`pads [${pads.join(", ")}] must be non-negative integers`);
  }
  return reasons;
}

/**
 * Resolves the window of a Conv-like node over input dims [N, C, (H,) W] with the given
 * kernel. Throws ShapeError naming the node when attributes and shapes disagree.
 */
export function resolveWindow(
  node: Node,
  xDims: readonly number[],
  kernel: readonly number[],
  options: { ceil?: boolean } = {},
): Window2d {
  const rank = xDims.length - 2;
  if (rank !== 1 && rank !== 2) {
    throw new ShapeError(
      `${nodeLabel(node)}: input must be 3-D or 4-D (N, C, spatial), got [${xDims}]`,
    );
  }
  if (kernel.length !== rank) {
    throw new ShapeError(
      `${nodeLabel(node)}: kernel [${kernel.join(", ")}] does not fit input [${xDims.join(", ")}]`,
    );
  }
  const strides = ints(node, "strides") ?? new Array(rank).fill(1);
  const dil = ints(node, "dilations") ?? new Array(rank).fill(1);
  const pads = ints(node, "pads") ?? new Array(2 * rank).fill(0);
  if (strides.length !== rank || dil.length !== rank || pads.length !== 2 * rank) {
    throw new ShapeError(
      `${nodeLabel(node)}: strides [${strides}], dilations [${dil}] and pads [${pads}] do not ` +
        `fit a ${rank}-D window`,
    );
  }
  const autoPad = (node.attributes.auto_pad as string | undefined) ?? "NOTSET";
  const axes = kernel.map((k, i) => {
    if (!Number.isInteger(k) || k < 1) {
      throw new ShapeError(`${nodeLabel(node)}: kernel size ${k} is not a positive integer`);
    }
    const a = windowAxis(
      xDims[2 + i],
      k,
      strides[i],
      dil[i],
      pads[i],
      pads[i + rank],
      autoPad,
      options.ceil,
    );
    if (a.out < 1 && a.input > 0) {
      throw new ShapeError(
        `${nodeLabel(node)}: the window (kernel ${k}, dilation ${dil[i]}) does not fit ` +
          `the padded input (size ${a.input}, pads ${a.begin}+${a.end}) on spatial axis ${i}`,
      );
    }
    return { ...a, out: Math.max(a.out, 0) };
  });
  const one: WindowAxis = { input: 1, k: 1, s: 1, d: 1, begin: 0, end: 0, out: 1 };
  return rank === 1 ? { y: one, x: axes[0], rank } : { y: axes[0], x: axes[1], rank };
}

/** True when the node carries a fused residual input (set by the fusion pass). */
export function hasFusedResidual(node: Node): boolean {
  const v = node.attributes.fused_residual as unknown;
  return v === true || v === 1;
}

/**
 * Splits a Conv-like node's inputs into X, W, optional B and the optional fused residual
 * (always the last input when `fused_residual` is set).
 */
export function splitInputs<T>(
  node: Node,
  inputs: readonly (T | undefined)[],
): { x?: T; w?: T; b?: T; r?: T } {
  const fused = hasFusedResidual(node);
  const operands = fused ? inputs.slice(0, -1) : inputs;
  return {
    x: operands[0],
    w: operands[1],
    b: operands[2],
    r: fused ? inputs[inputs.length - 1] : undefined,
  };
}

/** Checks the fused activation names one the kernels know. */
export function checkFusedActivation(node: Node): string[] {
  const act = node.attributes.fused_activation;
  if (act !== undefined && !ACTIVATIONS.includes(act as typeof ACTIVATIONS[number])) {
    return [`fused_activation "${act}" is not one of ${ACTIVATIONS.join(", ")}`];
  }
  return [];
}

/** Throws DTypeError unless the present inputs are float32. */
export function requireFloat32(node: Node, inputs: readonly (InputInfo | undefined)[]): void {
  inputs.forEach((t, i) => {
    if (t && t.type !== "float32") {
      throw new DTypeError(
        `${nodeLabel(node)}: input ${i} ("${node.inputs[i]}") is "${t.type}", only "float32" is ` +
          `supported`,
      );
    }
  });
}

/** Everything `run` needs about a Conv node, resolved from the input shapes. */
export interface ConvShape {
  /** Batch size. */
  n: number;
  /** Input channels. */
  c: number;
  /** Output channels. */
  m: number;
  /** Groups. */
  group: number;
  /** Spatial window (height axis of size 1 for 1-D). */
  window: Window2d;
  /** Output dims. */
  dims: number[];
}

/** Resolves Conv shapes; throws ShapeError / UnsupportedOpError naming the node. */
export function convShape(
  node: Node,
  xDims: readonly number[],
  wDims: readonly number[],
  bDims?: readonly number[],
): ConvShape {
  if (xDims.length === 5) {
    throw new UnsupportedOpError([{ node: node.name, op: node.op, reason: "3-D Conv" }]);
  }
  if (wDims.length !== xDims.length) {
    throw new ShapeError(
      `${nodeLabel(node)}: weight [${wDims.join(", ")}] and input [${xDims.join(", ")}] ` +
        `differ in rank`,
    );
  }
  const group = (node.attributes.group as number | undefined) ?? 1;
  const [n, c] = xDims;
  const m = wDims[0];
  if (!Number.isInteger(group) || group < 1 || c % group !== 0 || m % group !== 0) {
    throw new ShapeError(
      `${nodeLabel(node)}: group ${group} does not divide the ${c} input and ${m} output channels`,
    );
  }
  if (wDims[1] * group !== c) {
    throw new ShapeError(
      `${nodeLabel(node)}: weight [${wDims.join(", ")}] expects ${wDims[1] * group} input ` +
        `channels (group ${group}), the input has ${c}`,
    );
  }
  const kernel = wDims.slice(2);
  const declared = ints(node, "kernel_shape");
  if (declared && declared.join() !== kernel.join()) {
    throw new ShapeError(
      `${nodeLabel(node)}: kernel_shape [${declared.join(", ")}] differs from the weight's ` +
        `[${kernel.join(", ")}]`,
    );
  }
  if (bDims && (bDims.length !== 1 || bDims[0] !== m)) {
    throw new ShapeError(`${nodeLabel(node)}: bias [${bDims.join(", ")}] should be [${m}]`);
  }
  const window = resolveWindow(node, xDims, kernel);
  const spatial = window.rank === 1 ? [window.x.out] : [window.y.out, window.x.out];
  return { n, c, m, group, window, dims: [n, m, ...spatial] };
}

/**
 * Bytes of im2col scratch per tile. Compact tiles make the GEMM read X far faster than the
 * image's full row stride would, and 512 KB measured best for im2col itself (fewer, longer
 * segments) while the GEMM stayed as fast as with smaller tiles (engine/ops/README.md).
 */
export const COL_TILE_BYTES = 512 * 1024;

/** One im2col tile of a convolution: batch, group, first pixel, pixels. */
type TileItem = [number, number, number, number];

/** x32_im2col's scratch arguments (the tile and its padded window), as a `scratchArgs` mask. */
const IM2COL_SCRATCH_ARGS = (1 << 15) | (1 << 17);

/** Pixels per tile for a reduction of k rows (a multiple of 8, at least 8). */
export function tilePixels(k: number, pixels: number): number {
  const t = Math.max(8, Math.floor(COL_TILE_BYTES / (Math.max(k, 1) * 4) / 8) * 8);
  return Math.max(1, Math.min(t, pixels));
}

interface ConvState {
  kind: "depthwise" | "gemm" | "pattern";
  /** Pattern path: the packed sparse weights (with the bias). */
  pattern?: PatternConvWeights;
  /** GEMM path: packed weights per group (with the bias inside). */
  packed?: PackedNchwWeights[];
  /** Depthwise path: weights [M, kh*kw] and bias [M] (0: none) in the arena. */
  weights?: number;
  bias?: number;
}

function isDepthwise(c: number, group: number, wDims: readonly number[]): boolean {
  // One input channel and one group is an ordinary conv: the GEMM path beats the depthwise
  // kernels there (silero's 1-D STFT conv, 258 filters of width 256: 1.2 ms → well under).
  return group > 1 && group === c && wDims[1] === 1;
}

/** The fixed-shape depthwise kernel for this window, if one was generated: its export name. */
function fixedDwKernel(kr: Kernels, w: Window2d): { name: string } | null {
  if (w.rank !== 2 || w.y.k !== w.x.k || w.y.s !== w.x.s || w.y.d !== 1 || w.x.d !== 1) {
    return null;
  }
  const shape = DWCONV_SHAPES.find((s) => s.k === w.x.k && s.s === w.x.s);
  if (!shape) return null;
  const name = dwconvName(shape);
  return typeof kr.fn[name as keyof KernelExports] === "function" ? { name } : null;
}

function uploadF32(kr: Kernels, data: Float32Array, name: string): number {
  const off = kr.arena.alloc(data.byteLength, name);
  kr.arena.f32(off, data.length).set(data);
  return off;
}

/** Packs each group's weights (and bias) for the NCHW GEMM; w, b are arena offsets. */
function packGroups(
  kr: Kernels,
  w: number,
  b: number,
  m: number,
  k: number,
  group: number,
  name: string,
  columns?: number,
): PackedNchwWeights[] {
  const mg = m / group;
  const packed: PackedNchwWeights[] = [];
  for (let g = 0; g < group; g++) {
    packed.push(packNchwWeights(kr, w + g * mg * k * 4, mg, k, {
      bias: b ? b + g * mg * 4 : 0,
      name,
      columns,
    }));
  }
  return packed;
}

/** Options of `runConv`. */
export interface ConvRunOptions {
  /** Packed weights per group (GEMM path), when prepared ahead. */
  packed?: PackedNchwWeights[];
  /** Arena offset of an output-shaped tensor to add before the activation (0: none). */
  residual?: number;
  /** Fused activation. */
  epilogue?: Epilogue;
}

/**
 * Runs a resolved Conv on arena offsets: x, w ([M, C/group, kh, kw]), b (M floats or 0),
 * y. Prepared packed weights skip the per-call packing of the GEMM path.
 */
export function runConv(
  kr: Kernels,
  shape: ConvShape,
  x: number,
  w: number,
  b: number,
  y: number,
  options: ConvRunOptions = {},
): void {
  const { n, c, m, group, window } = shape;
  const { y: ay, x: ax } = window;
  const ohw = ay.out * ax.out;
  if (sizeOf(shape.dims) === 0) return;
  const epi = options.epilogue ?? {};
  const act = activationCode(epi.activation ?? "none");
  const p0 = epi.p0 ?? 0;
  const p1 = epi.p1 ?? 0;
  const residual = options.residual ?? 0;
  const hw = ay.input * ax.input;
  const kk = ay.k * ax.k;
  if (isDepthwise(c, group, [m, c / group])) {
    // Output channels split in whole input planes (mult channels read one plane), items
    // claimed by the threads; each thread has its own zero row (the fixed kernels' scratch).
    const mult = m / c;
    const flops = 2 * n * m * ohw * kk;
    const threads = threadsFor(kr, flops);
    const fixed = fixedDwKernel(kr, window);
    const scratch = fixed
      ? Array.from(
        { length: threads },
        () => kr.arena.alloc(kr.fn.f32_dwconv_scratch_size(ax.input), "depthwise rows"),
      )
      : noScratch(threads);
    const items: KernelCall[][] = [];
    const parts = splitRange(m, mult, Math.ceil(itemsFor(threads, flops) / n));
    for (let i = 0; i < n; i++) {
      for (const [c0, cc] of parts) {
        const xi = x + (i * c + c0 / mult) * hw * 4;
        const yi = y + (i * m + c0) * ohw * 4;
        const ri = residual ? residual + (i * m + c0) * ohw * 4 : 0;
        const wi = w + c0 * kk * 4;
        const bi = b ? b + c0 * 4 : 0;
        const head = [cc, mult, xi, ay.input, ax.input, yi, ay.out, ax.out];
        const tail = [ay.begin, ax.begin, wi, bi, ri, act, p0, p1];
        items.push([
          fixed ? { fn: fixed.name, args: [...head, ...tail, 0], scratchArgs: 1 << 16 } : {
            fn: "f32_dwconv_w4",
            args: [...head, ay.k, ax.k, ay.s, ax.s, ay.d, ax.d, ...tail],
          },
        ]);
      }
    }
    try {
      runQueued(kr, items, scratch);
    } finally {
      if (fixed) { for (const s of scratch) kr.arena.free(s); }
    }
    return;
  }
  const cg = c / group;
  const mg = m / group;
  const k = cg * kk;
  if (k === 0) {
    // No input channels: the output is the bias (then residual and activation).
    const out = kr.arena.f32(y, n * m * ohw);
    const bias = b ? kr.arena.f32(b, m) : undefined;
    for (let i = 0; i < n * m; i++) out.fill(bias ? bias[i % m] : 0, i * ohw, (i + 1) * ohw);
    kr.fn.f32_addact_w4(n * m, ohw, y, ohw, residual, ohw, act, p0, p1);
    return;
  }
  const packed = options.packed ?? packGroups(kr, w, b, m, k, group, "Conv weights (packed)");
  // The activation rides in the GEMM epilogue unless a residual must be added first.
  const gemmEpi: Epilogue = residual ? {} : epi;
  const pointwise = kk === 1 && ay.s === 1 && ax.s === 1 &&
    ay.begin + ay.end + ax.begin + ax.end === 0;
  const tile = tilePixels(k, ohw);
  const windowBytes = pointwise
    ? 0
    : kr.fn.x32_im2col_scratch_size(cg, ay.k, ax.k, ay.s, ax.s, ay.d, ax.d, ax.out, tile);
  /** x32_im2col's arguments: pixels [t0, t0 + np) of the group input at `xg` into `col`. */
  const im2colArgs = (
    xg: number,
    t0: number,
    np: number,
    col: number,
    padded: number,
  ): Parameters<KernelExports["x32_im2col"]> => [
    xg,
    cg,
    ay.input,
    ax.input,
    ay.k,
    ax.k,
    ay.s,
    ax.s,
    ay.d,
    ax.d,
    ay.begin,
    ax.begin,
    ax.out,
    t0,
    np,
    col,
    np,
    padded,
  ];
  const items: TileItem[] = [];
  if (kr.pool && !(pointwise && !residual)) {
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < group; g++) {
        for (let t0 = 0; t0 < ohw; t0 += tile) items.push([i, g, t0, Math.min(tile, ohw - t0)]);
      }
    }
  }
  const threads = Math.min(items.length, threadsFor(kr, 2 * n * m * k * ohw));
  if (threads > 1) {
    // Each item is a whole tile (im2col, GEMM and residual in the claiming thread's own
    // scratch), so nothing runs serially between the splits; threads claim tiles as they go.
    const colBytes = pointwise ? 0 : k * tile * 4;
    const panelBytes = packed[0].format === "c4n" ? kr.fn.f32_spmm_c4n_panel_size(k) : 0;
    const scratch = Array.from(
      { length: threads },
      () => kr.arena.alloc(colBytes + windowBytes + panelBytes + 64, "conv thread scratch"),
    );
    // Scratch-relative offsets: the im2col tile, its padded window, the C4n panel.
    const [col, padded, panel] = [0, colBytes, colBytes + windowBytes];
    try {
      const queue = items.map(([i, g, t0, np]) => {
        const xg = x + (i * c + g * cg) * hw * 4;
        const yg = y + (i * m + g * mg) * ohw * 4;
        const calls: KernelCall[] = [];
        if (pointwise) {
          calls.push(
            gemmNchwCall(kr, packed[g], xg + t0 * 4, hw, np, yg + t0 * 4, ohw, gemmEpi, panel, {
              panel: true,
            }),
          );
        } else {
          calls.push({
            fn: "x32_im2col",
            args: im2colArgs(xg, t0, np, col, padded),
            scratchArgs: IM2COL_SCRATCH_ARGS,
          });
          calls.push(
            gemmNchwCall(kr, packed[g], col, np, np, yg + t0 * 4, ohw, gemmEpi, panel, {
              x: true,
              panel: true,
            }),
          );
        }
        if (residual) {
          const rg = residual + (i * m + g * mg) * ohw * 4;
          calls.push({
            fn: "f32_addact_w4",
            args: [mg, np, yg + t0 * 4, ohw, rg + t0 * 4, ohw, act, p0, p1],
          });
        }
        return calls;
      });
      runQueued(kr, queue, scratch);
    } finally {
      for (const b of scratch) kr.arena.free(b);
      if (!options.packed) { for (const p of packed) releaseNchwWeights(kr, p); }
    }
    return;
  }
  const col = pointwise ? 0 : kr.arena.alloc(k * tile * 4, "im2col tile");
  const padded = pointwise ? 0 : kr.arena.alloc(windowBytes, "im2col window");
  try {
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < group; g++) {
        const xg = x + (i * c + g * cg) * hw * 4;
        const yg = y + (i * m + g * mg) * ohw * 4;
        const rg = residual ? residual + (i * m + g * mg) * ohw * 4 : 0;
        if (pointwise && !residual) {
          gemmNchw(kr, packed[g], xg, hw, hw, yg, hw, gemmEpi);
          continue;
        }
        for (let t0 = 0; t0 < ohw; t0 += tile) {
          const np = Math.min(tile, ohw - t0);
          if (pointwise) {
            gemmNchw(kr, packed[g], xg + t0 * 4, hw, np, yg + t0 * 4, ohw, gemmEpi);
          } else {
            kr.fn.x32_im2col(...im2colArgs(xg, t0, np, col, padded));
            gemmNchw(kr, packed[g], col, np, np, yg + t0 * 4, ohw, gemmEpi);
          }
          if (rg) kr.fn.f32_addact_w4(mg, np, yg + t0 * 4, ohw, rg + t0 * 4, ohw, act, p0, p1);
        }
      }
    }
  } finally {
    if (col) kr.arena.free(col);
    if (padded) kr.arena.free(padded);
    if (!options.packed) { for (const p of packed) releaseNchwWeights(kr, p); }
  }
}

const conv: Op<ConvState> = {
  type: "Conv",
  check(node) {
    const reasons = [...checkWindowAttributes(node), ...checkFusedActivation(node)];
    const group = node.attributes.group;
    if (group !== undefined && (!Number.isInteger(group) || (group as number) < 1)) {
      reasons.push(`group ${group} must be a positive integer`);
    }
    return reasons;
  },
  inferShapes(node, inputs): OutputInfo[] {
    const { x, w, b, r } = splitInputs(node, inputs);
    if (!x || !w) throw new ShapeError(`${nodeLabel(node)}: inputs X and W are required`);
    requireFloat32(node, inputs);
    const shape = convShape(node, x.dims, w.dims, b?.dims);
    if (hasFusedResidual(node)) {
      if (!r || r.dims.join() !== shape.dims.join()) {
        throw new ShapeError(
          `${nodeLabel(node)}: the fused residual [${r?.dims.join(", ") ?? ""}] should have the ` +
            `output's dims [${shape.dims.join(", ")}]`,
        );
      }
    }
    return [{ type: "float32", dims: shape.dims }];
  },
  prepare(ctx, node, inputs): ConvState {
    const kr = ctx.kernels;
    const { x, w, b } = splitInputs(node, inputs);
    const group = (node.attributes.group as number | undefined) ?? 1;
    const kind = isDepthwise(x!.dims[1], group, w!.dims) ? "depthwise" : "gemm";
    // Only constant weights (and bias) are prepared; others are packed per call.
    if (!w!.value || (b && !b.value)) return { kind };
    const wv = w!.value.data as Float32Array;
    const bv = b?.value?.data as Float32Array | undefined;
    const wOff = uploadF32(kr, wv, `${node.inputs[1]}`);
    const bOff = bv ? uploadF32(kr, bv, `${node.inputs[2]}`) : 0;
    if (kind === "depthwise") return { kind, weights: wOff, bias: bOff };
    const sp = sparsePackers();
    if (
      sp?.patternConv.patternConvApplies(
        w!.dims,
        group,
        node.attributes.strides as number[] | undefined,
        node.attributes.dilations as number[] | undefined,
      )
    ) {
      const name = `${node.inputs[1]} (packed)`;
      const stride = ((node.attributes.strides as number[] | undefined)?.[0] ?? 1) as 1 | 2;
      const pattern = sp.patternConv.packPatternConv(
        kr,
        wv,
        bv,
        w!.dims[0],
        w!.dims[1],
        name,
        stride,
      );
      if (pattern) {
        kr.arena.free(wOff);
        if (bOff) kr.arena.free(bOff);
        return { kind: "pattern", pattern };
      }
    }
    try {
      const m = w!.dims[0];
      const k = sizeOf(w!.dims.slice(1));
      // Output pixels per image at the first run's shape: the GEMM's column count, which the
      // sparse cost depends on.
      const columns = sizeOf(convShape(node, x!.dims, w!.dims, b?.dims).dims.slice(2));
      return {
        kind,
        packed: packGroups(kr, wOff, bOff, m, k, group, `${node.inputs[1]} (packed)`, columns),
      };
    } finally {
      kr.arena.free(wOff);
      if (bOff) kr.arena.free(bOff);
    }
  },
  run(ctx, node, inputs, outputs, state) {
    const { x, w, b, r } = splitInputs<ArenaTensor>(node, inputs);
    const shape = convShape(node, x!.dims, w!.dims, b?.dims);
    if (state.pattern) {
      sparsePackers()!.patternConv.runPatternConv(
        ctx.kernels,
        shape,
        x!.offset,
        state.pattern,
        outputs[0].offset,
        r?.offset ?? 0,
        fusedEpilogue(node),
      );
      return;
    }
    runConv(
      ctx.kernels,
      shape,
      x!.offset,
      state.weights ?? w!.offset,
      state.weights !== undefined ? state.bias ?? 0 : b?.offset ?? 0,
      outputs[0].offset,
      { packed: state.packed, residual: r?.offset ?? 0, epilogue: fusedEpilogue(node) },
    );
  },
  release(ctx, state) {
    const arena = ctx.kernels.arena;
    for (const p of state.packed ?? []) releaseNchwWeights(ctx.kernels, p);
    if (state.pattern) sparsePackers()!.patternConv.releasePatternConv(ctx.kernels, state.pattern);
    if (state.weights) arena.free(state.weights);
    if (state.bias) arena.free(state.bias);
  },
};

/** Conv. */
export const ops: Op[] = [conv as Op];
