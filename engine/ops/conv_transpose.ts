/**
 * ONNX ConvTranspose (1-D and 2-D, NCHW): per group, the NCHW GEMM computes Wᵀ · X for a tile
 * of input pixels (one column per pixel, one row per output channel and tap), and col2im
 * scatter-adds those columns into the output, which starts as the bias. The tile keeps the
 * column scratch bounded. A fused activation runs as one final pass.
 *
 * @module
 */
import { activationCode } from "../../kernels-as/activations.ts";
import { ShapeError, UnsupportedOpError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import {
  checkFusedActivation,
  checkWindowAttributes,
  requireFloat32,
  tilePixels,
  type WindowAxis,
} from "./conv.ts";
import {
  type Epilogue,
  gemmNchw,
  gemmNchwCall,
  type PackedNchwWeights,
  packNchwWeights,
  releaseNchwWeights,
} from "./gemm.ts";
import { fusedEpilogue } from "./matmul.ts";
import { nodeLabel } from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";
import type { KernelCall } from "../threads/kernel_call.ts";
import { runQueued, runSplit, splitRange, threadsFor } from "../threads/split.ts";

/** Whether two input pixels can reach the same output pixel along an axis (taps overlap). */
function tapsOverlap(a: WindowAxis): boolean {
  return (a.k - 1) * a.d + 1 > a.s;
}

function ints(node: Node, name: string): number[] | undefined {
  const v = node.attributes[name];
  return Array.isArray(v) ? v as number[] : undefined;
}

/**
 * Output size and pads of one ConvTranspose axis, per the spec: from the pads, or from an
 * explicit output size (output_shape, or input × stride under SAME_*), splitting the total
 * padding with the odd unit at the end for SAME_UPPER and at the start otherwise.
 */
export function transposeAxis(
  input: number,
  k: number,
  s: number,
  d: number,
  begin: number,
  end: number,
  outputPadding: number,
  outputSize: number | undefined,
  autoPad: string,
): WindowAxis {
  const full = s * (input - 1) + outputPadding + (k - 1) * d + 1;
  const same = autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
  const target = outputSize ?? (same ? input * s : undefined);
  if (target === undefined) return { input, k, s, d, begin, end, out: full - begin - end };
  const total = full - target;
  const half = Math.floor(total / 2);
  return autoPad === "SAME_UPPER"
    ? { input, k, s, d, begin: half, end: total - half, out: target }
    : { input, k, s, d, begin: total - half, end: half, out: target };
}

/** Resolved shapes of a ConvTranspose node. */
export interface ConvTransposeShape {
  /** Batch size. */
  n: number;
  /** Input channels. */
  c: number;
  /** Output channels. */
  m: number;
  /** Groups. */
  group: number;
  /** Height axis (size 1 for 1-D). */
  y: WindowAxis;
  /** Width axis. */
  x: WindowAxis;
  /** Output dims. */
  dims: number[];
}

/** Resolves ConvTranspose shapes; throws ShapeError / UnsupportedOpError naming the node. */
export function convTransposeShape(
  node: Node,
  xDims: readonly number[],
  wDims: readonly number[],
  bDims?: readonly number[],
): ConvTransposeShape {
  const rank = xDims.length - 2;
  if (rank === 3) {
    throw new UnsupportedOpError([{ node: node.name, op: node.op, reason: "3-D ConvTranspose" }]);
  }
  if (rank !== 1 && rank !== 2) {
    throw new ShapeError(
      `${nodeLabel(node)}: input must be 3-D or 4-D (N, C, spatial), got [${xDims}]`,
    );
  }
  if (wDims.length !== xDims.length) {
    throw new ShapeError(
      `${nodeLabel(node)}: weight [${wDims.join(", ")}] and input [${
        xDims.join(", ")
      }] differ in rank`,
    );
  }
  const group = (node.attributes.group as number | undefined) ?? 1;
  const [n, c] = xDims;
  if (!Number.isInteger(group) || group < 1 || c % group !== 0) {
    throw new ShapeError(
      `${nodeLabel(node)}: group ${group} does not divide the ${c} input channels`,
    );
  }
  if (wDims[0] !== c) {
    throw new ShapeError(
      `${nodeLabel(node)}: weight [${wDims.join(", ")}] expects ${wDims[0]} input channels, the ` +
        `input has ${c}`,
    );
  }
  const m = wDims[1] * group;
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
  const strides = ints(node, "strides") ?? new Array(rank).fill(1);
  const dil = ints(node, "dilations") ?? new Array(rank).fill(1);
  const pads = ints(node, "pads") ?? new Array(2 * rank).fill(0);
  const outPad = ints(node, "output_padding") ?? new Array(rank).fill(0);
  // output_shape may list every dim or only the spatial ones.
  const outShape = ints(node, "output_shape")?.slice(-rank);
  if (
    strides.length !== rank || dil.length !== rank || pads.length !== 2 * rank ||
    outPad.length !== rank || (outShape && outShape.length !== rank)
  ) {
    throw new ShapeError(
      `${nodeLabel(node)}: strides, dilations, pads, output_padding or output_shape do not fit a ` +
        `${rank}-D input`,
    );
  }
  // ONNX: each output padding is less than its stride or its dilation (it only picks among
  // the output sizes a stride leaves open).
  const badPad = outPad.findIndex((p, i) => p < 0 || p >= Math.max(strides[i], dil[i]));
  if (badPad >= 0) {
    throw new ShapeError(
      `${nodeLabel(node)}: output_padding ${outPad[badPad]} on axis ${badPad} must be at least 0 ` +
        `and less than the stride ${strides[badPad]} or the dilation ${dil[badPad]}`,
    );
  }
  const autoPad = (node.attributes.auto_pad as string | undefined) ?? "NOTSET";
  const axes = kernel.map((k, i) => {
    const a = transposeAxis(
      xDims[2 + i],
      k,
      strides[i],
      dil[i],
      pads[i],
      pads[i + rank],
      outPad[i],
      outShape?.[i],
      autoPad,
    );
    if (a.out < 1) {
      throw new ShapeError(
        `${nodeLabel(node)}: output size ${a.out} on spatial axis ${i} (pads ${a.begin}+${a.end} ` +
          `exceed the full output)`,
      );
    }
    return a;
  });
  const one: WindowAxis = { input: 1, k: 1, s: 1, d: 1, begin: 0, end: 0, out: 1 };
  const [ay, ax] = rank === 1 ? [one, axes[0]] : axes;
  return { n, c, m, group, y: ay, x: ax, dims: [n, m, ...axes.map((a) => a.out)] };
}

interface ConvTransposeState {
  /** Packed Wᵀ per group, when W is constant. */
  packed?: PackedNchwWeights[];
  /** The bias, when constant. */
  bias?: Float32Array;
}

/** Packs Wᵀ of each group: rows (mo, ky, kx), columns the group's input channels. */
function packTransposed(
  kr: Kernels,
  w: Float32Array,
  c: number,
  group: number,
  rows: number,
  name: string,
): PackedNchwWeights[] {
  const cg = c / group;
  const packed: PackedNchwWeights[] = [];
  const t = new Float32Array(rows * cg);
  const raw = kr.arena.alloc(t.byteLength, name);
  try {
    for (let g = 0; g < group; g++) {
      for (let ci = 0; ci < cg; ci++) {
        const src = (g * cg + ci) * rows;
        for (let r = 0; r < rows; r++) t[r * cg + ci] = w[src + r];
      }
      kr.arena.f32(raw, t.length).set(t);
      packed.push(packNchwWeights(kr, raw, rows, cg, { name }));
    }
  } finally {
    kr.arena.free(raw);
  }
  return packed;
}

/**
 * Runs a resolved ConvTranspose on arena offsets (x, y) with packed Wᵀ per group and an
 * optional host bias.
 */
export function runConvTranspose(
  kr: Kernels,
  shape: ConvTransposeShape,
  x: number,
  packed: PackedNchwWeights[],
  bias: Float32Array | undefined,
  y: number,
  epilogue: Epilogue = {},
): void {
  const { n, c, m, group, y: ay, x: ax } = shape;
  const ohw = ay.out * ax.out;
  if (sizeOf(shape.dims) === 0) return;
  const hw = ay.input * ax.input;
  const cg = c / group;
  const mg = m / group;
  const rows = mg * ay.k * ax.k;
  const out = kr.arena.f32(y, n * m * ohw);
  for (let i = 0; i < n * m; i++) out.fill(bias ? bias[i % m] : 0, i * ohw, (i + 1) * ohw);
  if (hw > 0 && cg > 0 && rows > 0) {
    const tile = tilePixels(rows, hw);
    const colBytes = rows * tile * 4;
    /** f32_col2im's arguments: the columns of input pixels [t0, t0 + np) into group output yg. */
    const col2imArgs = (col: number, t0: number, np: number, yg: number, m0 = 0, mc = mg) => [
      col + m0 * ay.k * ax.k * np * 4,
      np,
      mc,
      ay.k,
      ax.k,
      ay.s,
      ax.s,
      ay.d,
      ax.d,
      ay.begin,
      ax.begin,
      ax.input,
      t0,
      np,
      yg + m0 * ohw * 4,
      ay.out,
      ax.out,
    ];
    /** Calls `tileFn` per tile: its group, the group's input and output, first pixel, count. */
    const forEachTile = (
      tileFn: (g: number, xg: number, yg: number, t0: number, np: number) => void,
    ) => {
      for (let i = 0; i < n; i++) {
        for (let g = 0; g < group; g++) {
          const xg = x + (i * c + g * cg) * hw * 4;
          const yg = y + (i * m + g * mg) * ohw * 4;
          for (let t0 = 0; t0 < hw; t0 += tile) tileFn(g, xg, yg, t0, Math.min(tile, hw - t0));
        }
      }
    };
    const threads = threadsFor(kr, 2 * n * m * hw * cg * ay.k * ax.k);
    if (threads > 1 && !tapsOverlap(ay) && !tapsOverlap(ax)) {
      // No two input pixels reach the same output pixel: whole tiles (GEMM into the claiming
      // thread's columns, then col2im) run on any thread.
      const panelBytes = packed[0].format === "c4n" ? kr.fn.f32_spmm_c4n_panel_size(cg) : 0;
      const scratch = Array.from(
        { length: threads },
        () => kr.arena.alloc(colBytes + panelBytes, "ConvTranspose thread columns"),
      );
      const items: KernelCall[][] = [];
      forEachTile((g, xg, yg, t0, np) =>
        items.push([
          gemmNchwCall(kr, packed[g], xg + t0 * 4, hw, np, 0, np, {}, colBytes, {
            c: true,
            panel: true,
          }),
          { fn: "f32_col2im", args: col2imArgs(0, t0, np, yg), scratchArgs: 1 },
        ])
      );
      try {
        runQueued(kr, items, scratch);
      } finally {
        for (const b of scratch) kr.arena.free(b);
      }
    } else {
      const col = kr.arena.alloc(colBytes, "ConvTranspose columns");
      // Overlapping taps: the tiles run in turn, each one's col2im split by output channels.
      const parts = splitRange(mg, 1, threads);
      try {
        forEachTile((g, xg, yg, t0, np) => {
          gemmNchw(kr, packed[g], xg + t0 * 4, hw, np, col, np);
          runSplit(
            kr,
            parts.map(([m0, mc]) => ({
              fn: "f32_col2im",
              args: col2imArgs(col, t0, np, yg, m0, mc),
            })),
          );
        });
      } finally {
        kr.arena.free(col);
      }
    }
  }
  const act = activationCode(epilogue.activation ?? "none");
  kr.fn.f32_addact_w4(n * m, ohw, y, ohw, 0, 0, act, epilogue.p0 ?? 0, epilogue.p1 ?? 0);
}

const convTranspose: Op<ConvTransposeState> = {
  type: "ConvTranspose",
  check(node) {
    const reasons = [...checkWindowAttributes(node), ...checkFusedActivation(node)];
    const shape = ints(node, "output_shape");
    if (shape && shape.length > 4) reasons.push(`${shape.length - 2}-D output_shape`);
    if (node.attributes.fused_residual !== undefined) {
      reasons.push("a fused residual is not supported on ConvTranspose");
    }
    return reasons;
  },
  inferShapes(node, inputs): OutputInfo[] {
    const [x, w, b] = inputs;
    if (!x || !w) throw new ShapeError(`${nodeLabel(node)}: inputs X and W are required`);
    requireFloat32(node, inputs);
    return [{ type: "float32", dims: convTransposeShape(node, x.dims, w.dims, b?.dims).dims }];
  },
  prepare(ctx, node, inputs: (InputInfo | undefined)[]): ConvTransposeState {
    const [x, w, b] = inputs;
    const state: ConvTransposeState = {};
    if (b?.value) state.bias = new Float32Array(b.value.data as Float32Array);
    if (w?.value) {
      const shape = convTransposeShape(node, x!.dims, w.dims, b?.dims);
      const rows = (shape.m / shape.group) * shape.y.k * shape.x.k;
      state.packed = packTransposed(
        ctx.kernels,
        w.value.data as Float32Array,
        shape.c,
        shape.group,
        rows,
        `${node.inputs[1]} (packed)`,
      );
    }
    return state;
  },
  run(ctx, node, inputs, outputs, state) {
    const kr = ctx.kernels;
    const [x, w, b] = inputs as (ArenaTensor | undefined)[];
    const shape = convTransposeShape(node, x!.dims, w!.dims, b?.dims);
    let packed = state.packed;
    if (!packed) {
      const rows = (shape.m / shape.group) * shape.y.k * shape.x.k;
      const wv = kr.arena.f32(w!.offset, sizeOf(w!.dims)).slice();
      packed = packTransposed(kr, wv, shape.c, shape.group, rows, "ConvTranspose weights");
    }
    const bias = state.bias ?? (b ? kr.arena.f32(b.offset, shape.m).slice() : undefined);
    try {
      runConvTranspose(kr, shape, x!.offset, packed, bias, outputs[0].offset, fusedEpilogue(node));
    } finally {
      if (!state.packed) { for (const p of packed) releaseNchwWeights(kr, p); }
    }
  },
  release(ctx, state) {
    for (const p of state.packed ?? []) releaseNchwWeights(ctx.kernels, p);
  },
};

/** ConvTranspose. */
export const ops: Op[] = [convTranspose as Op];
