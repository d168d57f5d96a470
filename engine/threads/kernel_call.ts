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
}

/** Runs one kernel call on this thread, looking the function up by name in `fns`. */
export function callKernel(
  fns: Record<string, (...args: number[]) => unknown>,
  call: KernelCall,
): void {
  const fn = fns[call.fn];
  if (typeof fn !== "function") throw new InvalidArgumentError(`No kernel named "${call.fn}"`);
  fn(...call.args);
}
