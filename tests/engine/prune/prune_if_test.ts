import { deepStrictEqual, ok } from "node:assert/strict";
import { fromBinary } from "npm:@bufbuild/protobuf@2.17.0";
import {
  type GraphProto,
  ModelProtoSchema,
  type TensorProto,
} from "../../../engine/formats/onnx/gen/onnx_pb.ts";
import { loadModel } from "../../../engine/model.ts";
import { pruneOnnx } from "../../../engine/prune/prune.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";

const [I, H, O, OUT] = [16, 32, 24, 8];
const BATCH = 2;

/**
 * x → MatMul w0 → Relu → If(cond) { then: MatMul w_then (an initializer of the branch) →
 * Relu; else: MatMul w_else (a Constant node inside the branch) → Relu } → MatMul w2.
 * The branch weights are the middle layers, so keepFirstLast leaves only them to prune.
 */
function ifModel(rng: Random): Uint8Array {
  const f = (dims: number[], s: number) =>
    new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -s, s), dims);
  return buildModel({
    nodes: [
      { op: "MatMul", inputs: ["x", "w0"], outputs: ["h0"], name: "first" },
      { op: "Relu", inputs: ["h0"], outputs: ["r0"] },
      {
        op: "If",
        name: "branch",
        inputs: ["cond"],
        outputs: ["h1"],
        attributes: {
          then_branch: {
            graph: {
              name: "then",
              nodes: [
                { op: "MatMul", inputs: ["r0", "w_then"], outputs: ["t1"], name: "then_mm" },
                { op: "Relu", inputs: ["t1"], outputs: ["yt"] },
              ],
              inputs: [],
              outputs: [{ name: "yt" }],
              initializers: { w_then: f([H, O], 0.3) },
            },
          },
          else_branch: {
            graph: {
              name: "else",
              nodes: [
                {
                  op: "Constant",
                  inputs: [],
                  outputs: ["w_else"],
                  attributes: { value: f([H, O], 0.3) },
                },
                { op: "MatMul", inputs: ["r0", "w_else"], outputs: ["e1"], name: "else_mm" },
                { op: "Relu", inputs: ["e1"], outputs: ["ye"] },
              ],
              inputs: [],
              outputs: [{ name: "ye" }],
            },
          },
        },
      },
      { op: "MatMul", inputs: ["h1", "w2"], outputs: ["y"], name: "last" },
    ],
    inputs: [{ name: "x", dims: [BATCH, I] }, { name: "cond", type: "bool", dims: [] }],
    outputs: [{ name: "y", dims: [BATCH, OUT] }],
    initializers: { w0: f([I, H], 0.4), w2: f([O, OUT], 0.3) },
  });
}

/** Correlated inputs (a few latent factors plus noise), as real activations are. */
function feeds(rng: Random, count: number, cond: boolean) {
  return Array.from({ length: count }, () => {
    const x = new Float32Array(BATCH * I);
    for (let b = 0; b < BATCH; b++) {
      const z = [rng.uniform(), rng.uniform(), rng.uniform()];
      for (let i = 0; i < I; i++) {
        x[b * I + i] = z[i % 3] * Math.cos(i) + 0.5 * z[(i + 1) % 3] + 0.1 * rng.uniform();
      }
    }
    return {
      x: new Tensor("float32", x, [BATCH, I]),
      cond: new Tensor("bool", Uint8Array.of(cond ? 1 : 0), []),
    };
  });
}

/** Float weights of the file, read from the protobuf (initializers and Constant nodes). */
function weights(bytes: Uint8Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const floats = (t: TensorProto) => {
    const v = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Float32Array.from(
      { length: t.rawData.byteLength / 4 },
      (_, i) => v.getFloat32(4 * i, true),
    );
  };
  const walk = (g: GraphProto) => {
    for (const t of g.initializer) out.set(t.name, floats(t));
    for (const n of g.node) {
      const value = n.attribute.find((a) => a.name === "value")?.t;
      if (n.opType === "Constant" && value) out.set(n.output[0], floats(value));
      for (const a of n.attribute) if (a.g) walk(a.g);
    }
  };
  walk(fromBinary(ModelProtoSchema, bytes).graph!);
  return out;
}

/** Scalar reference of the model: float64 matmuls and ReLUs with the given weights. */
function reference(w: Map<string, Float32Array>, x: Float32Array, cond: boolean): Float64Array {
  const mm = (a: ArrayLike<number>, b: Float32Array, k: number, n: number, relu: boolean) =>
    Float64Array.from({ length: BATCH * n }, (_, i) => {
      const [r, c] = [Math.floor(i / n), i % n];
      let s = 0;
      for (let j = 0; j < k; j++) s += a[r * k + j] * b[j * n + c];
      return relu ? Math.max(0, s) : s;
    });
  const h0 = mm(x, w.get("w0")!, I, H, true);
  const h1 = mm(h0, w.get(cond ? "w_then" : "w_else")!, H, O, true);
  return mm(h1, w.get("w2")!, O, OUT, false);
}

const relError = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) [e, n] = [e + (a[i] - b[i]) ** 2, n + b[i] ** 2];
  return Math.sqrt(e / n);
};

Deno.test("pruning reaches weights inside If branches: a branch initializer and a branch Constant get C4,2, the output stays close", async () => {
  const rng = new Random(71);
  const bytes = ifModel(rng);
  const dense = weights(bytes);
  const refit = await pruneOnnx(bytes, { scheme: "c4n:2", calibration: feeds(rng, 24, true) });
  const magnitude = await pruneOnnx(bytes, { scheme: "c4n:2" });
  deepStrictEqual(
    refit.layers.map((l) => [l.node, l.n]),
    [["first", 0], ["then_mm", 2], ["else_mm", 2], ["last", 0]],
  );
  ok(refit.layers[1].errorRefit! < refit.layers[1].errorMagnitude!, "then: refit on its path");
  ok(/not on the calibration path/.test(refit.layers[2].note ?? ""), "else: magnitude only");

  // Structure, checked on the file: in each output column of a MatMul weight [K, N], every
  // group of 4 along K has exactly 2 zeros; the first and last layers are untouched.
  const pruned = weights(refit.bytes);
  for (const name of ["w_then", "w_else"]) {
    const w = pruned.get(name)!;
    for (let c = 0; c < O; c++) {
      for (let g = 0; g < H; g += 4) {
        const zeros = [0, 1, 2, 3].filter((j) => w[(g + j) * O + c] === 0).length;
        deepStrictEqual(zeros, 2, `${name}: column ${c}, group ${g / 4}`);
      }
    }
  }
  // Without calibration, the survivors are the 2 largest |w| of each group, unchanged.
  const mw = weights(magnitude.bytes).get("w_else")!;
  const dw = dense.get("w_else")!;
  for (let c = 0; c < O; c++) {
    for (let g = 0; g < H; g += 4) {
      const idx = [0, 1, 2, 3].map((j) => (g + j) * O + c);
      const top = [...idx].sort((a, b) => Math.abs(dw[b]) - Math.abs(dw[a])).slice(0, 2);
      for (const i of idx) deepStrictEqual(mw[i], top.includes(i) ? dw[i] : 0, `w_else ${i}`);
    }
  }
  for (const name of ["w0", "w2"]) deepStrictEqual(pruned.get(name), dense.get(name), name);

  // Outputs on held-out inputs, both branches: onnxruntime runs the pruned file as the scalar
  // reference computes it from the file's weights, Quartet agrees, and the refit path stays
  // closer to dense than magnitude pruning does.
  const magnitudeWeights = weights(magnitude.bytes);
  deepStrictEqual(pruned.get("w_else"), magnitudeWeights.get("w_else"), "off the path: magnitude");
  const model = await loadModel(refit.bytes);
  for (const cond of [true, false]) {
    let eRefit = 0;
    let eMagnitude = 0;
    for (const f of feeds(new Random(cond ? 5 : 6), 6, cond)) {
      const x = f.x.data as Float32Array;
      const want = reference(dense, x, cond);
      const got = reference(pruned, x, cond);
      const ort = (await runOrt(refit.bytes, f)).y.data as Float32Array;
      assertClose(ort, got, { rtol: 1e-4, atol: 1e-4 }, "onnxruntime");
      assertClose((await model.run(f)).y.data as Float32Array, ort, { rtol: 1e-4, atol: 1e-4 });
      eRefit += relError(got, want) / 6;
      eMagnitude += relError(reference(magnitudeWeights, x, cond), want) / 6;
    }
    console.log(`branch ${cond}: relative error refit ${eRefit}, magnitude ${eMagnitude}`);
    // The else branch is off the calibration path: magnitude only on both sides.
    if (cond) {
      ok(eRefit < 0.5 * eMagnitude, `then: refit ${eRefit} vs magnitude ${eMagnitude}`);
      ok(eRefit < 0.15, `then: relative error ${eRefit}`);
    }
  }
  model.dispose();
});

Deno.test("a branch weight behind a Transpose is seen pruned by the layers after it (calibration captures copy the branches)", async () => {
  const rng = new Random(73);
  const f = (dims: number[], s: number) =>
    new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -s, s), dims);
  // If(cond) { then: MatMul(x, Transpose(wa)) "a" → Relu → MatMul wb "b"; else: MatMul wc }.
  // Loading the model folds the Transpose inside the branch; a capture that shared the
  // branch with the pruner froze "a" dense for every later capture, so "b" was refit on
  // features the pruned model never computes.
  const bytes = buildModel({
    nodes: [{
      op: "If",
      name: "branch",
      inputs: ["cond"],
      outputs: ["y"],
      attributes: {
        then_branch: {
          graph: {
            name: "then",
            nodes: [
              { op: "Transpose", inputs: ["wa_t"], outputs: ["wa"], attributes: { perm: [1, 0] } },
              { op: "MatMul", inputs: ["x", "wa"], outputs: ["ha"], name: "a" },
              { op: "Relu", inputs: ["ha"], outputs: ["ra"] },
              { op: "MatMul", inputs: ["ra", "wb"], outputs: ["yt"], name: "b" },
            ],
            inputs: [],
            outputs: [{ name: "yt" }],
            initializers: { wa_t: f([H, I], 0.4), wb: f([H, O], 0.3) },
          },
        },
        else_branch: {
          graph: {
            name: "else",
            nodes: [{ op: "MatMul", inputs: ["x", "wc"], outputs: ["ye"], name: "c" }],
            inputs: [],
            outputs: [{ name: "ye" }],
            initializers: { wc: f([I, O], 0.3) },
          },
        },
      },
    }],
    inputs: [{ name: "x", dims: [BATCH, I] }, { name: "cond", type: "bool", dims: [] }],
    outputs: [{ name: "y", dims: [BATCH, O] }],
  });
  const calibration = feeds(rng, 24, true);
  const r = await pruneOnnx(bytes, { scheme: "c4n:2", calibration, keepFirstLast: false });
  deepStrictEqual(r.layers.map((l) => [l.node, l.n]), [["a", 2], ["b", 2], ["c", 2]]);
  // "b" is the model's output: its reported refit error (every calibration column used) must
  // be the pruned model's actual output error against dense on the same samples.
  const [dense, pruned] = [await loadModel(bytes), await loadModel(r.bytes)];
  let [err, norm] = [0, 0];
  for (const feed of calibration) {
    const yd = (await dense.run(feed)).y.data as Float32Array;
    const yp = (await pruned.run(feed)).y.data as Float32Array;
    yd.forEach((v, i) => [err, norm] = [err + (yp[i] - v) ** 2, norm + v * v]);
  }
  dense.dispose();
  pruned.dispose();
  const actual = Math.sqrt(err / norm);
  const reported = r.layers[1].errorRefit!;
  ok(Math.abs(actual - reported) < 1e-3 * actual + 1e-6, `reported ${reported}, actual ${actual}`);
});
