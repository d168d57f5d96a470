/**
 * The fused activations every kernel epilogue understands, in code order. This list is the
 * single source of truth: `build.ts` generates the AssemblyScript constants from it, and the
 * engine imports it, so the two sides cannot drift apart.
 *
 * Parameters: `clamp` uses (lo, hi) and covers Relu, Relu6 and Clip; `leakyrelu` uses alpha =
 * p0; `hardsigmoid` uses alpha = p0, beta = p1 (ONNX: max(0, min(1, alpha * x + beta)));
 * `elu` uses alpha = p0; `hardswish_affine` is p0 · hardswish(x) + p1 (HardSwish followed by a
 * scalar Mul and Add, as PP-LCNetV3's learnable affine blocks write it). Codes are positional:
 * append new names at the end only.
 */
export const ACTIVATIONS = [
  "none",
  "clamp",
  "silu",
  "gelu_erf",
  "gelu_tanh",
  "sigmoid",
  "tanh",
  "leakyrelu",
  "hardsigmoid",
  "hardswish",
  "softplus",
  "elu",
  "hardswish_affine",
] as const;

/** An activation name understood by kernel epilogues. */
export type Activation = typeof ACTIVATIONS[number];

/** The integer code passed to kernels for an activation. */
export function activationCode(name: Activation): number {
  return ACTIVATIONS.indexOf(name);
}
