import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { decodeOnnx } from "../../../../engine/formats/onnx/mod.ts";
import { ModelFormatError } from "../../../../engine/errors.ts";
import { loadModel } from "../../../../engine/model.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { buildModel, oneNodeModel } from "../../../_onnx_builder.ts";
import { runOrt } from "../../../_ort.ts";
import { assertClose } from "../../../_assert.ts";
import { Random } from "../../../_random.ts";

const f32 = (data: number[] | Float32Array, dims: number[]) =>
  new Tensor("float32", Float32Array.from(data), dims);

Deno.test("a built model runs in onnxruntime-node, decodes exactly, and runs in Quartet", async () => {
  const rng = new Random(4);
  const w = f32(rng.floats(6 * 4), [6, 4]);
  const bytes = buildModel({
    nodes: [
      { op: "MatMul", inputs: ["x", "w"], outputs: ["h"] },
      { op: "Relu", inputs: ["h"], outputs: ["y"], name: "act" },
    ],
    inputs: [{ name: "x", dims: ["batch", 6] }],
    outputs: [{ name: "y", dims: ["batch", 4] }],
    initializers: { w },
  });
  const ir = await decodeOnnx(bytes, { name: "mlp.onnx" });
  deepStrictEqual(ir.opsets, { "": 17 });
  deepStrictEqual(ir.graph.inputs, [{ name: "x", type: "float32", dims: ["batch", 6] }]);
  deepStrictEqual(ir.graph.nodes.map((n) => [n.name, n.op, n.inputs, n.outputs]), [
    ["MatMul_0", "MatMul", ["x", "w"], ["h"]],
    ["act", "Relu", ["h"], ["y"]],
  ]);
  deepStrictEqual([...ir.graph.initializers.get("w")!.data], [...w.data]);
  const x = f32(rng.floats(3 * 6), [3, 6]);
  const want = await runOrt(bytes, { x });
  const model = await loadModel(bytes);
  const got = await model.run({ x });
  deepStrictEqual(got.y.dims, want.y.dims);
  assertClose(got.y.data as Float32Array, want.y.data as Float32Array, { rtol: 1e-5, atol: 1e-6 });
  model.dispose();
});

Deno.test("attributes of every kind and every initializer type decode", async () => {
  const sub = { nodes: [], inputs: [], outputs: [{ name: "x" }] };
  const bytes = oneNodeModel("Custom", [{ name: "x" }], [{ name: "y" }], {
    i: 3,
    f: { float: 0.5 },
    s: "hello",
    ints: [1, -2, 3],
    fs: { floats: [0.25, 1.5] },
    ss: ["a", "b"],
    t: new Tensor("int64", new BigInt64Array([7n, -1n]), [2]),
    g: { graph: sub },
  }, {
    initializers: {
      a: new Tensor("int32", new Int32Array([1, 2]), [2]),
      b: new Tensor("uint8", new Uint8Array([255]), [1]),
      c: new Tensor("bool", new Uint8Array([1, 0]), [2]),
      d: new Tensor("float16", new Uint16Array([0x3c00, 0xc000]), [2]),
      e: new Tensor("float32", new Float32Array(0), [0, 3]),
    },
  });
  const ir = await decodeOnnx(bytes);
  const a = ir.graph.nodes[0].attributes;
  deepStrictEqual([a.i, a.f, a.s, a.ints, a.fs, a.ss], [3, 0.5, "hello", [1, -2, 3], [0.25, 1.5], [
    "a",
    "b",
  ]]);
  deepStrictEqual([...(a.t as Tensor).data], [7n, -1n]);
  ok((a.g as { outputs: unknown[] }).outputs.length === 1);
  const init = ir.graph.initializers;
  deepStrictEqual([...init.get("d")!.data], [1, -2]);
  deepStrictEqual(init.get("d")!.type, "float32");
  deepStrictEqual([init.get("e")!.dims, init.get("c")!.type, init.get("b")!.data[0]], [
    [0, 3],
    "bool",
    255,
  ]);
});

Deno.test("malformed models are ModelFormatErrors naming what is wrong", async () => {
  const expect = (bytes: Uint8Array, pattern: RegExp) =>
    rejects(decodeOnnx(bytes, { name: "bad.onnx" }), (e) => {
      ok(e instanceof ModelFormatError, String(e));
      ok(pattern.test(e.message), e.message);
      return true;
    });
  await expect(new Uint8Array(0), /empty/);
  await expect(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /not a valid ONNX file/);
  await expect(new TextEncoder().encode("hello, this is not a model"), /bad\.onnx/);
  // A valid protobuf message that is not a model: only a producer name.
  await expect(new Uint8Array([0x12, 0x01, 0x61]), /no graph/);
  const good = oneNodeModel("Relu", [{ name: "x" }], [{ name: "y" }]);
  await expect(good.subarray(0, good.length - 3), /bad\.onnx/);
  // Dangling edge, duplicate producer, cycle.
  await expect(
    buildModel({
      nodes: [{ op: "Relu", inputs: ["nope"], outputs: ["y"] }],
      inputs: [],
      outputs: [{ name: "y" }],
    }),
    /reads "nope", which nothing produces/,
  );
  await expect(
    buildModel({
      nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }, {
        op: "Neg",
        inputs: ["x"],
        outputs: ["y"],
      }],
      inputs: [{ name: "x" }],
      outputs: [{ name: "y" }],
    }),
    /"y" .*produced twice/,
  );
  await expect(
    buildModel({
      nodes: [{ op: "Relu", inputs: ["b"], outputs: ["a"] }, {
        op: "Neg",
        inputs: ["a"],
        outputs: ["b"],
      }],
      inputs: [],
      outputs: [{ name: "a" }],
    }),
    /cycle through node/,
  );
});

Deno.test("nodes come back in an order that runs: the file's when it already does", async () => {
  const ops = async (nodes: { op: string; inputs: string[]; outputs: string[] }[]) =>
    (await decodeOnnx(buildModel({ nodes, inputs: [{ name: "x" }], outputs: [{ name: "y" }] })))
      .graph.nodes.map((n) => n.op);
  // Listed out of order: sorted.
  deepStrictEqual(
    await ops([
      { op: "Neg", inputs: ["a"], outputs: ["y"] },
      { op: "Relu", inputs: ["x"], outputs: ["a"] },
    ]),
    ["Relu", "Neg"],
  );
  // Already in an order that runs (Abs does not wait for Relu): kept as listed.
  deepStrictEqual(
    await ops([
      { op: "Relu", inputs: ["x"], outputs: ["a"] },
      { op: "Neg", inputs: ["a"], outputs: ["b"] },
      { op: "Abs", inputs: ["x"], outputs: ["c"] },
      { op: "Add", inputs: ["b", "c"], outputs: ["y"] },
    ]),
    ["Relu", "Neg", "Abs", "Add"],
  );
});

Deno.test("initializers that lie about their size are rejected before allocating", async () => {
  const { create, toBinary } = await import("npm:@bufbuild/protobuf@2.17.0");
  const pb = await import("../../../../engine/formats/onnx/gen/onnx_pb.ts");
  const withTensor = (t: Parameters<typeof create<typeof pb.TensorProtoSchema>>[1]) =>
    toBinary(
      pb.ModelProtoSchema,
      create(pb.ModelProtoSchema, {
        graph: {
          name: "g",
          initializer: [create(pb.TensorProtoSchema, t)],
          node: [{ opType: "Identity", input: ["w"], output: ["y"] }],
          output: [{ name: "y" }],
        },
      }),
    );
  const expect = (bytes: Uint8Array, pattern: RegExp) =>
    rejects(decodeOnnx(bytes), (e) => e instanceof ModelFormatError && pattern.test(e.message));
  await expect(
    withTensor({ name: "w", dims: [2n ** 40n], dataType: 1 }),
    /"w".*dimension|too many/,
  );
  await expect(
    withTensor({ name: "w", dims: [2n ** 20n, 2n ** 20n], dataType: 1 }),
    /"w".*too many/,
  );
  await expect(withTensor({ name: "w", dims: [-1n], dataType: 1 }), /"w" has dimension -1/);
  await expect(
    withTensor({ name: "w", dims: [4n], dataType: 1, rawData: new Uint8Array(12) }),
    /"w" has 12 bytes.*need 16/,
  );
  await expect(
    withTensor({ name: "w", dims: [3n], dataType: 1, floatData: [1, 2] }),
    /"w" has 2 values/,
  );
  await expect(withTensor({ name: "w", dims: [1n], dataType: 8 }), /"w".*STRING/);
  await expect(withTensor({ name: "w", dims: [1n], dataType: 99 }), /"w".*99/);
  await expect(
    withTensor({
      name: "w",
      dims: [1n],
      dataType: 1,
      dataLocation: 1,
      externalData: [{ key: "location", value: "w.bin" }],
    }),
    /external file "w\.bin"/,
  );
});
