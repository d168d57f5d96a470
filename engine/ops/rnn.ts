/**
 * ONNX RNN (opsets 7–21): Ht = f(Xt Wᵀ + Ht-1 Rᵀ + Wb + Rb), forward, reverse and
 * bidirectional; layout 0 and 1; optional B, sequence_lens and initial_h; clip; activations
 * Tanh (default), Sigmoid, Relu, HardSigmoid, LeakyRelu. Outputs Y and Y_h, each optional.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { recurrentOp } from "./_recurrent.ts";

/** RNN. */
export const ops: Op[] = [recurrentOp("RNN") as Op];
