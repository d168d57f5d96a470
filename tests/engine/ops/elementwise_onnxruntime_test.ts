/**
 * A representative subset of the elementwise, softmax, reduction and normalisation ops
 * against onnxruntime-node (native, independent) on the same inputs: each case is a one-node
 * ONNX model built with tests/_onnx_builder.ts, run by both engines (simd kernels here; the
 * other builds are covered against the float64 references).
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor } from "../../_kernels.ts";
import { type BuildAttribute, buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { Random } from "../../_random.ts";
import { node, runNode } from "./_elementwise_harness.ts";

interface Case {
  op: string;
  opset: number;
  /** Inputs: a tensor, or "" for an omitted optional input. */
  inputs: (Tensor | "")[];
  /** Inputs given as initializers (constants). */
  constants?: number[];
  attrs?: Record<string, BuildAttribute>;
  outputs?: number;
  tol?: { rtol: number; atol: number };
}

const rng = new Random(131);
const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const f32 = (dims: number[], lo = -3, hi = 3) =>
  new Tensor("float32", rng.floats(size(dims), lo, hi), dims);
const i64 = (values: number[], dims = [values.length]) =>
  new Tensor("int64", BigInt64Array.from(values, BigInt), dims);
const halves = new Tensor(
  "float32",
  Float32Array.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.7, -3.2]),
  [8],
);

const X = [2, 3, 5, 7];

const CASES: Case[] = [
  ...[
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softsign",
    "Exp",
    "Erf",
    "Neg",
    "Abs",
    "Floor",
    "Ceil",
    "Sin",
    "Cos",
    "HardSwish",
    "Sign",
  ]
    .map((op): Case => ({ op, opset: 17, inputs: [f32(X)] })),
  { op: "Log", opset: 17, inputs: [f32(X, 0.01, 10)] },
  { op: "Sqrt", opset: 17, inputs: [f32(X, 0, 10)] },
  { op: "Reciprocal", opset: 17, inputs: [f32(X, 0.5, 4)] },
  { op: "Round", opset: 17, inputs: [halves] },
  { op: "LeakyRelu", opset: 17, inputs: [f32(X)], attrs: { alpha: { float: 0.2 } } },
  {
    op: "HardSigmoid",
    opset: 17,
    inputs: [f32(X)],
    attrs: { alpha: { float: 0.3 }, beta: { float: 0.4 } },
  },
  { op: "Elu", opset: 17, inputs: [f32(X)], attrs: { alpha: { float: 0.7 } } },
  { op: "Selu", opset: 17, inputs: [f32(X)] },
  { op: "Mish", opset: 18, inputs: [f32(X)] },
  { op: "Gelu", opset: 20, inputs: [f32(X)] },
  { op: "Gelu", opset: 20, inputs: [f32(X)], attrs: { approximate: "tanh" } },
  {
    op: "Clip",
    opset: 13,
    inputs: [
      f32(X),
      new Tensor("float32", Float32Array.of(-1), []),
      new Tensor("float32", Float32Array.of(2), []),
    ],
    constants: [1, 2],
  },
  {
    op: "Clip",
    opset: 13,
    inputs: [f32(X), "", new Tensor("float32", Float32Array.of(0.5), [])],
    constants: [2],
  },
  // Binary ops in several broadcast forms.
  { op: "Add", opset: 17, inputs: [f32([1, 8, 5, 5]), f32([8, 1, 1])] },
  { op: "Sub", opset: 17, inputs: [f32([4, 17]), f32([17])] },
  { op: "Mul", opset: 17, inputs: [f32([2, 1, 3]), f32([4, 1])] },
  { op: "Div", opset: 17, inputs: [f32(X), f32([7], 0.5, 2)] },
  {
    op: "Pow",
    opset: 17,
    inputs: [f32(X, 0.1, 3), f32([5, 1], -2, 2)],
    tol: { rtol: 3e-6, atol: 1e-7 },
  },
  {
    op: "Pow",
    opset: 17,
    inputs: [f32(X), new Tensor("float32", Float32Array.of(2), [])],
    constants: [1],
  },
  { op: "Max", opset: 17, inputs: [f32([3, 1]), f32([1, 4]), f32([4])] },
  { op: "Min", opset: 17, inputs: [f32(X), f32([5, 1])] },
  { op: "Sum", opset: 17, inputs: [f32([3, 4]), f32([4]), f32([3, 1])] },
  { op: "Mean", opset: 17, inputs: [f32([3, 4]), f32([4]), f32([3, 1])] },
  {
    op: "Mod",
    opset: 17,
    inputs: [f32([30], -9, 9), f32([30], 0.5, 3)],
    attrs: { fmod: 1 },
    tol: { rtol: 1e-5, atol: 1e-6 },
  },
  { op: "PRelu", opset: 17, inputs: [f32(X), f32([3, 1, 1])], constants: [1] },
  { op: "Add", opset: 17, inputs: [i64([1, 64, 56, 56]), i64([3], [])] },
  { op: "Div", opset: 17, inputs: [i64([7, -7, 9, -9]), i64([2, 2, -4, -4])] },
  { op: "Mod", opset: 17, inputs: [i64([7, -7, 9, -9]), i64([2, 2, -4, -4])] },
  // Comparisons and Where.
  { op: "Less", opset: 17, inputs: [f32([4, 6]), f32([6])] },
  { op: "GreaterOrEqual", opset: 17, inputs: [f32([4, 6]), f32([4, 1])] },
  { op: "Equal", opset: 17, inputs: [i64([1, 2, 3, 4]), i64([1, 0, 3, 0])] },
  {
    op: "Where",
    opset: 17,
    inputs: [
      new Tensor("bool", Uint8Array.from({ length: 12 }, (_, i) => i % 3 ? 1 : 0), [3, 4]),
      f32([4]),
      f32([3, 1]),
    ],
  },
  // Softmax in both axis semantics.
  { op: "Softmax", opset: 11, inputs: [f32(X, -10, 10)], attrs: { axis: 1 } },
  { op: "Softmax", opset: 13, inputs: [f32(X, -10, 10)], attrs: { axis: 1 } },
  { op: "LogSoftmax", opset: 13, inputs: [f32(X, -10, 10)], attrs: { axis: -1 } },
  { op: "LogSoftmax", opset: 11, inputs: [f32([4, 9], -10, 10)] },
  // Reductions: axes as input (opset 18) and as attribute (opset 11/13).
  { op: "ReduceMean", opset: 18, inputs: [f32(X), i64([2, 3])], constants: [1] },
  {
    op: "ReduceSum",
    opset: 13,
    inputs: [f32(X), i64([1])],
    constants: [1],
    attrs: { keepdims: 0 },
  },
  { op: "ReduceMax", opset: 18, inputs: [f32(X), i64([0, 2])], constants: [1] },
  { op: "ReduceL2", opset: 11, inputs: [f32(X)], attrs: { axes: [1, 3] } },
  { op: "ReduceLogSumExp", opset: 18, inputs: [f32(X), i64([-1])], constants: [1] },
  { op: "ReduceProd", opset: 18, inputs: [f32(X, 0.5, 1.5), i64([1])], constants: [1] },
  { op: "ArgMax", opset: 13, inputs: [f32(X)], attrs: { axis: 1, keepdims: 0 } },
  {
    op: "ArgMin",
    opset: 13,
    inputs: [new Tensor("float32", Float32Array.from({ length: 24 }, (_, i) => i % 4), [2, 12])],
    attrs: { axis: 1, select_last_index: 1 },
  },
  // Normalisations.
  {
    op: "BatchNormalization",
    opset: 15,
    inputs: [f32(X), f32([3]), f32([3]), f32([3]), f32([3], 0.1, 2)],
    constants: [1, 2, 3, 4],
    attrs: { epsilon: { float: 1e-3 } },
  },
  { op: "LayerNormalization", opset: 17, inputs: [f32(X), f32([7]), f32([7])], constants: [1, 2] },
  {
    op: "LayerNormalization",
    opset: 17,
    inputs: [f32(X), f32([3, 5, 7])],
    constants: [1],
    attrs: { axis: 1 },
  },
  {
    op: "GroupNormalization",
    opset: 21,
    inputs: [f32([2, 6, 5, 7]), f32([6]), f32([6])],
    constants: [1, 2],
    attrs: { num_groups: 3 },
  },
  { op: "RMSNormalization", opset: 23, inputs: [f32(X), f32([7])], constants: [1] },
  {
    op: "InstanceNormalization",
    opset: 17,
    inputs: [f32(X), f32([3]), f32([3])],
    constants: [1, 2],
  },
];

/** The IR form of builder attributes ({ float: x } is a plain number in the IR). */
function irAttributes(
  attrs: Record<string, BuildAttribute> = {},
): Record<string, number | string | number[]> {
  return Object.fromEntries(
    Object.entries(attrs).map((
      [k, v],
    ) => [k, typeof v === "object" && "float" in v ? v.float : v as number]),
  );
}

Deno.test("elementwise, softmax, reduction and normalisation ops agree with onnxruntime-node", async () => {
  const kr = await kernelsFor("simd");
  for (const c of CASES) {
    const names = c.inputs.map((t, i) => (t === "" ? "" : `in${i}`));
    const given = c.inputs.map((t) => (t === "" ? undefined : t));
    const { outputs: [mine] } = runNode(
      kr,
      node(c.op, names.map((n) => n !== ""), irAttributes(c.attrs)),
      given,
      {
        opset: c.opset,
        known: c.constants ?? [],
      },
    );
    const constants = Object.fromEntries(
      (c.constants ?? []).map((i) => [`in${i}`, c.inputs[i] as Tensor]),
    );
    const model = buildModel({
      nodes: [{ op: c.op, inputs: names, outputs: ["out"], attributes: c.attrs ?? {} }],
      inputs: c.inputs.flatMap((t, i) =>
        t === "" || `in${i}` in constants
          ? []
          : [{ name: `in${i}`, type: t.type, dims: [...t.dims] }]
      ),
      outputs: [{ name: "out", type: mine.type, dims: [...mine.dims] }],
      initializers: constants,
    }, c.opset);
    const feeds = Object.fromEntries(
      c.inputs.flatMap((t, i) => (t === "" || `in${i}` in constants ? [] : [[`in${i}`, t]])),
    );
    const theirs = (await runOrt(model, feeds)).out;
    const what = `${c.op} (opset ${c.opset}) ${JSON.stringify(c.attrs ?? {})}`;
    assertEquals([...mine.dims], theirs.dims, `${what}: dims`);
    if (mine.type === "float32") {
      assertClose(
        mine.data as Float32Array,
        Array.from(theirs.data, Number),
        c.tol ?? { rtol: 2e-6, atol: 2e-6 },
        what,
      );
    } else {
      assertEquals(Array.from(mine.data, Number), Array.from(theirs.data, Number), what);
    }
  }
});
