/**
 * MatMul (numpy semantics with batch broadcasting) and Gemm (ONNX: transA/transB/alpha/beta,
 * bias C). Constant right-hand matrices are packed once in `prepare`.
 *
 * @module
 */
import type { Activation } from "../../kernels-as/activations.ts";
import { DTypeError, ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { isFloat16Origin } from "../weights/f16_gemv.ts";
import {
  type Epilogue,
  gemm,
  type PackedGemmWeights,
  packGemmWeights,
  releaseGemmWeights,
} from "./gemm.ts";
import { nodeLabel } from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";

/** The fused epilogue a fusion pass attached to a node, if any. */
export function fusedEpilogue(node: Node): Epilogue {
  const a = node.attributes;
  return {
    activation: (a.fused_activation as Activation | undefined) ?? "none",
    p0: (a.fused_p0 as number | undefined) ?? 0,
    p1: (a.fused_p1 as number | undefined) ?? 0,
  };
}

/** Broadcast of two batch shapes (numpy rules); throws ShapeError naming `what`. */
export function broadcastBatch(a: readonly number[], b: readonly number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new ShapeError(
        `${what}: batch dims [${a.join(", ")}] and [${b.join(", ")}] do not broadcast`,
      );
    }
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Shapes of a matrix product after numpy's 1-D promotions. */
export interface MatMulShape {
  /** Broadcast batch dims. */
  batch: number[];
  /** Batch dims of A and B, aligned to `batch` (left-padded with 1). */
  batchA: number[];
  batchB: number[];
  m: number;
  k: number;
  n: number;
  /** The output dims (promoted axes removed again). */
  dims: number[];
}

/** Resolves the shapes of A·B per numpy.matmul. */
export function matmulShape(a: readonly number[], b: readonly number[], what: string): MatMulShape {
  if (a.length === 0 || b.length === 0) {
    throw new ShapeError(`${what}: MatMul needs inputs of rank ≥ 1, got [${a}] and [${b}]`);
  }
  const a2 = a.length === 1 ? [1, a[0]] : [...a];
  const b2 = b.length === 1 ? [b[0], 1] : [...b];
  const [m, k] = a2.slice(-2);
  const [kb, n] = b2.slice(-2);
  if (k !== kb) {
    throw new ShapeError(
      `${what}: inner dimensions differ: A is [${a.join(", ")}], B is [${b.join(", ")}] ` +
        `(${k} vs ${kb})`,
    );
  }
  const batch = broadcastBatch(a2.slice(0, -2), b2.slice(0, -2), what);
  const pad = (x: number[]) => [...new Array(batch.length - x.length).fill(1), ...x];
  const dims = [...batch];
  if (a.length > 1) dims.push(m);
  if (b.length > 1) dims.push(n);
  return { batch, batchA: pad(a2.slice(0, -2)), batchB: pad(b2.slice(0, -2)), m, k, n, dims };
}

/** Offset (in matrices) of batch index `idx` in a batch shape that broadcasts to `batch`. */
function batchOffset(idx: number, batch: number[], own: number[]): number {
  let off = 0;
  let stride = 1;
  for (let i = batch.length - 1; i >= 0; i--) {
    const coord = idx % batch[i];
    idx = Math.floor(idx / batch[i]);
    if (own[i] !== 1) off += coord * stride;
    stride *= own[i];
  }
  return off;
}

function checkFloat(node: Node, inputs: (InputInfo | undefined)[], count: number): void {
  for (let i = 0; i < count; i++) {
    const t = inputs[i];
    if (!t) throw new ShapeError(`${nodeLabel(node)}: input ${i} is missing`);
    if (t.type !== "float32") {
      throw new DTypeError(
        `${nodeLabel(node)}: input ${i} is "${t.type}", only "float32" is supported`,
      );
    }
  }
}

/** Packs every batch matrix of a constant B, for products of `rows` rows (the first run's). */
function packConstant(
  kr: Kernels,
  b: InputInfo,
  k: number,
  n: number,
  rows: number,
  name: string,
) {
  const data = b.value!.data as Float32Array;
  const count = data.length / (k * n);
  const raw = kr.arena.alloc(k * n * 4, name);
  const packed: PackedGemmWeights[] = [];
  try {
    for (let i = 0; i < count; i++) {
      kr.arena.f32(raw, k * n).set(data.subarray(i * k * n, (i + 1) * k * n));
      packed.push(
        packGemmWeights(kr, raw, k, n, {
          name,
          sparse: true,
          float16: isFloat16Origin(b.value),
          rows,
        }),
      );
    }
  } finally {
    kr.arena.free(raw);
  }
  return packed;
}

interface MatMulState {
  /** Packed constant B matrices (one per batch entry of B), or undefined when B varies. */
  packed?: PackedGemmWeights[];
}

/**
 * Runs C = A·B (+ bias) over broadcast batches, packing B per call unless packed ahead.
 * Offsets are arena byte offsets; `bias` is the offset of N floats or 0 (only used when B is
 * packed here).
 */
export function runMatMul(
  kr: Kernels,
  shape: MatMulShape,
  a: number,
  b: number | PackedGemmWeights[],
  c: number,
  epilogue: Epilogue,
  bias = 0,
): void {
  const { m, k, n, batch, batchA, batchB } = shape;
  const total = sizeOf(batch);
  if (m * n * total === 0) return; // an empty output
  let scratch: PackedGemmWeights | undefined;
  let lastB = -1;
  try {
    for (let i = 0; i < total; i++) {
      const ia = batchOffset(i, batch, batchA);
      const ib = batchOffset(i, batch, batchB);
      let w: PackedGemmWeights;
      if (typeof b === "number") {
        if (ib !== lastB) {
          if (scratch) kr.arena.free(scratch.offset);
          scratch = packGemmWeights(kr, b + ib * k * n * 4, k, n, { bias, name: "MatMul B" });
          lastB = ib;
        }
        w = scratch!;
      } else {
        w = b[ib];
      }
      gemm(kr, m, a + ia * m * k * 4, k, w, c + i * m * n * 4, n, epilogue);
    }
  } finally {
    if (scratch) kr.arena.free(scratch.offset);
  }
}

const matMul: Op<MatMulState> = {
  type: "MatMul",
  inferShapes(node, inputs): OutputInfo[] {
    checkFloat(node, inputs, 2);
    return [{
      type: "float32",
      dims: matmulShape(inputs[0]!.dims, inputs[1]!.dims, nodeLabel(node)).dims,
    }];
  },
  prepare(ctx, node, inputs) {
    const b = inputs[1]!;
    if (!b.value || b.dims.length < 2) return {};
    const [k, n] = b.dims.slice(-2);
    if (k * n === 0) return {}; // nothing to pack: runMatMul handles empty products
    // A's rows: each product of the first run has that many (1 for a vector A).
    const a = inputs[0]!.dims;
    const rows = a.length >= 2 ? a[a.length - 2] : 1;
    return { packed: packConstant(ctx.kernels, b, k, n, rows, `${node.inputs[1]} (packed)`) };
  },
  run(ctx, node, inputs, outputs, state) {
    const [a, b] = inputs as ArenaTensor[];
    const shape = matmulShape(a.dims, b.dims, nodeLabel(node));
    runMatMul(
      ctx.kernels,
      shape,
      a.offset,
      state.packed ?? b.offset,
      outputs[0].offset,
      fusedEpilogue(node),
    );
  },
  release(ctx, state) {
    for (const p of state.packed ?? []) releaseGemmWeights(ctx.kernels, p);
  },
};

interface GemmState {
  packed?: PackedGemmWeights;
  /** C folded into the packed bias (constant, broadcast along rows, beta applied). */
  biasFolded: boolean;
}

function gemmDims(node: Node, inputs: (InputInfo | ArenaTensor | undefined)[]) {
  const transA = (node.attributes.transA as number | undefined) ?? 0;
  const transB = (node.attributes.transB as number | undefined) ?? 0;
  const a = inputs[0]!.dims;
  const b = inputs[1]!.dims;
  if (a.length !== 2 || b.length !== 2) {
    throw new ShapeError(`${nodeLabel(node)}: Gemm needs 2-D A and B, got [${a}] and [${b}]`);
  }
  const [m, k] = transA ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = transB ? [b[1], b[0]] : [b[0], b[1]];
  if (k !== kb) {
    throw new ShapeError(
      `${nodeLabel(node)}: inner dimensions differ: A [${a}]${transA ? "ᵀ" : ""}, ` +
        `B [${b}]${transB ? "ᵀ" : ""}`,
    );
  }
  return { m, k, n, transA, transB };
}

function cBroadcastsTo(c: readonly number[], m: number, n: number): boolean {
  if (c.length > 2) return false;
  const [cm, cn] = c.length === 2 ? c : c.length === 1 ? [1, c[0]] : [1, 1];
  return (cm === 1 || cm === m) && (cn === 1 || cn === n);
}

const gemmOp: Op<GemmState> = {
  type: "Gemm",
  inferShapes(node, inputs): OutputInfo[] {
    checkFloat(node, inputs, 2);
    const { m, n } = gemmDims(node, inputs);
    const c = inputs[2];
    if (c && !cBroadcastsTo(c.dims, m, n)) {
      throw new ShapeError(`${nodeLabel(node)}: C [${c.dims}] does not broadcast to [${m}, ${n}]`);
    }
    return [{ type: "float32", dims: [m, n] }];
  },
  prepare(ctx, node, inputs) {
    const kr = ctx.kernels;
    const b = inputs[1]!;
    const c = inputs[2];
    if (!b.value) return { biasFolded: false };
    const { m, k, n, transB } = gemmDims(node, inputs);
    const alpha = (node.attributes.alpha as number | undefined) ?? 1;
    const beta = (node.attributes.beta as number | undefined) ?? 1;
    const w = new Float32Array(b.value.data as Float32Array);
    if (alpha !== 1) { for (let i = 0; i < w.length; i++) w[i] *= alpha; }
    // A constant C that varies only along columns becomes the packed bias.
    const rowBias = c?.value && (c.dims.length < 2 || c.dims[0] === 1);
    let bias = 0;
    const raw = kr.arena.alloc(w.byteLength, `${node.inputs[1]}`);
    try {
      kr.arena.f32(raw, w.length).set(w);
      if (rowBias) {
        const cv = c!.value!.data as Float32Array;
        bias = kr.arena.alloc(n * 4, `${node.inputs[2]}`);
        const bv = kr.arena.f32(bias, n);
        for (let j = 0; j < n; j++) bv[j] = beta * (cv.length === 1 ? cv[0] : cv[j]);
      }
      const packed = packGemmWeights(kr, raw, k, n, {
        transposed: transB === 1,
        bias,
        name: `${node.inputs[1]} (packed)`,
        sparse: true,
        // alpha scales the halves: they may no longer be exact.
        float16: alpha === 1 && isFloat16Origin(b.value),
        rows: m,
      });
      return { packed, biasFolded: !!rowBias };
    } finally {
      kr.arena.free(raw);
      if (bias) kr.arena.free(bias);
    }
  },
  run(ctx, node, inputs, outputs, state) {
    const kr = ctx.kernels;
    const [a, b, c] = inputs;
    const { m, k, n, transA, transB } = gemmDims(node, inputs);
    const alpha = (node.attributes.alpha as number | undefined) ?? 1;
    const beta = (node.attributes.beta as number | undefined) ?? 1;
    const addC = c && !state.biasFolded && beta !== 0;
    const epilogue = fusedEpilogue(node);
    const out = outputs[0].offset;
    let aOff = a!.offset;
    let aT = 0;
    let w = state.packed;
    try {
      if (transA) {
        aT = kr.arena.alloc(m * k * 4, `${node.name} Aᵀ`);
        const src = kr.arena.f32(a!.offset, m * k);
        const dst = kr.arena.f32(aT, m * k);
        for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) dst[j * k + i] = src[i * m + j];
        aOff = aT;
      }
      if (!w) {
        w = packGemmWeights(kr, b!.offset, k, n, { transposed: transB === 1, name: "Gemm B" });
      }
      // With a C to add afterwards the activation must wait until C is in.
      gemm(kr, m, aOff, k, w, out, n, addC ? {} : epilogue);
      const y = kr.arena.f32(out, m * n);
      if (!state.packed && alpha !== 1) { for (let i = 0; i < y.length; i++) y[i] *= alpha; }
      if (addC) {
        const [cm, cn] = c!.dims.length === 2
          ? c!.dims
          : c!.dims.length === 1
          ? [1, c!.dims[0]]
          : [1, 1];
        const cv = kr.arena.f32(c!.offset, cm * cn);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            y[i * n + j] += beta * cv[(cm === 1 ? 0 : i) * cn + (cn === 1 ? 0 : j)];
          }
        }
        if ((epilogue.activation ?? "none") !== "none") {
          throw new ShapeError(
            `${nodeLabel(node)}: a fused activation needs C folded into the bias`,
          );
        }
      }
    } finally {
      if (aT) kr.arena.free(aT);
      if (w && !state.packed) kr.arena.free(w.offset);
    }
  },
  release(ctx, state) {
    if (state.packed) releaseGemmWeights(ctx.kernels, state.packed);
  },
};

/** MatMul and Gemm. */
export const ops: Op[] = [matMul as Op, gemmOp as Op];
