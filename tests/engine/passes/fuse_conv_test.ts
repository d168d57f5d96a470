import { deepStrictEqual } from "node:assert/strict";
import type { Graph } from "../../../engine/ir/graph.ts";
import { loadModel } from "../../../engine/model.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";
import { convReference, convTransposeReference } from "../../reference/conv.ts";
import { node } from "../../_ir.ts";

Deno.test("Conv → BatchNormalization → Add(residual) → Relu runs as one fused conv", async () => {
  const rng = new Random(21);
  const [c, m, h, w] = [5, 7, 9, 11];
  const x = rng.floats(c * h * w);
  const r = rng.floats(m * h * w);
  const wt = rng.floats(m * c * 9);
  const b = rng.floats(m);
  const scale = rng.floats(m, 0.5, 1.5);
  const shift = rng.floats(m);
  const mean = rng.floats(m);
  const variance = rng.floats(m, 0.1, 2);
  const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const graph: Graph = {
    name: "block",
    nodes: [
      node("Conv", ["x", "w", "b"], ["y"], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      node("BatchNormalization", ["y", "s", "t", "mu", "var"], ["z"], { epsilon: 1e-3 }),
      node("Add", ["z", "r"], ["sum"]),
      node("Relu", ["sum"], ["out"]),
    ],
    inputs: [
      { name: "x", type: "float32", dims: [1, c, h, w] },
      { name: "r", type: "float32", dims: [1, m, h, w] },
    ],
    outputs: [{ name: "out", type: "float32", dims: [1, m, h, w] }],
    initializers: new Map([
      ["w", f(wt, [m, c, 3, 3])],
      ["b", f(b, [m])],
      ["s", f(scale, [m])],
      ["t", f(shift, [m])],
      ["mu", f(mean, [m])],
      ["var", f(variance, [m])],
    ]),
    valueInfo: new Map([
      ["z", { name: "z", type: "float32", dims: [1, m, h, w] }],
      ["r", { name: "r", type: "float32", dims: [1, m, h, w] }],
    ]),
  };
  const model = await loadModel({ graph, opsets: { "": 17 } });
  const s = model.summary();
  deepStrictEqual([s.foldedBatchNorms, s.fusedResiduals, s.fusedActivations], [1, 1, 1]);
  deepStrictEqual(s.ops, { Conv: 1 });
  const out = await model.run({ x: f(x, [1, c, h, w]), r: f(r, [1, m, h, w]) });
  // The definition, step by step in float64: conv, BN, add, relu.
  const y = convReference(x, [1, c, h, w], wt, [m, c, 3, 3], b, { pads: [1, 1, 1, 1] }).data;
  const want = new Float32Array(m * h * w);
  for (let i = 0; i < want.length; i++) {
    const ch = Math.floor(i / (h * w));
    const z = (y[i] - mean[ch]) / Math.sqrt(variance[ch] + 1e-3) * scale[ch] + shift[ch];
    want[i] = Math.max(z + r[i], 0);
  }
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-4, atol: 1e-5 });
  model.dispose();
});

Deno.test("Conv → Mul(per-channel constant) → Add(scalar constant) folds into the conv", async () => {
  const rng = new Random(22);
  const [c, m, h, w] = [16, 33, 6, 7];
  const x = rng.floats(c * h * w);
  const wt = rng.floats(m * c * 9);
  const b = rng.floats(m);
  const mul = rng.floats(m, 0.5, 2);
  const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const graph: Graph = {
    name: "affine",
    nodes: [
      node("Conv", ["x", "w", "b"], ["y"], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      node("Mul", ["y", "k"], ["z"]),
      node("Add", ["z", "s"], ["out"]),
    ],
    inputs: [{ name: "x", type: "float32", dims: [1, c, h, w] }],
    outputs: [{ name: "out", type: "float32", dims: [1, m, h, w] }],
    initializers: new Map([
      ["w", f(wt, [m, c, 3, 3])],
      ["b", f(b, [m])],
      ["k", f(mul, [1, m, 1, 1])],
      ["s", f(new Float32Array([0.25]), [])],
    ]),
    valueInfo: new Map(),
  };
  const model = await loadModel({ graph, opsets: { "": 17 } });
  deepStrictEqual(model.summary().ops, { Conv: 1 });
  const out = await model.run({ x: f(x, [1, c, h, w]) });
  const y = convReference(x, [1, c, h, w], wt, [m, c, 3, 3], b, { pads: [1, 1, 1, 1] }).data;
  const want = new Float32Array(m * h * w);
  for (let i = 0; i < want.length; i++) want[i] = y[i] * mul[Math.floor(i / (h * w))] + 0.25;
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-4, atol: 1e-5 });
  model.dispose();
});

Deno.test("ConvTranspose → Add(bias) → BatchNormalization → Relu runs as one fused ConvTranspose", async () => {
  // PP-OCRv4 det's head writes its upsampling this way; an Add of a [1, M, 1, 1] bias in
  // between kept the BatchNormalization and the Relu as passes of their own.
  const rng = new Random(23);
  const [c, m, h, w] = [6, 5, 7, 9];
  const x = rng.floats(c * h * w);
  const wt = rng.floats(c * m * 4);
  const bias = rng.floats(m);
  const [scale, shift, mean] = [rng.floats(m, 0.5, 1.5), rng.floats(m), rng.floats(m)];
  const variance = rng.floats(m, 0.1, 2);
  const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const graph: Graph = {
    name: "up",
    nodes: [
      node("ConvTranspose", ["x", "w"], ["y"], { kernel_shape: [2, 2], strides: [2, 2] }),
      node("Add", ["y", "b"], ["yb"]),
      node("BatchNormalization", ["yb", "s", "t", "mu", "var"], ["z"], { epsilon: 1e-5 }),
      node("Relu", ["z"], ["out"]),
    ],
    inputs: [{ name: "x", type: "float32", dims: [1, c, h, w] }],
    outputs: [{ name: "out", type: "float32", dims: [1, m, 2 * h, 2 * w] }],
    initializers: new Map([
      ["w", f(wt, [c, m, 2, 2])],
      ["b", f(bias, [1, m, 1, 1])],
      ["s", f(scale, [m])],
      ["t", f(shift, [m])],
      ["mu", f(mean, [m])],
      ["var", f(variance, [m])],
    ]),
    valueInfo: new Map(),
  };
  const model = await loadModel({ graph, opsets: { "": 17 } });
  const s = model.summary();
  deepStrictEqual(s.ops, { ConvTranspose: 1 });
  deepStrictEqual([s.foldedBatchNorms, s.fusedActivations], [2, 1]);
  const out = await model.run({ x: f(x, [1, c, h, w]) });
  const y = convTransposeReference(x, [1, c, h, w], wt, [c, m, 2, 2], undefined, {
    strides: [2, 2],
  }).data;
  const want = new Float32Array(m * 4 * h * w);
  for (let i = 0; i < want.length; i++) {
    const ch = Math.floor(i / (4 * h * w));
    const z = (y[i] + bias[ch] - mean[ch]) / Math.sqrt(variance[ch] + 1e-5) * scale[ch];
    want[i] = Math.max(z + shift[ch], 0);
  }
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-4, atol: 1e-5 });
  model.dispose();
});

Deno.test("a ConvTranspose keeps a Mul of its output, and an Add that is not per channel", async () => {
  const rng = new Random(24);
  const [c, m, h, w] = [3, 4, 5, 5];
  const x = rng.floats(c * h * w);
  const wt = rng.floats(c * m * 4);
  const k = rng.floats(m);
  const wide = rng.floats(2 * w);
  const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const graph: Graph = {
    name: "kept",
    nodes: [
      node("ConvTranspose", ["x", "w"], ["y"], { kernel_shape: [2, 2], strides: [2, 2] }),
      node("Mul", ["y", "k"], ["z"]),
      node("Add", ["z", "row"], ["out"]),
    ],
    inputs: [{ name: "x", type: "float32", dims: [1, c, h, w] }],
    outputs: [{ name: "out", type: "float32", dims: [1, m, 2 * h, 2 * w] }],
    initializers: new Map([
      ["w", f(wt, [c, m, 2, 2])],
      ["k", f(k, [1, m, 1, 1])],
      // Broadcast along the width: not a bias.
      ["row", f(wide, [2 * w])],
    ]),
    valueInfo: new Map(),
  };
  const model = await loadModel({ graph, opsets: { "": 17 } });
  deepStrictEqual(model.summary().ops, { ConvTranspose: 1, Mul: 1, Add: 1 });
  const out = await model.run({ x: f(x, [1, c, h, w]) });
  const y = convTransposeReference(x, [1, c, h, w], wt, [c, m, 2, 2], undefined, {
    strides: [2, 2],
  }).data;
  const want = new Float32Array(m * 4 * h * w);
  for (let i = 0; i < want.length; i++) {
    want[i] = y[i] * k[Math.floor(i / (4 * h * w))] + wide[i % (2 * w)];
  }
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-4, atol: 1e-5 });
  model.dispose();
});
