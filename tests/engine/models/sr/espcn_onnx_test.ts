/**
 * An ONNX super-resolution model (ESPCN-style: conv 5x5 → tanh → conv 3x3 → tanh → conv 3x3 →
 * DepthToSpace CRD, i.e. PixelShuffle) through the ONNX path, against onnxruntime-node.
 */
import { deepStrictEqual } from "node:assert/strict";
import { loadModel } from "../../../../engine/model.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { assertClose } from "../../../_assert.ts";
import { buildModel } from "../../../_onnx_builder.ts";
import { runOrt } from "../../../_ort.ts";
import { Random } from "../../../_random.ts";

Deno.test("an ESPCN-style ONNX SR model (PixelShuffle x3) matches onnxruntime", async () => {
  const rng = new Random(77);
  const t = (dims: number[], s: number) =>
    new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -s, s), dims);
  const r = 3;
  const bytes = buildModel({
    nodes: [
      {
        op: "Conv",
        inputs: ["x", "w1", "b1"],
        outputs: ["c1"],
        attributes: { kernel_shape: [5, 5], pads: [2, 2, 2, 2] },
      },
      { op: "Tanh", inputs: ["c1"], outputs: ["t1"] },
      {
        op: "Conv",
        inputs: ["t1", "w2", "b2"],
        outputs: ["c2"],
        attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
      { op: "Tanh", inputs: ["c2"], outputs: ["t2"] },
      {
        op: "Conv",
        inputs: ["t2", "w3", "b3"],
        outputs: ["c3"],
        attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
      {
        op: "DepthToSpace",
        inputs: ["c3"],
        outputs: ["y"],
        attributes: { blocksize: r, mode: "CRD" },
      },
    ],
    inputs: [{ name: "x", dims: [1, 1, "h", "w"] }],
    outputs: [{ name: "y" }],
    initializers: {
      w1: t([32, 1, 5, 5], 0.4),
      b1: t([32], 0.1),
      w2: t([16, 32, 3, 3], 0.1),
      b2: t([16], 0.1),
      w3: t([r * r, 16, 3, 3], 0.1),
      b3: t([r * r], 0.1),
    },
  });
  const model = await loadModel(bytes);
  for (const [h, w] of [[17, 23], [8, 8]]) {
    const x = t([1, 1, h, w], 1);
    const want = await runOrt(bytes, { x });
    const got = await model.run({ x });
    deepStrictEqual(got.y.dims, [1, 1, h * r, w * r]);
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
  }
  model.dispose();
});
