/**
 * One kernel call by name, run on the calling thread: what split kernels run when there is no
 * pool, and what each thread of a pool runs. Apart from pool.ts so that single-threaded runs
 * (and the bundle's static chunks) do not carry the pool.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** One kernel call: an exported function's name and its numeric arguments. */
export interface KernelCall {
  /** Export name, e.g. "f32_gemm_6x8". */
  fn: string;
  /** Arguments (byte offsets, sizes, floats). */
  args: number[];
  /**
   * Bit i set: `args[i]` is a byte offset into the scratch block of whichever thread runs the
   * call, which adds its block's start. Lets calls of a shared queue (pool.ts `runQueue`)
   * run on any thread.
   */
  scratchArgs?: number;
}

/**
 * Runs one kernel call on this thread, looking the function up by name in `fns`; `scratch`
 * is this thread's scratch block, added to the arguments `call.scratchArgs` marks.
 */
export function callKernel(
  fns: Record<string, (...args: number[]) => unknown>,
  call: KernelCall,
  scratch = 0,
): void {
  const fn = fns[call.fn];
  if (typeof fn !== "function") throw new InvalidArgumentError(`No kernel named "${call.fn}"`);
  const mask = call.scratchArgs ?? 0;
  if (mask === 0) fn(...call.args);
  else fn(...call.args.map((a, i) => (mask & (1 << i)) !== 0 ? a + scratch : a));
}
