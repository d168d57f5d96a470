/**
 * Dense GEMM on arena offsets: weight packing and the kernel choice for each form.
 * See kernels-as/gemm/f32_gemm.tmpl.ts for the two forms and their packed layouts.
 *
 * @module
 */
import { type Activation, activationCode } from "../../kernels-as/activations.ts";
import type { Kernels } from "../wasm/kernels.ts";

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
 * the plain SIMD build keeps the same packing and also uses its 6x8 tile.
 */
export const GEMM_NCHW_MR = 6;

/** Weights packed for `gemm`: W is k x n. */
export interface PackedGemmWeights {
  /** Byte offset of the packed panels in the arena. */
  offset: number;
  /** Reduction length. */
  k: number;
  /** Output columns. */
  n: number;
}

/** Weights packed for `gemmNchw`: W is m x k. */
export interface PackedNchwWeights {
  /** Byte offset of the packed panels in the arena. */
  offset: number;
  /** Output rows (channels). */
  m: number;
  /** Reduction length. */
  k: number;
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
  const bytes = kr.fn.x32_pack_gemm_size(k, n, GEMM_NR);
  const offset = kr.arena.alloc(bytes, options.name ?? "packed weights");
  kr.fn.x32_pack_gemm(k, n, GEMM_NR, w, ld, transposed ? 1 : 0, options.bias ?? 0, offset);
  return { offset, k, n };
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
  const act = activationCode(epilogue.activation ?? "none");
  const p0 = epilogue.p0 ?? 0;
  const p1 = epilogue.p1 ?? 0;
  if (m === 1) kr.fn.f32_gemv_1x8(w.n, w.k, a, w.offset, c, act, p0, p1);
  // Without FMA, mul + add needs a temporary per step: 6x8 would spill, 4x8 does not.
  else if (kr.variant === "relaxed") {
    kr.fn.f32_gemm_6x8(m, w.n, w.k, a, lda, w.offset, c, ldc, act, p0, p1);
  } else kr.fn.f32_gemm_4x8(m, w.n, w.k, a, lda, w.offset, c, ldc, act, p0, p1);
}

/** Packs W (m x k row-major at byte offset `w`, optional bias) for `gemmNchw`. */
export function packNchwWeights(
  kr: Kernels,
  w: number,
  m: number,
  k: number,
  options: { bias?: number; ld?: number; name?: string } = {},
): PackedNchwWeights {
  const bytes = kr.fn.x32_pack_gemm_nchw_size(m, k, GEMM_NCHW_MR);
  const offset = kr.arena.alloc(bytes, options.name ?? "packed weights");
  kr.fn.x32_pack_gemm_nchw(m, k, GEMM_NCHW_MR, w, options.ld ?? k, options.bias ?? 0, offset);
  return { offset, m, k };
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
  const act = activationCode(epilogue.activation ?? "none");
  kr.fn.f32_gemm_nchw_6x8(
    w.m,
    n,
    w.k,
    w.offset,
    x,
    ldx,
    c,
    ldc,
    act,
    epilogue.p0 ?? 0,
    epilogue.p1 ?? 0,
  );
}
