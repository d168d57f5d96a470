import { deepStrictEqual, ok } from "node:assert/strict";
import { loadModel } from "../../engine/model.ts";
import { Tensor } from "../../engine/tensor.ts";
import { oneNodeModel } from "../_onnx_builder.ts";
import { runOrt } from "../_ort.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import { c4nWeights } from "../reference/sparse.ts";

Deno.test("C4n-pruned convs run sparse, match onnxruntime, and match the dense run", async () => {
  const rng = new Random(12);
  for (const [n, kh, cin, cout, hw] of [[2, 1, 64, 48, 13], [3, 3, 16, 24, 11], [2, 3, 13, 9, 7]]) {
    const k = cin * kh * kh;
    const w = c4nWeights(rng, cout, k, n);
    const bias = rng.floats(cout);
    const bytes = oneNodeModel(
      "Conv",
      [{ name: "x", dims: [1, cin, hw, hw] }, { name: "w" }, { name: "b" }],
      [{ name: "y" }],
      { kernel_shape: [kh, kh], pads: kh === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] },
      {
        initializers: {
          w: new Tensor("float32", w, [cout, cin, kh, kh]),
          b: new Tensor("float32", bias, [cout]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(cin * hw * hw), [1, cin, hw, hw]);
    const want = await runOrt(bytes, { x });
    const sparse = await loadModel(bytes);
    const got = await sparse.run({ x });
    const choices = sparse.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), [`c4n:${n}`], JSON.stringify(choices));
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
    const dense = await loadModel(bytes, { sparse: "off" });
    const d = await dense.run({ x });
    ok(dense.summary().kernelChoices.every((c) => c.format === "dense"));
    assertClose(got.y.data as Float32Array, d.y.data as Float32Array, { rtol: 1e-4, atol: 1e-5 });
    sparse.dispose();
    dense.dispose();
  }
});
