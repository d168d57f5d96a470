import { throws } from "node:assert/strict";
import { ShapeError } from "../../../engine/errors.ts";
import { type BatchNormParams, foldBatchNorm } from "../../../engine/passes/fold_batch_norm.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";
import { convReference, convTransposeReference, type Result } from "../../reference/conv.ts";

/** BatchNormalization (inference) from its definition, on an NCHW result. */
function batchNorm(y: Result, bn: BatchNormParams): Float32Array {
  const [n, c] = y.dims;
  const size = y.dims.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(y.data.length);
  for (let i = 0; i < n * c; i++) {
    const ch = i % c;
    const inv = 1 / Math.sqrt(bn.variance[ch] + (bn.epsilon ?? 1e-5));
    for (let j = i * size; j < (i + 1) * size; j++) {
      out[j] = bn.scale[ch] * (y.data[j] - bn.mean[ch]) * inv + bn.bias[ch];
    }
  }
  return out;
}

function params(rng: Random, m: number, epsilon?: number): BatchNormParams {
  return {
    scale: rng.floats(m, 0.5, 2),
    bias: rng.floats(m),
    mean: rng.floats(m),
    variance: rng.floats(m, 0.1, 3),
    epsilon,
  };
}

Deno.test("foldBatchNorm: a folded Conv equals Conv then BatchNormalization", () => {
  const rng = new Random(12);
  for (
    const [group, withBias, eps] of [[1, true, 1e-5], [1, false, undefined], [2, true, 1e-3], [
      6,
      false,
      0.01,
    ]] as const
  ) {
    const xDims = [1, 6, 7, 8];
    const wDims = [12, 6 / group, 3, 3];
    const x = rng.floats(6 * 7 * 8);
    const w = rng.floats(wDims.reduce((a, b) => a * b, 1));
    const bias = withBias ? rng.floats(12) : undefined;
    const bn = params(rng, 12, eps);
    const attrs = { group, pads: [1, 1, 1, 1] };
    const want = batchNorm(convReference(x, xDims, w, wDims, bias, attrs), bn);
    const wCopy = w.slice();
    const folded = foldBatchNorm(w, wDims, bias, bn);
    assertClose(w, wCopy, { rtol: 0, atol: 0 }, "weights untouched");
    const got = convReference(x, xDims, folded.weight, wDims, folded.bias, attrs);
    assertClose(got.data, want, { rtol: 1e-5, atol: 1e-5 }, `group ${group}`);
  }
});

Deno.test("foldBatchNorm: a folded ConvTranspose equals ConvTranspose then BatchNormalization", () => {
  const rng = new Random(13);
  for (const group of [1, 2]) {
    const xDims = [1, 4, 5, 5];
    const wDims = [4, 3, 2, 2];
    const x = rng.floats(4 * 25);
    const w = rng.floats(4 * 3 * 4);
    const m = 3 * group;
    const bias = rng.floats(m);
    const bn = params(rng, m);
    const attrs = { group, strides: [2, 2] };
    const want = batchNorm(convTransposeReference(x, xDims, w, wDims, bias, attrs), bn);
    const folded = foldBatchNorm(w, wDims, bias, bn, { transposed: true, group });
    const got = convTransposeReference(x, xDims, folded.weight, wDims, folded.bias, attrs);
    assertClose(got.data, want, { rtol: 1e-5, atol: 1e-5 }, `group ${group}`);
  }
});

Deno.test("foldBatchNorm rejects parameters that do not match the output channels", () => {
  const rng = new Random(14);
  throws(() => foldBatchNorm(rng.floats(8), [4, 2, 1, 1], undefined, params(rng, 3)), ShapeError);
  throws(
    () => foldBatchNorm(rng.floats(8), [4, 2, 1, 1], rng.floats(2), params(rng, 4)),
    ShapeError,
  );
  throws(() => foldBatchNorm(rng.floats(7), [4, 2, 1, 1], undefined, params(rng, 4)), ShapeError);
});
