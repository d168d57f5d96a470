import { setTailScratch, TAIL_SCRATCH_BYTES } from "./tail_scratch";

/** End of the module's static data: the arena starts above it. */
export function kernel_heap_base(): usize {
  return __heap_base;
}

/** Which build this is: 0 scalar, 1 simd, 2 relaxed (order of VARIANTS in build.ts). */
export function kernel_variant(): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) return 2;
  if (ASC_FEATURE_SIMD) return 1;
  return 0;
}

/** Bytes of the per-thread tail scratch a worker instance needs. */
export function kernel_tail_scratch_size(): i32 {
  return TAIL_SCRATCH_BYTES;
}

/** Gives this instance its own tail scratch (a worker thread's instance; see tail_scratch). */
export function kernel_set_tail_scratch(p: usize): void {
  setTailScratch(p);
}
