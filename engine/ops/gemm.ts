/**
 * Dense GEMM on arena offsets: weight packing and the kernel choice for each form.
 * See kernels-as/gemm/f32_gemm.tmpl.ts for the two forms and their packed layouts.
 *
 * @module
 */
import { type Activation, activationCode } from "../../kernels-as/activations.ts";
import { swizzleBlockRows } from "../../kernels-as/c4n/_swizzle_layout.ts";
import { QuartetError } from "../errors.ts";
import type { KernelChoice, Kernels } from "../wasm/kernels.ts";
import type { BlockSparseWeights } from "../weights/block_sparse.ts";
import { MIN_SPARSE_ZEROS, sparsePackers } from "../weights/sparse_packers.ts";
import {
  F16_GEMV_NR,
  f16GemvBytes,
  gemvWeightsOf,
  packF16Gemv,
  unpackF16Gemv,
} from "../weights/f16_gemv.ts";
import type { KernelCall } from "../threads/pool.ts";
import {
  itemsFor,
  noScratch,
  runQueued,
  runSplit,
  splitRange,
  threadsFor,
} from "../threads/split.ts";

/** A fused activation with its parameters (see kernels-as/activations.ts). */
export interface Epilogue {
  /** The activation; "none" by default. */
  activation?: Activation;
  /** First parameter: clamp lower bound, LeakyRelu / HardSigmoid alpha. */
  p0?: number;
  /** Second parameter: clamp upper bound, HardSigmoid beta. */
  p1?: number;
}

/** Columns per packed panel of the row-major-activation form (shared with GEMV). */
export const GEMM_NR = 8;
/**
 * Rows per packed weight panel of the channel-major (NCHW) form. 6x8 measured fastest with
 * relaxed FMA (12 accumulators + 2 weight vectors + 1 broadcast fit the 16 vector registers);
 * without FMA each step needs a temporary and 6x8 spills, so the other builds use 4x8
 * (measured 18 vs 11 GFLOP/s at 32x800x160 in the plain SIMD build).
 */
export function gemmNchwRows(kr: Kernels): number {
  return kr.variant === "relaxed" ? 6 : 4;
}

/** Weights packed for `gemm`: W is k x n. */
export interface PackedGemmWeights {
  /**
   * Byte offset of the packed panels in the arena; 0 for weights kept as f16 or block-sparse
   * until a product of more rows than their GEMV serves packs them (from that copy), and for
   * C4n weights whose every product runs the C4n kernels (`c4nRunsEveryProduct`: no dense
   * copy).
   */
  offset: number;
  /** Reduction length. */
  k: number;
  /** Output columns. */
  n: number;
  /**
   * Block-sparse copy of Wᵀ (n x k) with its bias (n floats or 0), for products of at most
   * `BLOCK_GEMV_MAX_ROWS` rows; dense panels, packed from it on first need, serve the rest.
   */
  block?: BlockSparseWeights & { bias: number; stored: number };
  /**
   * C4,2 / C4,3 copy of Wᵀ for the swizzle GEMV (`f32_gemv_c4n{n}_swizzle`), with its bias
   * (n floats or 0), for products of at most `C4N_GEMV_MAX_ROWS` rows.
   */
  c4n?: { offset: number; zeros: 2 | 3; bias: number };
  /**
   * Wᵀ as IEEE halves for `f32_gemv_f16w_4x8` (engine/weights/f16_gemv.ts), with its bias (n
   * floats or 0), for products of at most `F16_GEMV_MAX_ROWS` rows.
   */
  f16?: { offset: number; bias: number };
}

/** Weights packed for `gemmNchw`: W is m x k, dense panels or C4n survivors. */
export interface PackedNchwWeights {
  /** Byte offset of the packed weights in the arena. */
  offset: number;
  /** Output rows (channels). */
  m: number;
  /** Reduction length. */
  k: number;
  /** How they are stored. */
  format: "dense" | "c4n";
  /** C4n only: survivors per row, and the bias (m floats) or 0. */
  survivors?: number;
  bias?: number;
}

/** Options of `packGemmWeights`. */
export interface PackGemmOptions {
  /** W is stored as n x k (ONNX Gemm transB, Linear weights). */
  transposed?: boolean;
  /** Row stride of the stored matrix in floats (default: its row length). */
  ld?: number;
  /** Byte offset of n bias floats, or 0. */
  bias?: number;
  /** Name for the allocation (used in error messages). */
  name?: string;
  /**
   * Constant weights prepared once: also pack them block-sparse when the cost model predicts
   * a faster GEMV (and `kr.sparse` allows it), or keep them as f16 for the GEMV when the
   * `gemvWeights` policy allows it and the cost model predicts a gain; the choice is logged in
   * `kr.choices`.
   */
  sparse?: boolean;
  /** The values were stored as float16 in the model (exact halves: f16 loses nothing). */
  float16?: boolean;
  /**
   * Rows of the products these weights will serve, when known (an op's first run): a sparse
   * or f16 copy is made only if products of that many rows would run on it.
   */
  rows?: number;
}

/**
 * Measured time of `f32_gemv_block_16` per stored value relative to the dense GEMV per weight
 * (bench/block_sparse.ts: 2.8x at 1024x1024 storing 25 %): a layer's GEMV goes block-sparse
 * when stored fraction × this < 1.
 */
export const BLOCK_GEMV_COST = 1.45;
/** Products with at most this many rows use the block-sparse GEMV (one call per row). */
export const BLOCK_GEMV_MAX_ROWS = 4;

/**
 * Measured time of the C4n swizzle GEMV over the dense GEMV on the same weights (relaxed build,
 * one thread, medians of 30 interleaved rounds; bench/sparse.ts and the Mamba shapes): `cache`
 * while the weights stay in cache between calls, `memory` once they stream from memory (a layer
 * above C4N_GEMV_STREAM_BYTES, or any layer of a model whose weights are that large, since
 * the other layers evict it between calls). Short reductions pay each row block's fixed cost
 * (finishing its rows): the ratio grows by (1 + C4N_GEMV_SHORT_K / k), or by
 * (1 + C4N_GEMV_SHORT_K_STREAMING / k) when the weights stream. Measured:
 * - C4,3: 0.58-0.61 in cache (1024x1024, 3072x768, 768x1536, 80x1536), 0.76 at 256x256,
 *   1.58 at k = 48; 0.33-0.43 streaming (4096x4096, 50280x768).
 * - C4,2: 1.15-1.18 in cache (it reads 53 % of the dense bytes, but a vector of 4 survivors
 *   costs a mask load, a swizzle, a weight load and a multiply-add where the dense kernel spends
 *   one load and one multiply-add on 4 weights), 0.59-0.74 streaming.
 */
export const C4N_GEMV_COST = {
  2: { cache: 1.15, memory: 0.7 },
  3: { cache: 0.6, memory: 0.4 },
} as const;
/** Dense weight bytes above which the GEMV streams from memory (this host: 2 MB L2, 32 MB L3). */
export const C4N_GEMV_STREAM_BYTES = 16 << 20;
/** The reduction length at which a row block's fixed cost equals its multiply-adds' (C4,3 fit). */
export const C4N_GEMV_SHORT_K = 70;
/**
 * C4N_GEMV_SHORT_K for weights that stream from memory, where part of a row block's fixed cost
 * hides behind the loads: fit to C4,3 at 1536 x 48 (Mamba-130m's dt_proj) with the weights
 * evicted between calls, 0.70-0.75 of the dense time in three runs (the cache fit predicted
 * 0.98 and kept it dense); C4,2 measured 0.93-0.99 there and this predicts 1.31, dense still.
 */
export const C4N_GEMV_SHORT_K_STREAMING = 42;
/**
 * A layer goes C4n only when the predicted ratio is below this: measurements here vary by
 * ±10 % between runs, and a wrong guess must not make the layer slower.
 */
export const C4N_GEMV_MARGIN = 0.9;
/**
 * Measured time of the several-input C4n kernel (`f32_gemm_c4n{n}_swizzle`, on the GEMV's packed
 * weights) over the dense GEMM, for products of more than C4N_GEMV_MAX_ROWS rows (relaxed build,
 * one thread, Mamba's 3072x768, 768x1536 and 80x1536 projections): at 64 rows C4,3 0.47-0.53,
 * C4,2 0.96-1.05; at 6 to 512 rows, 31 interleaved rounds, C4,3 0.47-0.62 and C4,2 0.85-1.32
 * (mostly 1.0-1.2; a C4,2 prefill of 16 to 256 tokens of the whole model 1.08-1.22x slower).
 */
export const C4N_GEMM_COST = { 2: 1.1, 3: 0.55 } as const;
/**
 * C4n weights keep a dense copy (GEMM panels) for products of more than C4N_GEMV_MAX_ROWS rows
 * only when the several-input C4n kernel is predicted above this multiple of the dense GEMM's
 * time. The copy is 1.9x the C4,2 packed bytes (3.7x the C4,3 ones), and packing it is most of
 * the build time (mamba-130m C4,2, bench/mamba: an arena of 754 against 271 MiB, built in 3.1
 * against 1.5 s), for a gain of about 10 % on prompts and batches (C4,2), nothing on decode
 * steps: not worth it. Where a weight's products are known to have more rows
 * (`PackGemmOptions.rows`), the faster kernel is chosen instead, by C4N_GEMV_MARGIN.
 */
export const C4N_GEMM_COPY_LIMIT = 1.25;

/**
 * Whether C4n weights with `zeros` zeros per group run every product on the C4n kernels, so no
 * dense panels are packed (see C4N_GEMM_COPY_LIMIT).
 */
export function c4nRunsEveryProduct(zeros: 2 | 3): boolean {
  return C4N_GEMM_COST[zeros] <= C4N_GEMM_COPY_LIMIT;
}
/** Products with at most this many rows use the C4n GEMV (one call per row). */
export const C4N_GEMV_MAX_ROWS = 4;

/**
 * Measured time of `f32_gemv_f16w_4x8` over the f32 GEMV for one row (bench/gemv_f16.ts,
 * relaxed build, one thread): `cache` while the f32 weights stay in cache between calls (the
 * conversion costs more than the bytes it saves: 1.25x up to 1280 x 1280), `memory` once they
 * stream from L3 or memory (0.5-0.7x at 4096 x 4096 and 768 x 50280, 0.8x at 2048 x 2048, and
 * 0.6-0.7x for layers of any size whose model's weights do not fit the cache, so they are
 * evicted between calls). With 2 to 4 rows the f16 kernel also beats the f32 GEMM tile
 * (0.65-0.85x, in cache too).
 */
export const F16_GEMV_COST = { cache: 1.25, memory: 0.65 } as const;
/**
 * f32 bytes of a layer, or of all of a model's weights, above which the GEMV streams its
 * weights (this host: 2 MB L2, 32 MB L3; 1536 x 1536 still measured 1.0x, 2048 x 2048 0.8x).
 */
export const F16_GEMV_STREAM_BYTES = 12 << 20;
/** A layer goes f16 only when the predicted ratio is below this (see C4N_GEMV_MARGIN). */
export const F16_GEMV_MARGIN = 0.9;
/** Products with at most this many rows use the f16 GEMV (one call for all rows). */
export const F16_GEMV_MAX_ROWS = 4;

/**
 * Predicted f16 GEMV time over f32 GEMV time for an n x k weight of a model with `modelBytes`
 * bytes of weights.
 */
export function f16GemvRatio(n: number, k: number, modelBytes = 0): number {
  return Math.max(4 * n * k, modelBytes) > F16_GEMV_STREAM_BYTES
    ? F16_GEMV_COST.memory
    : F16_GEMV_COST.cache;
}

/**
 * Wᵀ as halves for the f16 GEMV when the policy (`gemvWeights`) allows it and the cost model
 * predicts a gain, else undefined; logs the choice. Throws ModelFormatError for NaN or
 * infinite weights.
 */
function packF16GemvFor(
  kr: Kernels,
  w: number,
  k: number,
  n: number,
  transposed: boolean,
  ld: number,
  bias: number,
  name: string,
  float16: boolean,
  rows: number | undefined,
): PackedGemmWeights["f16"] {
  const { policy, modelBytes } = gemvWeightsOf(kr);
  if (policy === "f32" || (policy === "auto" && !float16)) return undefined;
  const what = float16 ? "stored as float16" : 'rounded to f16 (gemvWeights: "f16")';
  if (rows !== undefined && rows > F16_GEMV_MAX_ROWS) {
    kr.choices.push({
      name,
      format: "dense",
      reason: `${what} but kept as f32: its products have ${rows} rows (the f16 GEMV serves ` +
        `products of up to ${F16_GEMV_MAX_ROWS})`,
    });
    return undefined;
  }
  // The scalar build converts one half at a time: 2x slower than its f32 GEMV.
  const ratio = kr.variant === "scalar" ? 2 : f16GemvRatio(n, k, modelBytes);
  if (ratio >= F16_GEMV_MARGIN) {
    kr.choices.push({
      name,
      format: "dense",
      reason: `${what} but kept as f32: the f16 GEMV is predicted at ` +
        `${(ratio * 100).toFixed(0)} % of the f32 time (${
          kr.variant === "scalar" ? "scalar build" : "the weights stay in cache"
        })`,
    });
    return undefined;
  }
  const wt = transposedWeights(kr, w, k, n, transposed, ld);
  const halves = packF16Gemv(wt, n, k, `Weights "${name}"`);
  if (!halves) {
    kr.choices.push({
      name,
      format: "dense",
      reason: `${what} but kept as f32: some weights exceed the f16 range`,
    });
    return undefined;
  }
  const offset = kr.arena.alloc(halves.byteLength, `${name} (f16 GEMV)`);
  kr.arena.u8(offset, halves.byteLength).set(new Uint8Array(halves.buffer));
  kr.choices.push({
    name,
    format: "f16",
    reason: `${what}; the f16 GEMV is predicted at ${(ratio * 100).toFixed(0)} % of the f32 ` +
      `time (products of up to ${F16_GEMV_MAX_ROWS} rows; larger ones use f32 panels of the ` +
      "same values)",
  });
  return { offset, bias: copyBias(kr, bias, n, name) };
}

/**
 * Packs the dense f32 panels of a layer kept only as f16 or block-sparse weights, on its first
 * product of more rows than their GEMV serves, from that copy.
 */
function densePanels(kr: Kernels, w: PackedGemmWeights): void {
  let wt: Float32Array;
  let bias: number;
  if (w.f16) {
    const p = w.f16;
    wt = unpackF16Gemv(
      new Uint16Array(kr.arena.memory.buffer, p.offset, f16GemvBytes(w.n, w.k) / 2),
      w.n,
      w.k,
    );
    bias = p.bias;
  } else if (w.block) {
    const block = sparsePackers()!.block;
    wt = block.unpackBlockSparse(block.downloadBlockSparse(kr, w.block));
    bias = w.block.bias;
  } else {
    // Not reachable: packGemmWeights leaves the panels out only beside one of those copies
    // (or C4n weights, which never get here).
    throw new QuartetError("Packed GEMM weights have neither dense panels nor a copy");
  }
  const raw = kr.arena.alloc(wt.byteLength, "weights as f32");
  try {
    kr.arena.f32(raw, wt.length).set(wt);
    const offset = kr.arena.alloc(kr.fn.x32_pack_gemm_size(w.k, w.n, GEMM_NR), "packed weights");
    kr.fn.x32_pack_gemm(w.k, w.n, GEMM_NR, raw, w.k, 1, bias, offset);
    w.offset = offset;
  } finally {
    kr.arena.free(raw);
  }
}

/**
 * Predicted C4n GEMV time over dense GEMV time for an n x k weight (n outputs) of a model with
 * `modelBytes` bytes of weights.
 */
export function c4nGemvRatio(
  zeros: 2 | 3,
  outputs: number,
  k: number,
  modelBytes = 0,
): number {
  const c = C4N_GEMV_COST[zeros];
  const streams = Math.max(4 * outputs * k, modelBytes) > C4N_GEMV_STREAM_BYTES;
  return streams
    ? c.memory * (1 + C4N_GEMV_SHORT_K_STREAMING / k)
    : c.cache * (1 + C4N_GEMV_SHORT_K / k);
}

/**
 * C4n-packed Wᵀ for the GEMV when every group qualifies and the cost model predicts a gain;
 * null when the weights are C4n but the layer stays dense (logged), undefined when not C4n.
 */
function packC4nGemvFor(
  kr: Kernels,
  wt: Float32Array,
  k: number,
  n: number,
  bias: number,
  name: string,
  rows: number | undefined,
): PackedGemmWeights["c4n"] | null {
  const sp = sparsePackers();
  if (!sp || kr.variant === "scalar" || k < 16) return undefined;
  const found = sp.c4n.detectC4n(wt, n, k);
  if (found < 2) return undefined;
  const zeros = found >= 3 ? 3 : 2;
  const what = `C4,${zeros} (every group of 4 along the reduction has >= ${zeros} zeros)`;
  if (rows !== undefined && rows > C4N_GEMV_MAX_ROWS && C4N_GEMM_COST[zeros] >= C4N_GEMV_MARGIN) {
    kr.choices.push({
      name,
      format: "dense",
      reason: `${what}: its products have ${rows} rows, and the several-input C4n kernel is ` +
        `predicted at ${(C4N_GEMM_COST[zeros] * 100).toFixed(0)} % of the dense GEMM time, ` +
        `not enough`,
    });
    return null;
  }
  const ratio = c4nGemvRatio(zeros, n, k, gemvWeightsOf(kr).modelBytes);
  if (ratio >= C4N_GEMV_MARGIN) {
    kr.choices.push({
      name,
      format: "dense",
      reason: `${what}: the C4n GEMV is predicted at ${(ratio * 100).toFixed(0)} % of the ` +
        `dense time, not enough (${n} x ${k})`,
    });
    return null;
  }
  const packed = sp.c4nGemv.packC4nGemv(wt, n, k, zeros);
  sp.c4nGemv.validateC4nGemv(packed, `C4n GEMV weights "${name}"`);
  const offset = kr.arena.alloc(sp.c4nGemv.c4nGemvBytes(n, k, zeros), `${name} (C4n GEMV)`);
  kr.arena.u8(offset, packed.bytes.length).set(packed.bytes);
  const b = copyBias(kr, bias, n, name);
  kr.choices.push({
    name,
    format: `c4n:${zeros}`,
    reason: `${what}; GEMV predicted at ${(ratio * 100).toFixed(0)} % of the dense time ` +
      `(products of up to ${C4N_GEMV_MAX_ROWS} rows; longer ones ` +
      (c4nRunsEveryProduct(zeros)
        ? `run the several-input C4n kernel, predicted at ` +
          `${(C4N_GEMM_COST[zeros] * 100).toFixed(0)} % of the dense GEMM, with no dense copy)`
        : "run the dense panels)"),
  });
  return { offset, zeros, bias: b };
}

/** Whether a stored weight has any zero (dense models skip every sparse check and copy). */
function hasZeros(
  kr: Kernels,
  w: number,
  k: number,
  n: number,
  transposed: boolean,
  ld: number,
): boolean {
  const rows = transposed ? n : k;
  const cols = transposed ? k : n;
  const stored = kr.arena.f32(w, (rows - 1) * ld + cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) if (stored[i * ld + j] === 0) return true;
  }
  return false;
}

/** A sparse copy's own bias (n floats), or 0 without one. */
function copyBias(kr: Kernels, bias: number, n: number, name: string): number {
  if (!bias) return 0;
  const b = kr.arena.alloc(n * 4, `${name} bias`);
  kr.arena.f32(b, n).set(kr.arena.f32(bias, n));
  return b;
}

/** Wᵀ (n x k, row-major) of a stored k x n or n x k weight. */
function transposedWeights(
  kr: Kernels,
  w: number,
  k: number,
  n: number,
  transposed: boolean,
  ld: number,
): Float32Array {
  // A view, not a copy (callers read it before their next arena allocation).
  if (transposed && ld === k) return kr.arena.f32(w, n * k);
  const stored = transposed ? kr.arena.f32(w, (n - 1) * ld + k) : kr.arena.f32(w, (k - 1) * ld + n);
  const wt = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      wt[i * k + j] = transposed ? stored[i * ld + j] : stored[j * ld + i];
    }
  }
  return wt;
}

/** Block-sparse Wᵀ (n x k, row-major) for the GEMV when it predicts a gain; logs the choice. */
function packBlockGemv(
  kr: Kernels,
  wt: Float32Array,
  k: number,
  n: number,
  bias: number,
  name: string,
  rows: number | undefined,
): PackedGemmWeights["block"] {
  const sp = sparsePackers();
  if (!sp) return undefined;
  const { BLOCK_SPARSE_BC, BLOCK_SPARSE_BR } = sp.block;
  // Cheap first look: too few zeros for any gain.
  let zeros = 0;
  for (let i = 0; i < n * k; i++) if (wt[i] === 0) zeros++;
  const nonzero = 1 - zeros / (n * k);
  if (zeros === 0 || nonzero * BLOCK_GEMV_COST >= 1) return undefined;
  if (rows !== undefined && rows > BLOCK_GEMV_MAX_ROWS) {
    // Only GEMVs run block-sparse: products of more rows would never read the copy.
    kr.choices.push({
      name,
      format: "dense",
      reason: `${(nonzero * 100).toFixed(0)} % non-zero, but its products have ${rows} rows ` +
        `(the block-sparse GEMV serves products of up to ${BLOCK_GEMV_MAX_ROWS})`,
    });
    return undefined;
  }
  const packed = sp.block.packBlockSparse(wt, n, k);
  const storedFraction = packed.values.length / (n * k);
  const predicted = storedFraction * BLOCK_GEMV_COST;
  const what = `${(nonzero * 100).toFixed(0)} % non-zero; blocks of ` +
    `${BLOCK_SPARSE_BR}x${BLOCK_SPARSE_BC} keep ${(storedFraction * 100).toFixed(0)} %`;
  if (predicted >= 1) {
    kr.choices.push({ name, format: "dense", reason: `${what}: the cost model predicts no gain` });
    return undefined;
  }
  const block = sp.block.uploadBlockSparse(kr, packed, name);
  const b = copyBias(kr, bias, n, name);
  kr.choices.push({
    name,
    format: `block:${BLOCK_SPARSE_BR}x${BLOCK_SPARSE_BC}`,
    reason: `${what}; predicted ${(predicted * 100).toFixed(0)} % of the dense GEMV time ` +
      `(products of up to ${BLOCK_GEMV_MAX_ROWS} rows)`,
  });
  return { ...block, bias: b, stored: storedFraction };
}

/** Frees packed GEMM weights (and their sparse or f16 copy). */
export function releaseGemmWeights(kr: Kernels, w: PackedGemmWeights): void {
  if (w.offset) kr.arena.free(w.offset);
  if (w.f16) {
    kr.arena.free(w.f16.offset);
    if (w.f16.bias) kr.arena.free(w.f16.bias);
  }
  if (w.c4n) {
    kr.arena.free(w.c4n.offset);
    if (w.c4n.bias) kr.arena.free(w.c4n.bias);
  }
  if (w.block) {
    sparsePackers()!.block.releaseBlockSparse(kr, w.block);
    if (w.block.bias) kr.arena.free(w.block.bias);
  }
}

/** Packs W (k x n, at byte offset `w`) into a new arena block. */
export function packGemmWeights(
  kr: Kernels,
  w: number,
  k: number,
  n: number,
  options: PackGemmOptions = {},
): PackedGemmWeights {
  const transposed = options.transposed ?? false;
  const ld = options.ld ?? (transposed ? k : n);
  const name = options.name ?? "packed weights";
  const bias = options.bias ?? 0;
  const panels = () => {
    const offset = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, n, GEMM_NR), name);
    kr.fn.x32_pack_gemm(k, n, GEMM_NR, w, ld, transposed ? 1 : 0, bias, offset);
    return offset;
  };
  if (!options.sparse || k <= 0 || n <= 0) return { offset: panels(), k, n };
  // Without the sparse formats loaded (no weight of the model is zero-rich) nothing to look for.
  if (kr.sparse !== "off" && sparsePackers() && hasZeros(kr, w, k, n, transposed, ld)) {
    // Wᵀ once for both sparse formats (a view of transposed weights: nothing below allocates
    // from the arena before the last read of it).
    const wt = transposedWeights(kr, w, k, n, transposed, ld);
    const c4n = packC4nGemvFor(kr, wt, k, n, bias, name, options.rows);
    // No dense copy where the C4n kernels take every product: it would be the largest part of
    // the layer's memory (C4,3: 4x its packed survivors), never read.
    if (c4n) return { offset: c4nRunsEveryProduct(c4n.zeros) ? 0 : panels(), k, n, c4n };
    if (c4n === undefined) {
      const block = packBlockGemv(kr, wt, k, n, bias, name, options.rows);
      // The dense panels wait until a product of more rows needs them (densePanels).
      if (block) return { offset: 0, k, n, block };
    }
  }
  // The f32 panels of a layer kept as f16 wait until a product needs them.
  const f16 = packF16GemvFor(
    kr,
    w,
    k,
    n,
    transposed,
    ld,
    bias,
    name,
    !!options.float16,
    options.rows,
  );
  return f16 ? { offset: 0, k, n, f16 } : { offset: panels(), k, n };
}

/** C[m,n] = act(A[m,k] · W + bias), A and C row-major at byte offsets with row strides. */
export function gemm(
  kr: Kernels,
  m: number,
  a: number,
  lda: number,
  w: PackedGemmWeights,
  c: number,
  ldc: number,
  epilogue: Epilogue = {},
): void {
  if (w.c4n && (m <= C4N_GEMV_MAX_ROWS || c4nRunsEveryProduct(w.c4n.zeros))) {
    c4nProduct(kr, m, a, lda, w, w.c4n, c, ldc, epilogue);
    return;
  }
  if (w.f16 && m <= F16_GEMV_MAX_ROWS) {
    const act = activationCode(epilogue.activation ?? "none");
    const p = w.f16;
    runSplit(
      kr,
      splitRange(w.n, F16_GEMV_NR, threadsFor(kr, 2 * m * w.n * w.k)).map(([j, len]) => ({
        fn: "f32_gemv_f16w_4x8",
        args: [
          m,
          w.n,
          w.k,
          j,
          j + len,
          p.offset,
          a,
          lda,
          p.bias,
          c,
          ldc,
          act,
          epilogue.p0 ?? 0,
          epilogue.p1 ?? 0,
        ],
      })),
    );
    return;
  }
  if (w.block && m <= BLOCK_GEMV_MAX_ROWS) {
    const b = w.block;
    const act = activationCode(epilogue.activation ?? "none");
    const parts = splitRange(
      b.bands,
      1,
      threadsFor(kr, 2 * m * w.n * w.k * b.stored * BLOCK_GEMV_COST),
    );
    for (let i = 0; i < m; i++) {
      runSplit(
        kr,
        parts.map(([band, count]) => ({
          fn: "f32_gemv_block_16",
          args: sparsePackers()!.block.blockGemvArgs(b, a + i * lda * 4, c + i * ldc * 4, {
            bias: b.bias,
            act,
            p0: epilogue.p0,
            p1: epilogue.p1,
            bands: [band, count],
          }),
        })),
      );
    }
    return;
  }
  if (!w.offset) densePanels(kr, w);
  const flops = 2 * m * w.n * w.k;
  const threads = threadsFor(kr, splitFlops(kr, m, w.n, w.k));
  const call = (rows: number, ai: number, wj: PackedGemmWeights, cij: number) =>
    gemmCall(kr, m === 1, rows, ai, lda, wj, cij, ldc, epilogue);
  const mr = kr.variant === "relaxed" ? 6 : 4;
  const items = itemsFor(threads, flops);
  if (threads > 1 && m > 1 && Math.ceil(m / mr) >= threads) {
    // Rows in whole register tiles, claimed by the threads as they go.
    runQueued(
      kr,
      splitRange(m, mr, items).map((
        [i, len],
      ) => [call(len, a + i * lda * 4, w, c + i * ldc * 4)]),
      noScratch(threads),
    );
  } else {
    // A GEMV or few rows: split the columns by whole panels, each thread streaming its own
    // share of the weights.
    runSplit(
      kr,
      splitRange(w.n, GEMM_NR, threads).map(([j, len]) =>
        call(m, a, gemmColumns(w, j, len), c + j * 4)
      ),
    );
  }
}

/**
 * `gemm` through the C4n kernels, the outputs split across threads at their row blocks: the
 * GEMV once per row of A up to C4N_GEMV_MAX_ROWS rows, else the several-input kernel once.
 */
function c4nProduct(
  kr: Kernels,
  m: number,
  a: number,
  lda: number,
  w: PackedGemmWeights,
  p: NonNullable<PackedGemmWeights["c4n"]>,
  c: number,
  ldc: number,
  epilogue: Epilogue,
): void {
  const several = m > C4N_GEMV_MAX_ROWS;
  const cost = several ? C4N_GEMM_COST[p.zeros] : C4N_GEMV_COST[p.zeros].cache;
  const parts = splitRange(
    w.n,
    swizzleBlockRows(p.zeros),
    threadsFor(kr, splitFlops(kr, several ? m : 1, w.n, w.k, cost)),
  );
  const act = [activationCode(epilogue.activation ?? "none"), epilogue.p0 ?? 0, epilogue.p1 ?? 0];
  if (several) {
    const fn = p.zeros === 2 ? "f32_gemm_c4n2_swizzle" : "f32_gemm_c4n3_swizzle";
    runSplit(
      kr,
      parts.map(([r0, len]) => ({
        fn,
        args: [w.n, w.k, m, r0, r0 + len, p.offset, a, lda, p.bias, c, ldc, ...act],
      })),
    );
    return;
  }
  const fn = p.zeros === 2 ? "f32_gemv_c4n2_swizzle" : "f32_gemv_c4n3_swizzle";
  for (let i = 0; i < m; i++) {
    runSplit(
      kr,
      parts.map(([r0, len]) => ({
        fn,
        args: [w.n, w.k, r0, r0 + len, p.offset, a + i * lda * 4, p.bias, c + i * ldc * 4, ...act],
      })),
    );
  }
}

/** Columns [j, j + n) of packed weights (j a multiple of GEMM_NR): whole panels. */
function gemmColumns(w: PackedGemmWeights, j: number, n: number): PackedGemmWeights {
  return { offset: w.offset + (j / GEMM_NR) * (w.k + 1) * GEMM_NR * 4, k: w.k, n };
}

/**
 * One unsplit `gemm` as a kernel call: the GEMV when the whole product has one row (`gemv`),
 * else the GEMM tile kernel, also for a one-row share of a split, so a split changes no sums.
 */
function gemmCall(
  kr: Kernels,
  gemv: boolean,
  m: number,
  a: number,
  lda: number,
  w: PackedGemmWeights,
  c: number,
  ldc: number,
  epilogue: Epilogue,
): KernelCall {
  const act = activationCode(epilogue.activation ?? "none");
  const p0 = epilogue.p0 ?? 0;
  const p1 = epilogue.p1 ?? 0;
  if (gemv) return { fn: "f32_gemv_1x8", args: [w.n, w.k, a, w.offset, c, act, p0, p1] };
  // Without FMA, mul + add needs a temporary per step: 6x8 would spill, 4x8 does not.
  return {
    fn: kr.variant === "relaxed" ? "f32_gemm_6x8" : "f32_gemm_4x8",
    args: [m, w.n, w.k, a, lda, w.offset, c, ldc, act, p0, p1],
  };
}

/**
 * Measured cost of the C4n SpMM per survivor relative to the dense NCHW GEMM per weight
 * (bench/sparse.ts, "c4n cost"): a layer goes sparse when survivors/k × this < 1.
 */
export const C4N_SPMM_COST = 1.7;

/**
 * The same for columns past the last full column panel (run 4 at a time from X): measured
 * 0.6–0.9x dense for C4,2 and 1.0–1.5x for C4,3 at 1–24 columns (1-D convs of silero VAD).
 */
export const C4N_SPMM_TAIL_COST = 3;

/**
 * A GEMV whose weights stream from memory takes about this many times a GEMM's time per flop
 * (bench/gemm: 11 GFLOP/s at 4096x4096 against 41 for MatMul 512³); `threadsFor` assumes
 * GEMM speed, so such a GEMV's thread count is decided on its flops scaled by it. Mamba
 * decode on 2 threads, interleaved in one process: C4,3 1.05x, C4,2 1.07x, dense 1.03x faster
 * than with unscaled flops (which left in_proj and out_proj on one thread). In cache the GEMV
 * runs near GEMM speed (30 GFLOP/s at 1024x1024) and its flops count as they are.
 */
export const GEMV_STREAM_TIME_PER_FLOP = 4;

/**
 * Flops of a product of `rows` rows with n x k weights (times `scale`, a kernel's cost relative
 * to the dense one), as `threadsFor` should weigh them: products of up to C4N_GEMV_MAX_ROWS
 * rows read each weight once, so when their weights stream from memory (the layer's or the
 * model's f32 bytes above C4N_GEMV_STREAM_BYTES) they count GEMV_STREAM_TIME_PER_FLOP times.
 */
function splitFlops(kr: Kernels, rows: number, n: number, k: number, scale = 1): number {
  const flops = 2 * rows * n * k * scale;
  if (rows > C4N_GEMV_MAX_ROWS) return flops;
  const streams = Math.max(4 * n * k, gemvWeightsOf(kr).modelBytes) > C4N_GEMV_STREAM_BYTES;
  return streams ? flops * GEMV_STREAM_TIME_PER_FLOP : flops;
}

/** Columns of the C4n SpMM's wide panels (`f32_spmm_c4n_1x48`; what they leave: 32-wide ones). */
export const C4N_SPMM_PANEL = 48;

/**
 * Columns of n left to the C4n SpMM's 4-column steps: the kernel takes 48-column panels, one
 * fewer when that leaves less, then 32-column ones.
 */
function c4nSpmmTail(n: number): number {
  const wide = Math.floor(n / C4N_SPMM_PANEL);
  const left = (panels: number) => (n - C4N_SPMM_PANEL * panels) % 32;
  return wide > 0 ? Math.min(left(wide), left(wide - 1)) : left(0);
}

/** " at N columns" for a choice's log when the column count is known, else "". */
function atColumns(cols: number | undefined): string {
  return cols ? ` at ${cols} column${cols === 1 ? "" : "s"}` : "";
}

/**
 * Packs W (m x k row-major at byte offset `w`, optional bias) for `gemmNchw`. The weights
 * decide the kernel: C4n-structured weights are packed sparse when the cost model predicts
 * a gain (and `kr.sparse` allows it); the choice is logged in `kr.choices`.
 */
export function packNchwWeights(
  kr: Kernels,
  w: number,
  m: number,
  k: number,
  options: { bias?: number; ld?: number; name?: string; columns?: number } = {},
): PackedNchwWeights {
  const name = options.name ?? "packed weights";
  const ld = options.ld ?? k;
  // Weights packed on every call (non-constant) log their choice once.
  const log = (c: KernelChoice) => {
    if (!kr.choices.some((x) => x.name === c.name)) kr.choices.push(c);
  };
  const sp = kr.sparse === "off" ? undefined : sparsePackers();
  const n = sp ? sp.c4n.detectC4n(kr.arena.f32(w, (m - 1) * ld + k), m, k, ld) : 0;
  if (sp && n > 0) {
    const s = sp.c4n.c4nSurvivors(k, n);
    // With a known column count, columns outside full 48- or 32-wide panels cost more.
    const cols = options.columns;
    const tail = cols ? c4nSpmmTail(cols) : 0;
    const cost = cols
      ? ((cols - tail) * C4N_SPMM_COST + tail * C4N_SPMM_TAIL_COST) / cols
      : C4N_SPMM_COST;
    const predicted = (s / k) * cost;
    if (predicted < 1) {
      const packed = sp.c4n.packC4n(kr.arena.f32(w, (m - 1) * ld + k), m, k, n, ld);
      sp.c4n.validateC4n(packed, `C4n weights "${name}"`);
      const offset = kr.arena.alloc(Math.max(packed.pairs.byteLength, 4), name);
      new Int32Array(kr.arena.memory.buffer, offset, packed.pairs.length).set(packed.pairs);
      let bias = 0;
      if (options.bias) {
        bias = kr.arena.alloc(m * 4, `${name} bias`);
        kr.arena.f32(bias, m).set(kr.arena.f32(options.bias, m));
      }
      log({
        name,
        format: `c4n:${n}`,
        reason: `every group of 4 has ≥ ${n} zeros; predicted ${(predicted * 100).toFixed(0)} % ` +
          `of dense time${atColumns(cols)}`,
      });
      return { offset, m, k, format: "c4n", survivors: s, bias };
    }
    log({
      name,
      format: "dense",
      reason: `C4,${n} structure found but the cost model predicts no gain ` +
        `(${(predicted * 100).toFixed(0)} % of dense time${atColumns(cols)})`,
    });
  } else {
    log({
      name,
      format: "dense",
      reason: kr.sparse === "off"
        ? "sparse kernels are off"
        : sp
        ? "no C4n structure"
        : `no weight of the model has ${MIN_SPARSE_ZEROS * 100} % zeros`,
    });
  }
  const mr = gemmNchwRows(kr);
  const bytes = kr.fn.x32_pack_gemm_nchw_size(m, k, mr);
  const offset = kr.arena.alloc(bytes, name);
  kr.fn.x32_pack_gemm_nchw(m, k, mr, w, ld, options.bias ?? 0, offset);
  return { offset, m, k, format: "dense" };
}

/** Frees packed NCHW weights. */
export function releaseNchwWeights(kr: Kernels, p: PackedNchwWeights): void {
  kr.arena.free(p.offset);
  if (p.bias) kr.arena.free(p.bias);
}

/** C[m,n] = act(W · X[k,n] + bias), X and C row-major (channels x pixels) at byte offsets. */
export function gemmNchw(
  kr: Kernels,
  w: PackedNchwWeights,
  x: number,
  ldx: number,
  n: number,
  c: number,
  ldc: number,
  epilogue: Epilogue = {},
): void {
  const call = (wi: PackedNchwWeights, xj: number, nj: number, cij: number) =>
    gemmNchwCall(kr, wi, xj, ldx, nj, cij, ldc, epilogue, 0);
  if (w.format === "c4n") {
    const flops = 2 * w.m * n * w.survivors! * C4N_SPMM_COST;
    // The kernel works on 48-pixel column panels, one scratch panel per thread (at offset 0
    // of the thread's scratch); threads claim column ranges as they go.
    const threads = threadsFor(kr, flops);
    const panelBytes = kr.fn.f32_spmm_c4n_panel_size(w.k);
    const panels = Array.from(
      { length: threads },
      () => kr.arena.alloc(panelBytes, "C4n column panel"),
    );
    try {
      runQueued(
        kr,
        splitRange(n, C4N_SPMM_PANEL, itemsFor(threads, flops)).map(([j, len]) => [
          gemmNchwCall(kr, w, x + j * 4, ldx, len, c + j * 4, ldc, epilogue, 0, { panel: true }),
        ]),
        panels,
      );
    } finally {
      for (const p of panels) kr.arena.free(p);
    }
    return;
  }
  const flops = 2 * w.m * n * w.k;
  const threads = threadsFor(kr, flops);
  const mr = gemmNchwRows(kr);
  const byPixels = Math.ceil(n / 8) >= 2 * threads;
  if (threads > 1 && !byPixels && Math.ceil(w.m / mr) >= threads) {
    // Few pixels: split the output channels by whole weight panels.
    const panelBytes = (w.k + 1) * mr * 4;
    runSplit(
      kr,
      splitRange(w.m, mr, threads).map(([i, len]) =>
        call({ ...w, m: len, offset: w.offset + (i / mr) * panelBytes }, x, n, c + i * ldc * 4)
      ),
    );
  } else {
    // Pixels split in whole 8-column tiles (or not at all when too few for every thread),
    // claimed by the threads as they go.
    runQueued(
      kr,
      splitRange(n, 8, byPixels ? itemsFor(threads, flops) : 1).map(([j, len]) => [
        call(w, x + j * 4, len, c + j * 4),
      ]),
      noScratch(byPixels ? threads : 1),
    );
  }
}

/**
 * One unsplit `gemmNchw` as a kernel call, for callers that split the work themselves (a
 * convolution hands each thread whole im2col tiles). `panel` is the thread's C4n scratch
 * (`f32_spmm_c4n_panel_size` bytes), unused by dense weights. `scratch` marks `x`, `c` and
 * `panel` as offsets into the running thread's scratch block (a queued call, see
 * `KernelCall`).
 */
export function gemmNchwCall(
  kr: Kernels,
  w: PackedNchwWeights,
  x: number,
  ldx: number,
  n: number,
  c: number,
  ldc: number,
  epilogue: Epilogue,
  panel: number,
  scratch: { x?: boolean; c?: boolean; panel?: boolean } = {},
): KernelCall {
  const act = activationCode(epilogue.activation ?? "none");
  const p0 = epilogue.p0 ?? 0;
  const p1 = epilogue.p1 ?? 0;
  const mask = (on: boolean | undefined, arg: number) => on ? 1 << arg : 0;
  if (w.format === "c4n") {
    return {
      fn: "f32_spmm_c4n_1x48",
      args: [w.m, n, w.k, w.survivors!, w.offset, x, ldx, w.bias ?? 0, c, ldc, act, p0, p1, panel],
      scratchArgs: mask(scratch.x, 5) | mask(scratch.c, 8) | mask(scratch.panel, 13),
    };
  }
  return {
    fn: gemmNchwRows(kr) === 6 ? "f32_gemm_nchw_6x8" : "f32_gemm_nchw_4x8",
    args: [w.m, n, w.k, w.offset, x, ldx, c, ldc, act, p0, p1],
    scratchArgs: mask(scratch.x, 4) | mask(scratch.c, 6),
  };
}
