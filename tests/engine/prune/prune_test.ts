import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { InvalidArgumentError, ShapeError } from "../../../engine/errors.ts";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import { loadModel } from "../../../engine/model.ts";
import { pruneOnnx } from "../../../engine/prune/prune.ts";
import { pruneReportMarkdown } from "../../../engine/prune/report.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { detectC4n } from "../../../engine/weights/c4n.ts";
import { detectPattern3x3 } from "../../../engine/weights/pattern3x3.ts";
import { detectBlockSparse } from "../../../engine/weights/block_sparse.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";

const rng = new Random(31);
const f = (dims: number[], scale = 1) =>
  new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale), dims);

/** conv3x3 → relu → conv1x1 → relu → conv1x1 → relu → conv1x1, random weights. */
function convNet(): Uint8Array {
  return buildModel({
    nodes: [
      {
        op: "Conv",
        inputs: ["x", "w0", "b0"],
        outputs: ["h0"],
        attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
      { op: "Relu", inputs: ["h0"], outputs: ["r0"] },
      {
        op: "Conv",
        inputs: ["r0", "w1", "b1"],
        outputs: ["h1"],
        attributes: { kernel_shape: [1, 1] },
      },
      { op: "Relu", inputs: ["h1"], outputs: ["r1"] },
      {
        op: "Conv",
        inputs: ["r1", "w2", "b2"],
        outputs: ["h2"],
        attributes: { kernel_shape: [1, 1] },
      },
      { op: "Relu", inputs: ["h2"], outputs: ["r2"] },
      {
        op: "Conv",
        inputs: ["r2", "w3", "b3"],
        outputs: ["y"],
        attributes: { kernel_shape: [1, 1] },
      },
    ],
    inputs: [{ name: "x", dims: [1, 8, 12, 12] }],
    outputs: [{ name: "y", dims: [1, 4, 12, 12] }],
    initializers: {
      w0: f([24, 8, 3, 3], 0.3),
      b0: f([24], 0.1),
      w1: f([32, 24, 1, 1], 0.3),
      b1: f([32], 0.1),
      w2: f([32, 32, 1, 1], 0.3),
      b2: f([32], 0.1),
      w3: f([4, 32, 1, 1], 0.3),
      b3: f([4], 0.1),
    },
  });
}

function calibration(count: number) {
  // Correlated inputs (smooth images), as real activations are: what makes a refit pay.
  return Array.from({ length: count }, () => {
    const x = new Float32Array(8 * 144);
    const phase = rng.uniform(0, 6);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.07 + phase) + 0.3 * rng.uniform();
    return { x: new Tensor("float32", x, [1, 8, 12, 12]) };
  });
}

Deno.test("C4n pruning: exact scheme, input untouched, refit lowers the error, runs in onnxruntime", async () => {
  const bytes = convNet();
  const copy = bytes.slice();
  for (const n of [1, 2, 3]) {
    const { bytes: out, layers } = await pruneOnnx(bytes, {
      scheme: `c4n:${n}`,
      calibration: calibration(6),
      keepFirstLast: true,
    });
    deepStrictEqual(bytes, copy, "the input model is never modified");
    deepStrictEqual(layers.map((l) => l.n), [0, n, n, 0]);
    const ir = await decodeOnnx(out);
    for (const name of ["w1", "w2"]) {
      const w = ir.graph.initializers.get(name)!;
      ok(
        detectC4n(w.data as Float32Array, w.dims[0], w.size / w.dims[0]) >= n,
        `${name} is C4,${n}`,
      );
    }
    for (const l of layers.filter((l) => l.n)) {
      ok(
        l.errorRefit! < 0.9 * l.errorMagnitude!,
        `${l.node}: refit ${l.errorRefit} vs ${l.errorMagnitude}`,
      );
    }
    ok(pruneReportMarkdown(layers).includes(`C4,${n}`));
    // The pruned model is a standard ONNX file: onnxruntime and Quartet agree on it.
    const x = calibration(1)[0].x;
    const want = await runOrt(out, { x });
    const model = await loadModel(out);
    assertClose((await model.run({ x })).y.data as Float32Array, want.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-4,
    });
    if (n >= 2) ok(model.summary().kernelChoices.some((c) => c.format === `c4n:${n}`));
    model.dispose();
  }
});

Deno.test("pruning without calibration is magnitude only; bad requests are typed errors", async () => {
  const bytes = convNet();
  const { layers } = await pruneOnnx(bytes, { scheme: "c4n:2", keepFirstLast: false });
  deepStrictEqual(layers.map((l) => l.n), [2, 2, 2, 2]);
  ok(layers.every((l) => l.errorRefit === undefined));
  await rejects(pruneOnnx(bytes, { scheme: "c4n:4" }), InvalidArgumentError);
  await rejects(pruneOnnx(bytes, { scheme: "pattern:8" }), InvalidArgumentError);
  await rejects(
    pruneOnnx(bytes, { scheme: "c4n:2", layers: "Conv(" }),
    (e) => e instanceof InvalidArgumentError && /layers option "Conv\("/.test(e.message),
  );
  await rejects(
    pruneOnnx(bytes, { scheme: "c4n:2", calibration: [{ y: f([1, 8, 12, 12]) }] }),
    (e) => e instanceof ShapeError && /"x"/.test(e.message),
  );
  // K < 4: a 1x1 conv over 3 channels has no group of 4 to prune.
  const tiny = buildModel({
    nodes: [{
      op: "Conv",
      inputs: ["x", "w"],
      outputs: ["y"],
      attributes: { kernel_shape: [1, 1] },
    }],
    inputs: [{ name: "x", dims: [1, 3, 4, 4] }],
    outputs: [{ name: "y" }],
    initializers: { w: f([5, 3, 1, 1]) },
  });
  const r = await pruneOnnx(tiny, { scheme: "c4n:2", keepFirstLast: false });
  ok(/< 4/.test(r.layers[0].skipped ?? ""));
});

Deno.test("pattern pruning: ≤ 8 four-tap shapes, kernels removed, refit helps, runs sparse", async () => {
  const bytes = convNet();
  const { bytes: out, layers } = await pruneOnnx(bytes, {
    scheme: "pattern:0.3",
    calibration: calibration(6),
    keepFirstLast: false,
  });
  // Only the 3x3 conv takes the scheme; the 1x1 convs are reported and left dense.
  deepStrictEqual(layers.map((l) => l.scheme), ["pattern:0.3", undefined, undefined, undefined]);
  ok(/3x3/.test(layers[1].skipped ?? ""));
  const w = (await decodeOnnx(out)).graph.initializers.get("w0")!;
  const structure = detectPattern3x3(w.data as Float32Array, 24, 8)!;
  ok(structure, "every kernel keeps at most 4 taps");
  ok(structure.shapes <= 8, `${structure.shapes} shapes`);
  ok(Math.abs(structure.kept - 0.7 * 24 * 8) <= 1, `${structure.kept} kernels kept`);
  ok(layers[0].errorRefit! < 0.9 * layers[0].errorMagnitude!, JSON.stringify(layers[0]));
  ok(pruneReportMarkdown(layers).includes("pattern:0.3"));
  const x = calibration(1)[0].x;
  const want = await runOrt(out, { x });
  const model = await loadModel(out);
  assertClose((await model.run({ x })).y.data as Float32Array, want.y.data as Float32Array, {
    rtol: 1e-4,
    atol: 1e-4,
  });
  ok(model.summary().kernelChoices.some((c) => c.format === "pattern3x3"));
  model.dispose();
});

Deno.test("block pruning: rows and columns of 16 x 256 blocks, refit helps, runs the block GEMV", async () => {
  const bytes = buildModel({
    nodes: [
      { op: "MatMul", inputs: ["x", "w0"], outputs: ["h0"] },
      { op: "Relu", inputs: ["h0"], outputs: ["r0"] },
      { op: "Gemm", inputs: ["r0", "w1", "b1"], outputs: ["y"], attributes: { transB: 1 } },
    ],
    inputs: [{ name: "x", dims: [1, 48] }],
    outputs: [{ name: "y" }],
    initializers: { w0: f([48, 300], 0.3), w1: f([40, 300], 0.2), b1: f([40], 0.1) },
  });
  const calib = Array.from({ length: 40 }, () => {
    const phase = rng.uniform(0, 6);
    return {
      x: new Tensor(
        "float32",
        Float32Array.from({ length: 48 }, (_, i) => Math.sin(i * 0.2 + phase)),
        [1, 48],
      ),
    };
  });
  const { bytes: out, layers } = await pruneOnnx(bytes, {
    scheme: "block:0.25",
    calibration: calib,
    keepFirstLast: false,
  });
  deepStrictEqual(layers.map((l) => l.scheme), ["block:0.25", "block:0.25"]);
  const ir = await decodeOnnx(out);
  // Wᵀ of the MatMul (300 x 48) and the Gemm's stored W (40 x 300), as the engine packs them.
  const w0 = ir.graph.initializers.get("w0")!.data as Float32Array;
  const w0t = new Float32Array(300 * 48).map((_, i) => w0[(i % 48) * 300 + Math.floor(i / 48)]);
  for (
    const [wt, m, k] of [[w0t, 300, 48], [
      ir.graph.initializers.get("w1")!.data as Float32Array,
      40,
      300,
    ]] as const
  ) {
    const stats = detectBlockSparse(wt, m, k);
    ok(stats.nonzeroFraction < 0.3, `${m}x${k}: ${stats.nonzeroFraction} non-zero`);
  }
  for (const l of layers) ok(l.errorRefit! < l.errorMagnitude!, JSON.stringify(l));
  const x = calib[0].x;
  const want = await runOrt(out, { x });
  const model = await loadModel(out);
  assertClose((await model.run({ x })).y.data as Float32Array, want.y.data as Float32Array, {
    rtol: 1e-4,
    atol: 1e-4,
  });
  ok(
    model.summary().kernelChoices.every((c) => c.format.startsWith("block:")),
    JSON.stringify(model.summary().kernelChoices),
  );
  model.dispose();
  await rejects(pruneOnnx(bytes, { scheme: "block:1.5" }), InvalidArgumentError);
  await rejects(pruneOnnx(bytes, { scheme: "pattern:1" }), InvalidArgumentError);
});
