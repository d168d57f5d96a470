import {
  disposeKernels,
  type Kernels,
  type KernelVariant,
  loadKernels,
} from "../engine/wasm/kernels.ts";
import { type PackedGemmWeights, packGemmWeights } from "../engine/ops/gemm.ts";

/** Every kernel build this host can run (relaxed only where supported). */
export const VARIANTS: KernelVariant[] = ["scalar", "simd", "relaxed"];

const cache = new Map<KernelVariant, Promise<Kernels>>();

/** The kernels of one build, loaded once per test process. */
export function kernelsFor(variant: KernelVariant): Promise<Kernels> {
  let k = cache.get(variant);
  if (!k) {
    k = loadKernels({ kernels: variant });
    cache.set(variant, k);
  }
  return k;
}

/**
 * Packs W (k x n, as `gemm` takes it) with its bias through `packGemmWeights` with the sparse
 * formats allowed, both uploaded first; returns the packing, the arena bytes it kept, and the
 * uploads (the caller frees them).
 */
export function packSparseGemm(
  kr: Kernels,
  w: Float32Array,
  bias: Float32Array,
  k: number,
  n: number,
): { packed: PackedGemmWeights; packedBytes: number; uploads: number[] } {
  const uploads = [upload(kr, w), upload(kr, bias)];
  const before = kr.arena.liveBytes;
  const packed = packGemmWeights(kr, uploads[0], k, n, { sparse: true, bias: uploads[1] });
  return { packed, packedBytes: kr.arena.liveBytes - before, uploads };
}

/** Copies floats into a new arena block; returns its byte offset. */
export function upload(kr: Kernels, data: Float32Array): number {
  const off = kr.arena.alloc(data.byteLength);
  kr.arena.f32(off, data.length).set(data);
  return off;
}

/** Copies n floats out of the arena. */
export function download(kr: Kernels, offset: number, n: number): Float32Array {
  return kr.arena.f32(offset, n).slice();
}

/** Tolerances per build: relaxed FMA rounds differently from mul + add. */
export function tolerance(k: number): { rtol: number; atol: number } {
  return { rtol: 1e-4, atol: 1e-5 * Math.sqrt(Math.max(k, 1)) };
}

/**
 * Runs `body` on kernels with `threads` threads, then stops them. `split()` says whether the
 * pool ran anything since the last call, so a test knows the work really was divided.
 */
export async function withKernels<T>(
  threads: number,
  body: (kr: Kernels, split: () => boolean) => T,
): Promise<T> {
  const kr = await loadKernels({ kernels: "relaxed", threads });
  let runs = 0;
  let seen = 0;
  if (kr.pool) {
    const run = kr.pool.runPrograms.bind(kr.pool);
    kr.pool.runPrograms = (p) => {
      runs++;
      run(p);
    };
    const runQueue = kr.pool.runQueue.bind(kr.pool);
    kr.pool.runQueue = (items, scratch) => {
      runs++;
      runQueue(items, scratch);
    };
  }
  try {
    return body(kr, () => {
      const fresh = runs > seen;
      seen = runs;
      return fresh;
    });
  } finally {
    disposeKernels(kr);
  }
}
