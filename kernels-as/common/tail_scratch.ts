// Where kernels park a partial tile's vectors before copying the valid lanes out (the GEMMs:
// the first 64 bytes) and the elementwise kernels keep their splat and tail buffers (from
// ELEMENTWISE_SCRATCH on, elementwise/_scratch.ts). Globals belong to one instance, and every
// thread has its own instance of the module: a worker points this at its own bytes
// (kernel_set_tail_scratch), the main instance keeps the static block, so threads may run
// these kernels at the same time.

/** Where the elementwise kernels' buffers start in the block. */
export const ELEMENTWISE_SCRATCH: usize = 64;

/** Bytes a tail scratch block must have (16-byte aligned). */
export const TAIL_SCRATCH_BYTES: i32 = 64 + 352;

const STATIC_TAIL_SCRATCH = memory.data(TAIL_SCRATCH_BYTES, 16);

let tailScratchBase: usize = STATIC_TAIL_SCRATCH;

/** This instance's tail scratch. */
@inline export function tailScratch(): usize {
  return tailScratchBase;
}

/** Points this instance's tail scratch at `p` (TAIL_SCRATCH_BYTES, 16-byte aligned). */
export function setTailScratch(p: usize): void {
  tailScratchBase = p;
}
