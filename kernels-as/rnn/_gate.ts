// Gate activations of the recurrent cells: clip (ONNX `clip`, +Inf when absent), then the
// activation. The ONNX defaults (Sigmoid, Tanh) are inlined; the rest use the shared epilogue. Kernels
// using gate4 / act4 call loadExpConstants() first.
import { activate1, activate4 } from "../common/activation";
import { SIGMOID, TANH } from "../common/gen/activation_codes";
import { sigmoid1, tanh1 } from "../common/math";
import { expk4, ONE, TWO } from "../scan/_exp";

// Sigmoid and tanh from the scan family's exponential, whose constants stay in registers
// (see scan/_exp.ts); kernels call loadExpConstants() before their loops. tanh as
// 1 - 2 / (e^2x + 1) has an absolute error near 1e-7, which is what a gate needs.
@inline function sigmoidk4(x: v128): v128 {
  return f32x4.div(ONE, f32x4.add(ONE, expk4(f32x4.neg(x))));
}

@inline function tanhk4(x: v128): v128 {
  return f32x4.sub(ONE, f32x4.div(TWO, f32x4.add(expk4(f32x4.add(x, x)), ONE)));
}

/** act(clip(x)) on four lanes. */
@inline export function gate4(x: v128, act: i32, p0: f32, p1: f32, clip: f32): v128 {
  // pmin/pmax are one instruction each (min/max with NaN rules are several) and keep a NaN
  // in x, which comes first.
  const y = f32x4.pmax(f32x4.pmin(x, f32x4.splat(clip)), f32x4.splat(-clip));
  if (act == SIGMOID) return sigmoidk4(y);
  if (act == TANH) return tanhk4(y);
  return activate4(y, act, p0, p1);
}

/** Scalar twin of gate4. */
@inline export function gate1(x: f32, act: i32, p0: f32, p1: f32, clip: f32): f32 {
  const y = Mathf.min(Mathf.max(x, -clip), clip);
  if (act == SIGMOID) return sigmoid1(y);
  if (act == TANH) return tanh1(y);
  return activate1(y, act, p0, p1);
}

/** The activation without clipping (LSTM's output activation on the cell state). */
@inline export function act4(x: v128, act: i32, p0: f32, p1: f32): v128 {
  if (act == SIGMOID) return sigmoidk4(x);
  if (act == TANH) return tanhk4(x);
  return activate4(x, act, p0, p1);
}

/** Scalar twin of act4. */
@inline export function act1(x: f32, act: i32, p0: f32, p1: f32): f32 {
  if (act == SIGMOID) return sigmoid1(x);
  if (act == TANH) return tanh1(x);
  return activate1(x, act, p0, p1);
}
