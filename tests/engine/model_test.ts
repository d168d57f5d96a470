import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import {
  DTypeError,
  InvalidArgumentError,
  QuartetError,
  ShapeError,
  Tensor,
  UnsupportedOpError,
} from "../../mod.ts";
import type { Graph, Model as IrModel } from "../../engine/ir/graph.ts";
import { loadModel, type LoadModelOptions, type RunOptions } from "../../engine/model.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import { oneNodeModel } from "../_onnx_builder.ts";
import { gemmReference, transpose2d } from "../reference/gemm.ts";
import { graph, model, node } from "../_ir.ts";
import { findTypeProblems } from "../../engine/check_types.ts";
import { FOLD_LIMIT, foldLimit } from "../../engine/ops/_node_params.ts";
import { loadOps } from "../../engine/ops/registry.ts";

function f32(data: Float32Array, dims: number[]): Tensor<"float32"> {
  return new Tensor("float32", data, dims);
}

const rng = new Random(9);
const W1 = rng.floats(12 * 20);
const W2 = rng.floats(7 * 20); // stored [n, k] for transB
const C2 = rng.floats(7);

function mlp(): IrModel {
  return model(graph(
    [
      node("MatMul", ["x", "w1"], ["h"]),
      node("Relu", ["h"], ["hr"]),
      node("Gemm", ["hr", "w2", "c2"], ["y"], { transB: 1 }),
      node("Sigmoid", ["y"], ["ys"]),
      node("Mul", ["y", "ys"], ["z"]),
    ],
    [{ name: "x", type: "float32", dims: ["batch", 12] }],
    [{ name: "z", type: "float32", dims: ["batch", 7] }],
    [["w1", f32(W1, [12, 20])], ["w2", f32(W2, [7, 20])], ["c2", f32(C2, [7])]],
  ));
}

function mlpReference(x: Float32Array, m: number): Float32Array {
  const h = gemmReference(x, W1, m, 12, 20, undefined, (v) => Math.max(v, 0));
  return gemmReference(h, transpose2d(W2, 7, 20), m, 20, 7, C2, (v) => v / (1 + Math.exp(-v)));
}

Deno.test("a model runs end to end with Relu and SiLU fused into its producers", async () => {
  for (const kernels of ["scalar", "simd", "relaxed"] as const) {
    const m = await loadModel(mlp(), { kernels });
    const s = m.summary();
    deepStrictEqual(s.fusedActivations, 2);
    deepStrictEqual(s.ops, { MatMul: 1, Gemm: 1 });
    deepStrictEqual(s.layers.map((l) => l.fused), ["clamp", "silu"]);
    for (const batch of [1, 3, 8]) {
      const x = rng.floats(batch * 12);
      const out = await m.run({ x: f32(x, [batch, 12]) });
      deepStrictEqual(out.z.dims, [batch, 7]);
      assertClose(
        out.z.data as Float32Array,
        mlpReference(x, batch),
        { rtol: 1e-4, atol: 1e-5 },
        kernels,
      );
    }
    m.dispose();
  }
});

Deno.test("running frees every intermediate: memory does not grow over runs", async () => {
  const m = await loadModel(mlp());
  const x = f32(rng.floats(4 * 12), [4, 12]);
  await m.run({ x });
  const peak = m.summary().peakMemoryBytes;
  for (let i = 0; i < 50; i++) await m.run({ x });
  deepStrictEqual(m.summary().peakMemoryBytes, peak);
  m.dispose();
});

Deno.test("shape arithmetic known from the input shapes is reused only while they repeat", async () => {
  // y = Reshape(x, Concat(Unsqueeze(Shape(x)[0]), [2, 3])) and s = Shape(x) as an output.
  const m = await loadModel(model(graph(
    [
      node("Shape", ["x"], ["s"]),
      node("Gather", ["s", "zero"], ["b"], { axis: 0 }),
      node("Unsqueeze", ["b", "axes"], ["bu"]),
      node("Concat", ["bu", "rest"], ["target"], { axis: 0 }),
      node("Reshape", ["x", "target"], ["y"]),
      node("Relu", ["y"], ["z"]),
    ],
    [{ name: "x", type: "float32", dims: ["batch", 6] }],
    [{ name: "z", type: "float32", dims: ["batch", 2, 3] }, {
      name: "s",
      type: "int64",
      dims: [2],
    }],
    [
      ["zero", new Tensor("int64", new BigInt64Array([0n]), [])],
      ["axes", new Tensor("int64", new BigInt64Array([0n]), [1])],
      ["rest", new Tensor("int64", new BigInt64Array([2n, 3n]), [2])],
    ],
  )));
  let peak = 0;
  for (const [i, batch] of [1, 1, 3, 3, 1, 4, 4, 1, 3].entries()) {
    const x = rng.floats(batch * 6).map((v) => v - 0.5);
    const out = await m.run({ x: f32(x, [batch, 6]) });
    deepStrictEqual(out.z.dims, [batch, 2, 3]);
    deepStrictEqual([...out.s.data as BigInt64Array], [BigInt(batch), 6n]);
    deepStrictEqual([...out.z.data as Float32Array], [...x].map((v) => Math.max(v, 0)));
    if (i === 5) peak = m.summary().peakMemoryBytes;
    if (i > 5) deepStrictEqual(m.summary().peakMemoryBytes, peak, "memory grew");
  }
  m.dispose();
});

Deno.test("values computed from a run-time integer tensor follow it when only its values change", async () => {
  // Gather on a 100-element int64 input: shape inference knows the result from the values it
  // reads back, so a cache keyed on dims alone would return the first run's answer.
  const m = await loadModel(model(graph(
    [node("Gather", ["x", "i"], ["y"], { axis: 0 })],
    [{ name: "x", type: "int64", dims: [100] }],
    [{ name: "y", type: "int64", dims: [] }],
    [["i", new Tensor("int64", new BigInt64Array([5n]), [])]],
  )));
  for (const base of [0n, 100n, 100n, 7n]) {
    const x = new Tensor("int64", BigInt64Array.from({ length: 100 }, (_, i) => base + BigInt(i)), [
      100,
    ]);
    deepStrictEqual([...(await m.run({ x })).y.data as BigInt64Array], [base + 5n]);
  }
  m.dispose();
});

Deno.test("a value only an If branch reads is freed after the If: streaming runs do not leak", async () => {
  const branch = (op: string): Graph =>
    graph([node(op, ["r", "r"].slice(0, op === "Add" ? 2 : 1), ["out"])], [], [{
      name: "out",
      type: "float32",
    }]);
  const m = await loadModel(model(graph(
    [
      node("Relu", ["x"], ["r"]),
      node("If", ["cond"], ["y"], { then_branch: branch("Add"), else_branch: branch("Neg") }),
    ],
    [{ name: "x", type: "float32", dims: [4096] }, { name: "cond", type: "bool", dims: [] }],
    [{ name: "y", type: "float32", dims: [4096] }],
  )));
  const x = f32(rng.floats(4096).map((v) => v - 0.5), [4096]);
  let peak = 0;
  for (let i = 0; i < 60; i++) {
    const flag = i % 3 !== 0;
    const out = await m.run({ x, cond: new Tensor("bool", new Uint8Array([flag ? 1 : 0]), []) });
    const r = [...x.data as Float32Array].map((v) => Math.max(v, 0));
    deepStrictEqual([...out.y.data as Float32Array], r.map((v) => (flag ? v + v : -v)));
    if (i === 3) peak = m.summary().peakMemoryBytes;
    if (i > 3) deepStrictEqual(m.summary().peakMemoryBytes, peak, `memory grew at run ${i}`);
  }
  m.dispose();
});

Deno.test("an If branch is folded when first taken, with the enclosing graph's constants", async () => {
  // then: out = x + c * k (k = 3 lives in the main graph); else: out = x - 10.
  const out = [{ name: "out", type: "float32" as const }];
  const c = f32(new Float32Array([2]), [1]);
  const ten = f32(new Float32Array([10]), [1]);
  const thenBranch = graph(
    [
      node("Constant", [], ["c"], { value: c }),
      node("Mul", ["c", "k"], ["ck"]),
      node("Add", ["x", "ck"], ["out"]),
    ],
    [],
    out,
  );
  const elseBranch = graph(
    [
      node("Constant", [], ["ten"], { value: ten }),
      node("Sub", ["x", "ten"], ["out"]),
    ],
    [],
    out,
  );
  const m = await loadModel(model(graph(
    [node("If", ["cond"], ["y"], { then_branch: thenBranch, else_branch: elseBranch })],
    [{ name: "x", type: "float32", dims: [3] }, { name: "cond", type: "bool", dims: [] }],
    [{ name: "y", type: "float32", dims: [3] }],
    [["k", f32(new Float32Array([3]), [1])]],
  )));
  deepStrictEqual(m.summary().foldedConstants, 0, "no branch is readied before a run takes it");
  const x = f32(new Float32Array([1, -2, 0.5]), [3]);
  const run = async (
    flag: boolean,
  ) => [
    ...(await m.run({ x, cond: new Tensor("bool", new Uint8Array([flag ? 1 : 0]), []) })).y
      .data as Float32Array,
  ];
  deepStrictEqual(await run(true), [7, 4, 6.5]);
  // The Constant and the Mul reading the main graph's k became constants.
  deepStrictEqual(m.summary().foldedConstants, 2);
  deepStrictEqual(thenBranch.nodes.map((n) => n.op), ["Add"]);
  deepStrictEqual(elseBranch.nodes.map((n) => n.op), ["Constant", "Sub"]);
  deepStrictEqual(await run(false), [-9, -12, -9.5]);
  deepStrictEqual(m.summary().foldedConstants, 3);
  deepStrictEqual(await run(true), [7, 4, 6.5]);
  deepStrictEqual(m.summary().foldedConstants, 3, "a branch is readied once");
  m.dispose();
});

Deno.test("feeds are checked: names, types and dims, with typed errors", async () => {
  const m = await loadModel(mlp());
  await rejects(
    m.run({}),
    (e) => e instanceof InvalidArgumentError && /Missing input "x"/.test(e.message),
  );
  await rejects(
    m.run({ x: f32(new Float32Array(12), [1, 12]), y: f32(new Float32Array(1), [1]) }),
    (e) => e instanceof InvalidArgumentError && /Unknown input "y"/.test(e.message),
  );
  await rejects(m.run({ x: new Tensor("int32", new Int32Array(12), [1, 12]) }), DTypeError);
  await rejects(
    m.run({ x: f32(new Float32Array(13), [1, 13]) }),
    (e) => e instanceof ShapeError && /\[batch, 12\]/.test(e.message),
  );
  await rejects(m.run({ x: f32(new Float32Array(12), [12]) }), ShapeError);
  // A tensor's dims cannot be replaced after it was made (they would no longer match its data).
  const made = f32(new Float32Array(12), [1, 12]);
  throws(() => ((made as { dims: readonly number[] }).dims = [3, 12]), TypeError);
  m.dispose();
  throws(() => m.runSync({ x: f32(new Float32Array(12), [1, 12]) }), /disposed/);
  // An input declared as a scalar takes only a scalar; one declared without a shape takes any.
  const scalar = await loadModel(model(graph(
    [node("Mul", ["s", "t"], ["y"])],
    [{ name: "s", type: "float32", dims: [] }, { name: "t", type: "float32" }],
    [{ name: "y", type: "float32" }],
  )));
  await rejects(
    scalar.run({ s: f32(new Float32Array([2]), [1]), t: f32(new Float32Array([3]), [1]) }),
    (e) => e instanceof ShapeError && /"s" must have rank 0/.test(e.message),
  );
  const y = await scalar.run({
    s: f32(new Float32Array([2]), []),
    t: f32(new Float32Array(2), [2]),
  });
  deepStrictEqual(y.y.dims, [2]);
  scalar.dispose();
});

Deno.test("every unsupported node is reported at load, all at once, with names", async () => {
  const g = graph(
    [
      node("FancyOp", ["x"], ["a"]),
      node("MatMul", ["a", "w1"], ["b"]),
      node("OtherOp", ["b"], ["c"]),
      {
        ...node("If", ["cond"], ["d"]),
        attributes: {
          then_branch: graph([node("ThenOnlyOp", ["c"], ["t"])], [], [{
            name: "t",
            type: "float32",
          }]),
          else_branch: graph([node("MatMul", ["c", "w1"], ["e"])], [], [{
            name: "e",
            type: "float32",
          }]),
        },
      },
    ],
    [{ name: "x", type: "float32", dims: [1, 12] }, { name: "cond", type: "bool", dims: [] }],
    [{ name: "d", type: "float32" }],
    [["w1", f32(W1, [12, 20])]],
  );
  await rejects(loadModel(model(g)), (e) => {
    ok(e instanceof UnsupportedOpError);
    deepStrictEqual(e.nodes.map((n) => n.op), ["FancyOp", "OtherOp", "ThenOnlyOp"]);
    ok(/Node "FancyOp_a" \(FancyOp\)/.test(e.message));
    return true;
  });
});

Deno.test("input types an op does not take are reported at load, with the unsupported ops", async () => {
  const g = graph(
    [
      node("Add", ["a", "a"], ["s"]),
      node("MatMul", ["i", "i"], ["p"]),
      node("Shape", ["x"], ["sh"]),
      // Typing follows Shape's int64 output into an op that takes floats only.
      node("Sigmoid", ["sh"], ["bad"]),
      node("Relu", ["x"], ["fine"]),
      node("FancyOp", ["x"], ["f"]),
      // Reads what an unsupported op outputs: not typed here, so not reported.
      node("Sigmoid", ["f"], ["g"]),
      {
        ...node("If", ["fine"], ["y"]),
        attributes: {
          then_branch: graph([node("Sigmoid", ["i"], ["t"])], [], [{
            name: "t",
            type: "float32",
          }]),
          else_branch: graph([node("Neg", ["x"], ["e"])], [], [{ name: "e", type: "float32" }]),
        },
      },
      {
        ...node("If", ["c"], ["mixed"]),
        attributes: {
          then_branch: graph([node("Shape", ["x"], ["ts"])], [], [{ name: "ts", type: "int64" }]),
          else_branch: graph([node("Neg", ["x"], ["es"])], [], [{ name: "es", type: "float32" }]),
        },
      },
    ],
    [
      { name: "a", type: "int8", dims: [3] },
      { name: "i", type: "int32", dims: ["n", "n"] },
      { name: "x", type: "float32", dims: [1] },
      { name: "c", type: "bool", dims: [] },
    ],
    [{ name: "y", type: "float32" }, { name: "bad", type: "float32" }, {
      name: "mixed",
      type: "float32",
    }],
  );
  await rejects(loadModel(model(g)), (e) => {
    ok(e instanceof UnsupportedOpError);
    deepStrictEqual(
      e.nodes.map((n) => `${n.node}: ${n.reason}`),
      [
        "FancyOp_f: operator not implemented",
        'Add_s: input "A" is "int8", expected "float32", "int32" or "int64"',
        'MatMul_p: input 0 is "int32", only "float32" is supported',
        'Sigmoid_bad: input "X" is "int64", expected "float32"',
        'If_y: the condition is "float32", not "bool"',
        'Sigmoid_t: input "X" is "int32", expected "float32"',
        'If_mixed: output 0 is "int64" from then_branch, "float32" from else_branch',
      ],
    );
    return true;
  });
  // Symbolic spatial dims are typed at a size real pools and kernels accept: the problem after
  // two 2x2 pools over an image of unknown size is found at load too.
  const pooled = graph(
    [
      node("AveragePool", ["img"], ["p1"], { kernel_shape: [2, 2], strides: [2, 2] }),
      node("AveragePool", ["p1"], ["p2"], { kernel_shape: [2, 2], strides: [2, 2] }),
      node("Cast", ["p2"], ["c"], { to: 6 }),
      node("Sigmoid", ["c"], ["out"]),
    ],
    [{ name: "img", type: "float32", dims: ["n", 3, "h", "w"] }],
    [{ name: "out", type: "float32" }],
  );
  await rejects(
    loadModel(model(pooled)),
    (e) =>
      e instanceof UnsupportedOpError && e.nodes.length === 1 && e.nodes[0].node === "Sigmoid_out",
  );
  // The same graph without the problems loads (int32 and int64 Adds are supported).
  const fine = graph(
    [
      node("Add", ["i", "i"], ["s"]),
      node("Shape", ["x"], ["sh"]),
      node("Add", ["sh", "sh"], ["t"]),
    ],
    [{ name: "i", type: "int32", dims: ["n"] }, { name: "x", type: "float32", dims: [2, 3] }],
    [{ name: "s", type: "int32" }, { name: "t", type: "int64" }],
  );
  const m = await loadModel(model(fine));
  const out = await m.run({
    i: new Tensor("int32", new Int32Array([1, 2]), [2]),
    x: f32(new Float32Array(6), [2, 3]),
  });
  deepStrictEqual([...out.s.data, ...out.t.data], [2, 4, 4n, 6n]);
  m.dispose();
});

Deno.test("the load-time type check reads branch values from the enclosing scope, and folds no large constant", async () => {
  // A branch declaring an input of another type (If branches take none): the run reads the
  // enclosing float32 "x", and so does the check.
  const branch = (out: string) =>
    graph([node("Relu", ["x"], [out])], [{ name: "x", type: "int8", dims: [2] }], [{
      name: out,
      type: "float32",
    }]);
  const g = graph(
    [{
      ...node("If", ["cond"], ["y"]),
      attributes: { then_branch: branch("t"), else_branch: branch("e") },
    }],
    [{ name: "x", type: "float32", dims: [2] }, { name: "cond", type: "bool", dims: [] }],
    [{ name: "y", type: "float32" }],
  );
  const m = await loadModel(model(g));
  const y = await m.run({
    x: f32(new Float32Array([-1, 2]), [2]),
    cond: new Tensor("bool", new Uint8Array([1]), []),
  });
  deepStrictEqual([...y.y.data], [0, 2]);
  m.dispose();
  // Typing computes no value past 4096 elements: a ConstantOfShape of a declared [256, 256]
  // shape is typed, not filled (65,536 values each, which made a chain of them slow to load).
  const seen: number[] = [];
  const ops = new Map(await loadOps(["Shape", "ConstantOfShape"]));
  const cos = ops.get("ConstantOfShape")!;
  ops.set("ConstantOfShape", {
    ...cos,
    inferShapes(n, inputs) {
      const out = cos.inferShapes(n, inputs);
      seen.push(out[0].dims.reduce((a, b) => a * b, 1), "value" in out[0] && out[0].value ? 1 : 0);
      return out;
    },
  });
  const fill = graph(
    [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["c"])],
    [{ name: "x", type: "float32", dims: [256, 256] }],
    [{ name: "c", type: "float32" }],
  );
  deepStrictEqual(findTypeProblems(fill, ops), []);
  deepStrictEqual(seen, [65536, 0]);
  deepStrictEqual(foldLimit(), FOLD_LIMIT);
});

Deno.test("If runs the chosen branch with outer-scope values", async () => {
  const w = rng.floats(12 * 5);
  const g = graph(
    [
      node("MatMul", ["x", "w"], ["h"]),
      {
        ...node("If", ["cond"], ["y"]),
        attributes: {
          then_branch: graph([], [], [{ name: "h", type: "float32" }]),
          else_branch: graph([node("Gemm", ["h", "id"], ["e"])], [], [{
            name: "e",
            type: "float32",
          }]),
        },
      },
    ],
    [{ name: "x", type: "float32", dims: [2, 12] }, { name: "cond", type: "bool", dims: [] }],
    [{ name: "y", type: "float32" }],
    [["w", f32(w, [12, 5])], [
      "id",
      f32(Float32Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 2 : 0)), [5, 5]),
    ]],
  );
  const m = await loadModel(model(g));
  const x = rng.floats(24);
  const h = gemmReference(x, w, 2, 12, 5);
  for (const flag of [true, false]) {
    const out = await m.run({
      x: f32(x, [2, 12]),
      cond: new Tensor("bool", new Uint8Array([flag ? 1 : 0]), []),
    });
    assertClose(out.y.data as Float32Array, flag ? h : h.map((v) => 2 * v), {
      rtol: 1e-5,
      atol: 1e-6,
    });
  }
  await rejects(
    m.run({ x: f32(x, [2, 12]), cond: new Tensor("bool", new Uint8Array(2), [2]) }),
    ShapeError,
  );
  m.dispose();
  // Branches that do not give what the node outputs, or are missing, are refused at load.
  const twoOutputs = graph([], [], [{ name: "h", type: "float32" }, {
    name: "x",
    type: "float32",
  }]);
  for (
    const [attributes, pattern] of [
      [
        { then_branch: g.nodes[1].attributes.then_branch, else_branch: twoOutputs },
        /else_branch has 2 outputs, the node 1/,
      ],
      [{ then_branch: g.nodes[1].attributes.then_branch }, /else_branch is missing/],
    ] as const
  ) {
    const bad = { ...g, nodes: [g.nodes[0], { ...g.nodes[1], attributes }] };
    await rejects(
      loadModel(model(bad)),
      (e) => e instanceof UnsupportedOpError && pattern.test(e.message),
    );
  }
});

Deno.test("unknown options and a run on a disposed model are typed errors that say what to do", async () => {
  const bytes = oneNodeModel("Relu", [{ name: "x", dims: [2] }], [{ name: "y" }]);
  await rejects(
    loadModel(bytes, { thread: 2 } as unknown as LoadModelOptions),
    (e: unknown) => e instanceof InvalidArgumentError && /"thread".*"threads"/.test(e.message),
  );
  // Not a model source at all (a missing path variable, a number): named, not a TypeError.
  for (const bad of [undefined, null, 42, {}]) {
    await rejects(
      loadModel(bad as unknown as Uint8Array),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        /Cannot load a model from .*takes model bytes, a path/.test(e.message),
    );
  }
  // Known options with values they do not take: named with what they take.
  for (
    const [options, pattern] of [
      [{ fuse: "yes" }, /"fuse" of loadModel\(\) takes true or false, not "yes"/],
      [{ sparse: "on" }, /"sparse" of loadModel\(\) takes "auto" or "off", not "on"/],
      [{ maxMemoryBytes: NaN }, /maxMemoryBytes option must be a number of bytes above 0, got NaN/],
      [{ maxMemoryBytes: "1" }, /maxMemoryBytes .* got "1"/],
    ] as const
  ) {
    await rejects(
      loadModel(bytes, options as unknown as LoadModelOptions),
      (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
    );
  }
  throws(
    () => new Tensor("float32", new Float32Array(2), 2 as unknown as number[]),
    (e: unknown) => e instanceof ShapeError && /dims must be a list/.test(e.message),
  );
  const model = await loadModel(bytes);
  const x = new Tensor("float32", new Float32Array([1, -1]), [2]);
  throws(
    () => model.runSync({ x }, { profiel: true } as unknown as RunOptions),
    (e: unknown) => e instanceof InvalidArgumentError && /"profiel"/.test(e.message),
  );
  throws(
    () => model.runSync({ x }, { profile: "yes" } as unknown as RunOptions),
    (e: unknown) => e instanceof InvalidArgumentError && /"profile"/.test(e.message),
  );
  model.dispose();
  throws(
    () => model.runSync({ x }, { profile: true }),
    (e: unknown) => e instanceof QuartetError && /disposed: load it again/.test(e.message),
  );
});
