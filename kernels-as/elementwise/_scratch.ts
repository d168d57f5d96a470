// Static scratch shared by the elementwise kernels (kernels are not reentrant: one call at a
// time per instance). Splat buffers let a broadcast operand use the same vector loop as a
// contiguous one (a step of 0 re-reads the splat); tail buffers let the last partial vector
// go through the vector code, so every element of a tensor sees the same arithmetic.
export const SPLAT_A = memory.data(64, 16);
export const SPLAT_B = memory.data(64, 16);
export const SPLAT_C = memory.data(16, 16);
export const TAIL_A = memory.data(64, 16);
export const TAIL_B = memory.data(64, 16);
export const TAIL_C = memory.data(16, 16);
export const TAIL_Y = memory.data(64, 16);
