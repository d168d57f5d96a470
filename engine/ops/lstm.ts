/**
 * ONNX LSTM (opsets 7–21): forward, reverse and bidirectional; layout 0 and 1; optional B,
 * sequence_lens, initial_h, initial_c and peepholes P; clip; input_forget; activations
 * Sigmoid, Tanh, Relu, HardSigmoid, LeakyRelu (plus Elu and Softplus when the kernels have
 * them) with activation_alpha / activation_beta. Outputs Y, Y_h, Y_c, each optional.
 *
 * Inputs: X, W [dirs, 4H, input], R [dirs, 4H, H], B [dirs, 8H], sequence_lens [batch],
 * initial_h, initial_c, P [dirs, 3H]. Gate order i, o, f, c as in ONNX.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { recurrentOp } from "./_recurrent.ts";

/** LSTM. */
export const ops: Op[] = [recurrentOp("LSTM") as Op];
