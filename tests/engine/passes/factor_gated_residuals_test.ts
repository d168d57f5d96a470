import { deepStrictEqual } from "node:assert/strict";
import type { Graph } from "../../../engine/ir/graph.ts";
import { loadModel } from "../../../engine/model.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";
import { node } from "../../_ir.ts";

const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);

/**
 * x + x · g with g a per-channel gate from x's channel means (squeeze-and-excitation, as in
 * PP-OCRv4 det's neck): `gate` is the op computing g from the 1x1 conv of the means.
 */
function gatedResidual(rng: Random, [c, h, w]: number[], gate: "Sigmoid" | "Identity") {
  const x = rng.floats(c * h * w, -2, 2);
  const wt = rng.floats(c * c, -1, 1);
  const graph: Graph = {
    name: "se",
    nodes: [
      node("GlobalAveragePool", ["x"], ["mean"]),
      node("Conv", ["mean", "w"], ["z"], { kernel_shape: [1, 1] }),
      node(gate, ["z"], ["g"]),
      node("Mul", ["x", "g"], ["xg"]),
      node("Add", ["xg", "x"], ["out"]),
    ],
    inputs: [{ name: "x", type: "float32", dims: [1, c, h, w] }],
    outputs: [{ name: "out", type: "float32", dims: [1, c, h, w] }],
    initializers: new Map([["w", f(wt, [c, c, 1, 1])]]),
    valueInfo: new Map(),
  };
  // The definition in float64.
  const plane = h * w;
  const mean = Array.from({ length: c }, (_, i) => {
    let s = 0;
    for (let j = 0; j < plane; j++) s += x[i * plane + j];
    return s / plane;
  });
  const g = Array.from({ length: c }, (_, o) => {
    let z = 0;
    for (let i = 0; i < c; i++) z += wt[o * c + i] * mean[i];
    return gate === "Sigmoid" ? 1 / (1 + Math.exp(-z)) : z;
  });
  const want = x.map((v, j) => v + v * g[Math.floor(j / plane)]);
  return { graph, x: f(x, [1, c, h, w]), want };
}

Deno.test("x + x · sigmoid gate runs as x · (1 + gate): the Add on the gate, one pass over x", async () => {
  const { graph, x, want } = gatedResidual(new Random(41), [6, 9, 11], "Sigmoid");
  const model = await loadModel({ graph, opsets: { "": 17 } });
  await model.run({ x }, { profile: true });
  const adds = model.lastProfile!.filter((p) => p.op === "Add");
  deepStrictEqual(adds.map((p) => p.outputs[0]), [[1, 6, 1, 1]]);
  const muls = model.lastProfile!.filter((p) => p.op === "Mul");
  deepStrictEqual(muls.map((p) => p.outputs[0]), [[1, 6, 9, 11]]);
  const out = await model.run({ x });
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-5, atol: 1e-6 });
  model.dispose();
});

Deno.test("x + x · g stays as written when g is not a gate (it could be integer arithmetic)", async () => {
  const { graph, x, want } = gatedResidual(new Random(42), [5, 4, 3], "Identity");
  const model = await loadModel({ graph, opsets: { "": 17 } });
  await model.run({ x }, { profile: true });
  const adds = model.lastProfile!.filter((p) => p.op === "Add");
  deepStrictEqual(adds.map((p) => p.outputs[0]), [[1, 5, 4, 3]]);
  const out = await model.run({ x });
  assertClose(out.out.data as Float32Array, want, { rtol: 1e-5, atol: 1e-6 });
  model.dispose();
});
