/**
 * Load-time passes on graphs that test their assumptions, against onnxruntime-node: user
 * values whose names the passes would give what they add, a value listed twice as an output,
 * and per-channel factors that are infinite (folding them into weights would make 0 × ∞ = NaN).
 */
import { deepStrictEqual } from "node:assert/strict";
import { loadModel } from "../../../engine/model.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { type BuildGraph, buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";

const rng = new Random(909);
const f = (dims: number[], lo = -1, hi = 1) =>
  new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), lo, hi), dims);
const x = { name: "x", dims: [1, 3, 5, 5] };

/** Every output of `g` on `feeds` as onnxruntime-node gives it, with fusion on and off. */
async function matchesOrt(g: BuildGraph, feeds: Record<string, Tensor>) {
  const bytes = buildModel(g);
  const want = await runOrt(bytes, feeds);
  for (const fuse of [true, false]) {
    const m = await loadModel(bytes, { fuse });
    const got = await m.run(feeds);
    for (const [name, t] of Object.entries(want)) {
      deepStrictEqual(got[name].dims, t.dims, `${name} fuse ${fuse}`);
      assertClose(got[name].data as Float32Array, t.data as Float32Array, {
        rtol: 1e-5,
        atol: 1e-6,
      }, `${name} fuse ${fuse}`);
    }
    m.dispose();
  }
}

Deno.test("passes never overwrite user values named like what they add", async () => {
  // An initializer named as the BN fold's bias, and also a graph output.
  await matchesOrt({
    nodes: [
      { op: "Conv", name: "cv", inputs: ["x", "w", "b"], outputs: ["c"] },
      { op: "BatchNormalization", inputs: ["c", "s", "bb", "m", "v"], outputs: ["y"] },
    ],
    inputs: [x],
    outputs: [{ name: "y" }, { name: "cv/folded_bias" }],
    initializers: {
      w: f([4, 3, 1, 1]),
      b: f([4]),
      "cv/folded_bias": new Tensor("float32", new Float32Array([10, 20, 30, 40]), [4]),
      s: f([4]),
      bb: f([4]),
      m: f([4]),
      v: f([4], 0.5, 2),
    },
  }, { x: f([1, 3, 5, 5]) });
  // A computed value and a graph input named as the gated-residual factoring's values.
  const one = "quartet/factor_gated_residuals/one";
  await matchesOrt({
    nodes: [
      { op: "Neg", inputs: ["x"], outputs: ["m/one_plus_gate"] },
      { op: "Sigmoid", inputs: ["x"], outputs: ["g"] },
      { op: "Mul", name: "m", inputs: ["x", "g"], outputs: ["p"] },
      { op: "Add", inputs: ["x", "p"], outputs: ["y"] },
      { op: "Add", inputs: ["y", "m/one_plus_gate"], outputs: ["y2"] },
      { op: "Add", inputs: ["y2", one], outputs: ["z"] },
    ],
    inputs: [x, { name: one, dims: [] }],
    outputs: [{ name: "z" }],
  }, { x: f([1, 3, 5, 5]), [one]: new Tensor("float32", new Float32Array([5]), []) });
});

Deno.test("a value listed twice as a graph output is returned once per name", async () => {
  const bytes = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [2, 2] }],
    outputs: [{ name: "y" }, { name: "y" }],
  });
  const m = await loadModel(bytes);
  for (let run = 0; run < 4; run++) {
    const got = await m.run({ x: new Tensor("float32", new Float32Array([-1, 2, -3, 4]), [2, 2]) });
    deepStrictEqual([...got.y.data as Float32Array], [0, 2, 0, 4]);
  }
  m.dispose();
});

Deno.test("infinite per-channel factors are not folded into conv weights", async () => {
  const w = new Tensor("float32", new Float32Array([1, 2, 3, 0, 0, 0, 1, 1, 1, 2, 2, 2]), [
    4,
    3,
    1,
    1,
  ]);
  const conv = { op: "Conv", name: "cv", inputs: ["x", "w"], outputs: ["c"] };
  const feeds = { x: f([1, 3, 1, 2], 0, 1) };
  await matchesOrt({
    nodes: [conv, { op: "Mul", inputs: ["c", "k"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [1, 3, 1, 2] }],
    outputs: [{ name: "y" }],
    initializers: {
      w,
      k: new Tensor("float32", new Float32Array([1, Infinity, 1, 1]), [1, 4, 1, 1]),
    },
  }, feeds);
  // BatchNormalization with variance + epsilon = 0: an infinite factor too.
  await matchesOrt({
    nodes: [conv, {
      op: "BatchNormalization",
      inputs: ["c", "s", "b", "m", "v"],
      outputs: ["y"],
      attributes: { epsilon: { float: 0 } },
    }],
    inputs: [{ name: "x", dims: [1, 3, 1, 2] }],
    outputs: [{ name: "y" }],
    initializers: {
      w,
      s: new Tensor("float32", new Float32Array([1, -1, 1, 1]), [4]),
      b: new Tensor("float32", new Float32Array(4), [4]),
      m: new Tensor("float32", new Float32Array([0, 1, 0, 0]), [4]),
      v: new Tensor("float32", new Float32Array([1, 0, 1, 1]), [4]),
    },
  }, feeds);
});
