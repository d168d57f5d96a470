/**
 * Which weights the pruner may rewrite: only constants no one else reads (no other node, no
 * graph output, no second layer reading them in another layout), and only biases it can write
 * back as they are used (a Gemm's C as a per-output bias, not scaled by beta). Each case that
 * may not is left dense with its reason; the pruned model's other outputs stay exactly dense.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { loadModel } from "../../../engine/model.ts";
import { pruneOnnx } from "../../../engine/prune/prune.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel, type BuildNode } from "../../_onnx_builder.ts";
import { Random } from "../../_random.ts";

const rng = new Random(808);
const f = (dims: number[]) =>
  new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -1, 1), dims);
const calibration = Array.from({ length: 3 }, () => ({ x: f([16, 16]) }));

async function prune(nodes: BuildNode[], outputs: string[], initializers: Record<string, Tensor>) {
  const bytes = buildModel({
    nodes,
    inputs: [{ name: "x", dims: [16, 16] }],
    outputs: outputs.map((name) => ({ name })),
    initializers,
  });
  const r = await pruneOnnx(bytes, { scheme: "c4n:2", calibration, keepFirstLast: false });
  return { dense: bytes, pruned: r.bytes, layers: r.layers };
}

/** The outputs of two models on the first calibration sample. */
async function outputs(a: Uint8Array, b: Uint8Array) {
  const run = async (bytes: Uint8Array) => {
    const m = await loadModel(bytes);
    try {
      return await m.run(calibration[0]);
    } finally {
      m.dispose();
    }
  };
  return [await run(a), await run(b)];
}

Deno.test("a weight also read by another node or output, or tied in another layout, stays dense", async () => {
  const w = f([16, 16]);
  const cases: [BuildNode[], string[], RegExp][] = [
    [
      [
        { op: "MatMul", name: "m1", inputs: ["x", "w"], outputs: ["y"] },
        { op: "Identity", name: "id", inputs: ["w"], outputs: ["wout"] },
      ],
      ["y", "wout"],
      /constant "w" is also read by Identity "id"/,
    ],
    [
      [
        { op: "MatMul", name: "m1", inputs: ["x", "w"], outputs: ["h"] },
        { op: "Add", name: "add", inputs: ["h", "w"], outputs: ["y"] },
      ],
      ["y"],
      /constant "w" is also read by Add "add"/,
    ],
    [
      [
        { op: "MatMul", name: "m1", inputs: ["x", "w"], outputs: ["h"] },
        { op: "Tanh", inputs: ["h"], outputs: ["t"] },
        { op: "Gemm", name: "g2", inputs: ["t", "w"], outputs: ["y"], attributes: { transB: 1 } },
      ],
      ["y"],
      /also read, in another layout, by Gemm "g2"/,
    ],
  ];
  for (const [nodes, outs, reason] of cases) {
    const r = await prune(nodes, outs, { w });
    deepStrictEqual(r.layers.length, 1);
    ok(reason.test(r.layers[0].skipped ?? ""), r.layers[0].skipped);
    const [dense, pruned] = await outputs(r.dense, r.pruned);
    for (const o of outs) deepStrictEqual(pruned[o].data, dense[o].data);
  }
  // The same weight read by two MatMuls the same way is one layer, pruned once for both.
  const shared = await prune(
    [
      { op: "MatMul", name: "m1", inputs: ["x", "w"], outputs: ["h"] },
      { op: "Tanh", inputs: ["h"], outputs: ["t"] },
      { op: "MatMul", name: "m2", inputs: ["t", "w"], outputs: ["y"] },
    ],
    ["y"],
    { w },
  );
  deepStrictEqual(shared.layers.map((l) => l.scheme), ["c4n:2"]);
});

Deno.test("Gemm: C scaled by beta stays dense; a C that is not per output is left as it is", async () => {
  const [w, c] = [f([16, 16]), f([16])];
  const gemm = (inputs: string[], attributes = {}): BuildNode[] => [
    { op: "Gemm", name: "g", inputs, outputs: ["y"], attributes },
  ];
  const scaled = await prune(gemm(["x", "w", "c"], { beta: 0.5 }), ["y"], { w, c });
  ok(/beta ≠ 1/.test(scaled.layers[0].skipped ?? ""), scaled.layers[0].skipped);
  // C of shape [16, 1] (one value per row of x, M = N = 16): the refit must not take it for a
  // per-output bias. The layer's reported error is then its real output error.
  const rowC = f([16, 1]);
  const r = await prune(gemm(["x", "w", "c"]), ["y"], { w, c: rowC });
  deepStrictEqual(r.layers[0].scheme, "c4n:2");
  const [want, got] = (await outputs(r.dense, r.pruned)).map((o) => o.y.data as Float32Array);
  let err = 0, norm = 0;
  for (let i = 0; i < want.length; i++) {
    err += (got[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  const actual = Math.sqrt(err / norm);
  const reported = r.layers[0].errorRefit!;
  ok(Math.abs(actual - reported) < 0.25 * reported, `actual ${actual}, reported ${reported}`);
});
