/**
 * The sparse formats load on demand, from what `loadModel` sees of the weights before the
 * graph is folded: weights held by Constant nodes (as exporters put them inside `If`
 * branches) must count. Alone in its file so that no earlier test has loaded the formats.
 */
import { deepStrictEqual } from "node:assert/strict";
import { loadModel } from "../../engine/model.ts";
import { Tensor } from "../../engine/tensor.ts";
import { buildModel } from "../_onnx_builder.ts";
import { runOrt } from "../_ort.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import { c4nWeights } from "../reference/sparse.ts";

Deno.test("a C4n weight held by a Constant node inside an If branch runs sparse", async () => {
  const rng = new Random(5);
  const [cin, cout, hw] = [64, 48, 13];
  const w = new Tensor("float32", c4nWeights(rng, cout, cin, 3), [cout, cin, 1, 1]);
  const branch = (scale: number) => ({
    nodes: [
      { op: "Constant", inputs: [], outputs: [`w${scale}`], attributes: { value: w } },
      { op: "Conv", inputs: ["x", `w${scale}`], outputs: [`c${scale}`] },
      {
        op: "Constant",
        inputs: [],
        outputs: [`s${scale}`],
        attributes: { value: new Tensor("float32", new Float32Array([scale]), [1]) },
      },
      { op: "Mul", inputs: [`c${scale}`, `s${scale}`], outputs: [`out${scale}`] },
    ],
    inputs: [],
    outputs: [{ name: `out${scale}` }],
  });
  const bytes = buildModel({
    nodes: [{
      op: "If",
      inputs: ["cond"],
      outputs: ["y"],
      attributes: { then_branch: { graph: branch(1) }, else_branch: { graph: branch(2) } },
    }],
    inputs: [{ name: "x", dims: [1, cin, hw, hw] }, { name: "cond", type: "bool", dims: [] }],
    outputs: [{ name: "y" }],
  });
  const feeds = {
    x: new Tensor("float32", rng.floats(cin * hw * hw), [1, cin, hw, hw]),
    cond: new Tensor("bool", new Uint8Array([1]), []),
  };
  const want = await runOrt(bytes, feeds);
  const m = await loadModel(bytes);
  const got = await m.run(feeds);
  const choices = m.summary().kernelChoices;
  deepStrictEqual(choices.map((c) => c.format), ["c4n:3"], JSON.stringify(choices));
  assertClose(got.y.data as Float32Array, want.y.data as Float32Array, { rtol: 1e-4, atol: 1e-5 });
  m.dispose();
});
