/**
 * Partitioning of a kernel's output over the pool's threads: how many threads a call is
 * worth, the ranges each one gets (static: one call per thread), or the items a shared queue
 * hands out (dynamic: each thread claims the next item, so a slowed thread does less).
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

/**
 * Items per thread a queued split aims for: enough that a thread the host slows down (another
 * process on its core, a phone's little core) leaves its share to the others, few enough that
 * the per-item cost (about a microsecond) and the smaller tiles stay cheap.
 */
export const ITEMS_PER_THREAD = 4;

/** Work below which an item is not cut smaller. */
const MIN_FLOPS_PER_ITEM = 500_000;

/**
 * What one element that a kernel streams (elementwise arithmetic, a resize copy) costs in
 * `threadsFor`'s unit, GEMM flops: about 12 bytes at about 0.5 ns an element here, against
 * about 40 GFLOP/s of GEMM.
 */
export const STREAMED_ELEMENT_FLOPS = 16;

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

/** Items to cut `flops` of work into for `threads` threads (1 for one thread). */
export function itemsFor(threads: number, flops: number): number {
  if (threads <= 1) return 1;
  return Math.max(
    threads,
    Math.min(threads * ITEMS_PER_THREAD, Math.floor(flops / MIN_FLOPS_PER_ITEM)),
  );
}

/**
 * Runs every item (calls in order) once: through the pool's shared queue on
 * `scratch.length` threads, or here, in order, with one thread. `scratch[t]` is thread t's
 * scratch block (see `KernelCall.scratchArgs`; zeros when the calls use none).
 */
export function runQueued(kr: Kernels, items: KernelCall[][], scratch: readonly number[]): void {
  if (kr.pool && scratch.length > 1 && items.length > 1) {
    kr.pool.runQueue(items, scratch);
    return;
  }
  const fns = kr.fn as unknown as Record<string, (...args: number[]) => unknown>;
  for (const item of items) for (const call of item) callKernel(fns, call, scratch[0] ?? 0);
}

/** Scratch blocks for `threads` threads whose queued calls use none. */
export function noScratch(threads: number): number[] {
  return new Array(threads).fill(0);
}

/** Runs one call per thread: on the pool when there are several, directly when there is one. */
export function runSplit(kr: Kernels, calls: KernelCall[]): void {
  if (calls.length > 1) kr.pool!.run(calls);
  else callKernel(kr.fn as unknown as Record<string, (...args: number[]) => unknown>, calls[0]);
}
