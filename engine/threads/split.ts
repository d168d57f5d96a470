/**
 * Static partitioning of a kernel's output over the pool's threads: how many threads a call
 * is worth, and the ranges each one gets.
 *
 * @module
 */
import type { Kernels } from "../wasm/kernels.ts";
import { callKernel, type KernelCall } from "./kernel_call.ts";

/**
 * Work per thread below which splitting costs more than it saves: waking a worker and
 * waiting for it takes about 10–30 µs here, up to 0.6 MFLOP of GEMM. With 1 MFLOP the silero
 * VAD chunk measured 0.92× on 2 threads against 1; with 2 MFLOP 0.98–1.06× (bench/threads.ts).
 */
export const MIN_FLOPS_PER_THREAD = 2_000_000;

/** Threads worth using for a call of `flops` floating-point operations (1 without a pool). */
export function threadsFor(kr: Kernels, flops: number): number {
  if (!kr.pool) return 1;
  return Math.max(1, Math.min(kr.pool.size, Math.floor(flops / MIN_FLOPS_PER_THREAD)));
}

/**
 * Splits [0, total) into at most `parts` ranges of whole granules (the last may be short),
 * as even as the granules allow. Returns [start, length] pairs; an empty total gives one
 * empty range, so a caller always has a call to make.
 */
export function splitRange(total: number, granule: number, parts: number): [number, number][] {
  const units = Math.ceil(total / granule);
  const n = Math.max(1, Math.min(parts, units));
  const out: [number, number][] = [];
  let u0 = 0;
  for (let p = 0; p < n; p++) {
    const u1 = Math.round((units * (p + 1)) / n);
    const start = u0 * granule;
    const end = Math.min(total, u1 * granule);
    if (end > start) out.push([start, end - start]);
    u0 = u1;
  }
  if (out.length === 0) out.push([0, 0]);
  return out;
}

/** Runs one call per thread: on the pool when there are several, directly when there is one. */
export function runSplit(kr: Kernels, calls: KernelCall[]): void {
  if (calls.length > 1) kr.pool!.run(calls);
  else callKernel(kr.fn as unknown as Record<string, (...args: number[]) => unknown>, calls[0]);
}
