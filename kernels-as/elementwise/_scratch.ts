// Scratch of the elementwise kernels, in this instance's tail scratch block (after the GEMM's
// partial-tile bytes), so that threads, each with its own instance and block, may run them at
// the same time. Splat buffers let a broadcast operand use the same vector loop as a
// contiguous one (a step of 0 re-reads the splat); tail buffers let the last partial vector
// go through the vector code, so every element of a tensor sees the same arithmetic.
import { ELEMENTWISE_SCRATCH, tailScratch } from "../common/tail_scratch";

@inline export function splatA(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH;
}
@inline export function splatB(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 64;
}
@inline export function splatC(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 128;
}
@inline export function tailA(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 144;
}
@inline export function tailB(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 208;
}
@inline export function tailC(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 272;
}
@inline export function tailY(): usize {
  return tailScratch() + ELEMENTWISE_SCRATCH + 288;
}
