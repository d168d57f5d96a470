/**
 * ONNX GRU (opsets 7–21): forward, reverse and bidirectional; layout 0 and 1; optional B,
 * sequence_lens and initial_h; clip; linear_before_reset 0 and 1; activations Sigmoid, Tanh,
 * Relu, HardSigmoid, LeakyRelu (plus Elu and Softplus when the kernels have them). Outputs Y
 * and Y_h, each optional.
 *
 * Inputs: X, W [dirs, 3H, input], R [dirs, 3H, H], B [dirs, 6H], sequence_lens [batch],
 * initial_h. Gate order z, r, h as in ONNX.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { recurrentOp } from "./_recurrent.ts";

/** GRU. */
export const ops: Op[] = [recurrentOp("GRU") as Op];
