import { deepStrictEqual, notStrictEqual, ok } from "node:assert/strict";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import { loadModel } from "../../../engine/model.ts";
import { pruneModel } from "../../../engine/prune/prune.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel, type BuildNode } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";

const rng = new Random(83);
const f = (dims: number[], scale: number) =>
  new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale), dims);

/** Smooth images plus noise: correlated inputs, as real activations are. */
function images(count: number, c: number, h: number, w: number) {
  return Array.from({ length: count }, () => {
    const x = new Float32Array(c * h * w);
    const phase = rng.uniform(0, 6);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.09 + phase) + 0.3 * rng.uniform();
    return { x: new Tensor("float32", x, [1, c, h, w]) };
  });
}

/** One 3x3 stride-2 conv over a 10x12 input: SAME pads 1 pixel on one side only. */
function convBytes(autoPad: string, w: Tensor, b: Tensor): Uint8Array {
  const node: BuildNode = {
    op: "Conv",
    inputs: ["x", "w", "b"],
    outputs: ["y"],
    name: "conv",
    attributes: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: autoPad },
  };
  return buildModel({
    nodes: [node],
    inputs: [{ name: "x", dims: [1, 8, 10, 12] }],
    outputs: [{ name: "y" }],
    initializers: { w, b },
  });
}

Deno.test("pruneModel prunes an IR model in memory; auto_pad convs are calibrated on the right windows", async () => {
  const [w, b] = [f([12, 8, 3, 3], 0.3), f([12], 0.1)];
  const calibration = images(6, 8, 10, 12);
  for (const autoPad of ["SAME_UPPER", "SAME_LOWER", "VALID"]) {
    const dense = await decodeOnnx(convBytes(autoPad, w, b));
    const before = (dense.graph.initializers.get("w")!.data as Float32Array).slice();
    const { model, layers } = await pruneModel(dense, {
      scheme: "c4n:2",
      calibration,
      keepFirstLast: false,
    });
    deepStrictEqual(layers.map((l) => [l.node, l.n]), [["conv", 2]], autoPad);
    deepStrictEqual(dense.graph.initializers.get("w")!.data, before, "the input model is kept");
    const pw = model.graph.initializers.get("w")!;
    const pb = model.graph.initializers.get("b")!;
    notStrictEqual(pb.data, b.data);
    const data = pw.data as Float32Array;
    for (let i = 0; i < data.length; i += 4) {
      deepStrictEqual([0, 1, 2, 3].filter((j) => data[i + j] === 0).length, 2, `group ${i / 4}`);
    }
    // The report's refit error comes from the calibration columns the pruner built from each
    // layer input; with every column used it must equal the error of the conv's output as
    // onnxruntime computes it, which only holds if the windows were padded as the op pads.
    const pruned = convBytes(autoPad, pw, pb);
    let err = 0;
    let norm = 0;
    for (const feed of calibration) {
      const yd = (await runOrt(convBytes(autoPad, w, b), feed)).y.data as Float32Array;
      const yp = (await runOrt(pruned, feed)).y.data as Float32Array;
      yd.forEach((v, i) => [err, norm] = [err + (yp[i] - v) ** 2, norm + v * v]);
    }
    const actual = Math.sqrt(err / norm);
    ok(
      Math.abs(actual - layers[0].errorRefit!) < 1e-3 * actual + 1e-6,
      `${autoPad}: reported ${layers[0].errorRefit}, actual ${actual}`,
    );
    ok(layers[0].errorRefit! < 0.7 * layers[0].errorMagnitude!, JSON.stringify(layers[0]));
    // loadModel takes the pruned IR directly and computes what onnxruntime computes.
    const m = await loadModel(model);
    const x = images(1, 8, 10, 12)[0];
    assertClose(
      (await m.run(x)).y.data as Float32Array,
      (await runOrt(pruned, x)).y.data as Float32Array,
      { rtol: 1e-4, atol: 1e-5 },
    );
    m.dispose();
  }
});

Deno.test("pruneModel folds weights held in Constant nodes without touching the input model", async () => {
  const bytes = buildModel({
    nodes: [
      { op: "Constant", inputs: [], outputs: ["w"], attributes: { value: f([16, 20], 0.3) } },
      { op: "MatMul", inputs: ["x", "w"], outputs: ["y"], name: "mm" },
    ],
    inputs: [{ name: "x", dims: [3, 16] }],
    outputs: [{ name: "y" }],
  });
  const dense = await decodeOnnx(bytes);
  const nodes = dense.graph.nodes.length;
  const { model, layers } = await pruneModel(dense, { scheme: "c4n:3", keepFirstLast: false });
  deepStrictEqual(layers.map((l) => [l.node, l.n]), [["mm", 3]]);
  deepStrictEqual(dense.graph.nodes.length, nodes, "the input keeps its Constant node");
  ok(!dense.graph.initializers.has("w"));
  const w = model.graph.initializers.get("w")!.data as Float32Array;
  // [K = 16, N = 20]: groups of 4 along K in every column keep 1 weight.
  for (let c = 0; c < 20; c++) {
    for (let g = 0; g < 16; g += 4) {
      deepStrictEqual([0, 1, 2, 3].filter((j) => w[(g + j) * 20 + c] !== 0).length, 1);
    }
  }
});
