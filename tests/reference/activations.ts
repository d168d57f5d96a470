/**
 * Float64 references of the fused activations, from their definitions (ONNX operator docs).
 */
import type { Activation } from "../../kernels-as/activations.ts";

/** erf in double precision: Taylor series near 0, continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= -ax * ax / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    const r = 2 / Math.sqrt(Math.PI) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz, backwards)
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  const r = 1 - erfc;
  return x < 0 ? -r : r;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The activation as a float64 function with its parameters bound. */
export function activationReference(
  name: Activation,
  p0 = 0,
  p1 = 0,
): (x: number) => number {
  switch (name) {
    case "none":
      return (x) => x;
    case "clamp":
      return (x) => Math.min(Math.max(x, p0), p1);
    case "silu":
      return (x) => x * sigmoid(x);
    case "gelu_erf":
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "gelu_tanh":
      return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case "sigmoid":
      return sigmoid;
    case "tanh":
      return Math.tanh;
    case "leakyrelu":
      return (x) => (x < 0 ? p0 * x : x);
    case "hardsigmoid":
      return (x) => Math.max(0, Math.min(1, p0 * x + p1));
    case "hardswish":
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case "hardswish_affine":
      return (x) => p0 * x * Math.max(0, Math.min(1, x / 6 + 0.5)) + p1;
    case "softplus":
      return (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    case "elu":
      return (x) => (x < 0 ? p0 * Math.expm1(x) : x);
  }
}

/**
 * Parameters kernel tests apply each epilogue activation with: the ones an activation reads
 * are set away from their defaults, so a kernel that ignores one fails.
 */
export function testParams(name: Activation): [number, number] {
  switch (name) {
    case "clamp":
      return [-0.5, 0.75];
    case "hardsigmoid":
      return [0.2, 0.5];
    case "hardswish_affine":
      return [0.7, -0.3];
    default:
      return [0.1, 0];
  }
}
