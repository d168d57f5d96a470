/**
 * Products with an empty dimension, by definition: M = 0 or N = 0 give an empty output, K = 0
 * gives the sum of no terms (0), plus the bias or C where there is one. Constant and run-time
 * B, as MatMul (with a bias Add fused in) and Gemm.
 */
import { deepStrictEqual } from "node:assert/strict";
import { loadModel, Tensor } from "../../../mod.ts";
import { buildModel } from "../../_onnx_builder.ts";

function f32(dims: number[], fill = 0.5): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return new Tensor("float32", new Float32Array(n).fill(fill), dims);
}

async function run(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Tensor> {
  const model = await loadModel(bytes);
  try {
    return (await model.run(feeds)).y;
  } finally {
    model.dispose();
  }
}

for (const [x, w] of [[[2, 0], [0, 3]], [[2, 4], [4, 0]], [[0, 4], [4, 3]]]) {
  const want = [x[0], w[1]];
  const expected = new Float32Array(want[0] * want[1]);
  Deno.test(`MatMul [${x}] · [${w}] is [${want}] of zeros, constant or run-time B`, async () => {
    const constant = buildModel({
      nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      inputs: [{ name: "x", dims: x }],
      outputs: [{ name: "y" }],
      initializers: { w: f32(w) },
    });
    const fed = buildModel({
      nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      inputs: [{ name: "x", dims: x }, { name: "w", dims: w }],
      outputs: [{ name: "y" }],
    });
    for (
      const y of [await run(constant, { x: f32(x) }), await run(fed, { x: f32(x), w: f32(w) })]
    ) {
      deepStrictEqual(y.dims, want);
      deepStrictEqual(y.data, expected);
    }
  });
}

Deno.test("MatMul with K = 0 and a bias Add gives the bias; Gemm with K = 0 gives beta C", async () => {
  const bias = new Tensor("float32", new Float32Array([1, -2, 3]), [3]);
  const matmulAdd = buildModel({
    nodes: [
      { op: "MatMul", inputs: ["x", "w"], outputs: ["h"] },
      { op: "Add", inputs: ["h", "b"], outputs: ["y"] },
    ],
    inputs: [{ name: "x", dims: [2, 0] }],
    outputs: [{ name: "y" }],
    initializers: { w: f32([0, 3]), b: bias },
  });
  const y = await run(matmulAdd, { x: f32([2, 0]) });
  deepStrictEqual(y.dims, [2, 3]);
  deepStrictEqual(y.data, new Float32Array([1, -2, 3, 1, -2, 3]));
  const gemm = buildModel({
    nodes: [{
      op: "Gemm",
      inputs: ["x", "w", "c"],
      outputs: ["y"],
      attributes: { beta: 2, transB: 1 },
    }],
    inputs: [{ name: "x", dims: [2, 0] }],
    outputs: [{ name: "y" }],
    initializers: { w: f32([3, 0]), c: bias },
  });
  const g = await run(gemm, { x: f32([2, 0]) });
  deepStrictEqual(g.dims, [2, 3]);
  deepStrictEqual(g.data, new Float32Array([2, -4, 6, 2, -4, 6]));
});
