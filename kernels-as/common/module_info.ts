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
