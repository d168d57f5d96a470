import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError, ShapeError, UnsupportedOpError } from "../../../engine/errors.ts";
import type { Node } from "../../../engine/ir/graph.ts";
import { ops } from "../../../engine/ops/conv.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, tolerance, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { activationReference } from "../../reference/activations.ts";
import { type ConvAttributes, convReference } from "../../reference/conv.ts";

const conv = ops.find((o) => o.type === "Conv")!;

/** An input: data and dims, constant (known at prepare) or fed at run time. */
interface Input {
  data: Float32Array;
  dims: number[];
  constant?: boolean;
}

function node(attributes: Node["attributes"], inputs: number): Node {
  return {
    name: "conv_1",
    op: "Conv",
    domain: "",
    inputs: Array.from({ length: inputs }, (_, i) => `in${i}`),
    outputs: ["y"],
    attributes,
  };
}

/** inferShapes → prepare → run on arena tensors → release, as the executor does. */
function runOp(kr: Kernels, op: Op, n: Node, inputs: (Input | undefined)[]) {
  const infos: (InputInfo | undefined)[] = inputs.map((t) =>
    t && {
      type: "float32",
      dims: t.dims,
      value: t.constant ? new Tensor("float32", t.data, t.dims) : undefined,
    }
  );
  const [out] = op.inferShapes(n, infos);
  const state = op.prepare?.({ kernels: kr }, n, infos);
  const tensors: (ArenaTensor | undefined)[] = inputs.map((t) => {
    if (!t) return undefined;
    const offset = kr.arena.alloc(t.data.byteLength);
    kr.arena.f32(offset, t.data.length).set(t.data);
    return { type: "float32", dims: t.dims, offset };
  });
  const size = out.dims.reduce((a, b) => a * b, 1);
  const y: ArenaTensor = { type: "float32", dims: out.dims, offset: kr.arena.alloc(size * 4) };
  op.run({ kernels: kr }, n, tensors, [y], state);
  const data = kr.arena.f32(y.offset, size).slice();
  op.release?.({ kernels: kr }, state);
  for (const t of [...tensors, y]) if (t) kr.arena.free(t.offset);
  return { data, dims: out.dims };
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  attrs?: ConvAttributes;
}

const CASES: Case[] = [
  {
    name: "3x3 pad 1",
    x: [1, 8, 11, 13],
    w: [6, 8, 3, 3],
    bias: true,
    attrs: { pads: [1, 1, 1, 1] },
  },
  { name: "3x3 batch 2 no pad", x: [2, 5, 9, 7], w: [7, 5, 3, 3] },
  { name: "1x1 pointwise", x: [2, 9, 5, 7], w: [11, 9, 1, 1], bias: true },
  { name: "1x1 stride 2", x: [1, 6, 9, 9], w: [5, 6, 1, 1], attrs: { strides: [2, 2] } },
  { name: "1x1 padded", x: [1, 3, 4, 5], w: [4, 3, 1, 1], attrs: { pads: [1, 0, 0, 2] } },
  { name: "grouped 1x1", x: [1, 8, 6, 5], w: [12, 4, 1, 1], bias: true, attrs: { group: 2 } },
  {
    name: "grouped 3x3",
    x: [1, 6, 7, 8],
    w: [9, 2, 3, 3],
    bias: true,
    attrs: { group: 3, pads: [1, 1, 1, 1] },
  },
  {
    name: "5x5 stride 2 asymmetric pads",
    x: [1, 4, 17, 15],
    w: [5, 4, 5, 5],
    bias: true,
    attrs: { strides: [2, 2], pads: [2, 1, 0, 2] },
  },
  {
    name: "3x2 strides 1x3 dilations 2x1",
    x: [1, 3, 12, 14],
    w: [4, 3, 3, 2],
    attrs: { strides: [1, 3], dilations: [2, 1], pads: [1, 0, 2, 1] },
  },
  {
    name: "SAME_UPPER stride 2",
    x: [1, 3, 10, 9],
    w: [4, 3, 4, 3],
    attrs: { auto_pad: "SAME_UPPER", strides: [2, 2] },
  },
  { name: "SAME_LOWER", x: [1, 3, 10, 9], w: [4, 3, 4, 2], attrs: { auto_pad: "SAME_LOWER" } },
  {
    name: "VALID stride 3",
    x: [1, 2, 11, 10],
    w: [3, 2, 3, 3],
    attrs: { auto_pad: "VALID", strides: [3, 3] },
  },
  {
    name: "depthwise 3x3 s1",
    x: [2, 6, 9, 11],
    w: [6, 1, 3, 3],
    bias: true,
    attrs: { group: 6, pads: [1, 1, 1, 1] },
  },
  {
    name: "depthwise 3x3 s2",
    x: [1, 5, 14, 13],
    w: [5, 1, 3, 3],
    bias: true,
    attrs: { group: 5, strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    name: "depthwise 5x5 s1",
    x: [1, 4, 12, 21],
    w: [4, 1, 5, 5],
    attrs: { group: 4, pads: [2, 2, 2, 2] },
  },
  {
    name: "depthwise 5x5 s2 multiplier 2",
    x: [1, 3, 15, 16],
    w: [6, 1, 5, 5],
    bias: true,
    attrs: { group: 3, strides: [2, 2], pads: [2, 1, 1, 2] },
  },
  {
    name: "depthwise 7x7 (generic)",
    x: [1, 4, 10, 10],
    w: [4, 1, 7, 7],
    attrs: { group: 4, pads: [3, 3, 3, 3] },
  },
  {
    name: "depthwise dilated (generic)",
    x: [1, 4, 10, 12],
    w: [4, 1, 3, 3],
    attrs: { group: 4, dilations: [2, 2], pads: [2, 2, 2, 2] },
  },
  {
    name: "single input channel, 16 outputs",
    x: [1, 1, 9, 10],
    w: [16, 1, 3, 3],
    bias: true,
    attrs: { pads: [1, 1, 1, 1] },
  },
  { name: "1-D k4 causal pad", x: [2, 3, 17], w: [5, 3, 4], bias: true, attrs: { pads: [3, 0] } },
  {
    name: "1-D depthwise",
    x: [1, 6, 19],
    w: [6, 1, 4],
    bias: true,
    attrs: { group: 6, pads: [3, 0] },
  },
  {
    name: "1-D stride 2 dilation 2",
    x: [1, 4, 23],
    w: [3, 4, 3],
    attrs: { strides: [2], dilations: [2], pads: [1, 2] },
  },
  { name: "zero batch", x: [0, 3, 5, 5], w: [4, 3, 3, 3], bias: true },
  { name: "zero output channels", x: [1, 3, 5, 5], w: [0, 3, 3, 3] },
  { name: "zero input channels", x: [1, 0, 5, 5], w: [4, 0, 3, 3], bias: true },
];

function inputsOf(rng: Random, t: Case, constant: boolean): Input[] {
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  const inputs: Input[] = [
    { data: rng.floats(size(t.x)), dims: t.x },
    { data: rng.floats(size(t.w)), dims: t.w, constant },
  ];
  if (t.bias) inputs.push({ data: rng.floats(t.w[0]), dims: [t.w[0]], constant });
  return inputs;
}

for (const variant of VARIANTS) {
  Deno.test(`Conv matches the reference on every path: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(1);
    for (const t of CASES) {
      for (const constant of [true, false]) {
        const inputs = inputsOf(rng, t, constant);
        const got = runOp(kr, conv, node({ ...t.attrs }, inputs.length), inputs);
        const want = convReference(
          inputs[0].data,
          t.x,
          inputs[1].data,
          t.w,
          inputs[2]?.data,
          t.attrs,
        );
        deepStrictEqual(got.dims, want.dims, t.name);
        const k = t.w.slice(1).reduce((a, b) => a * b, 1);
        assertClose(got.data, want.data, tolerance(k), `${t.name} (constant weights: ${constant})`);
      }
    }
  });

  Deno.test(`Conv fuses a residual and an activation on every path: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(2);
    const fusedCases = CASES.filter((t) =>
      !t.name.startsWith("zero") || t.name === "zero input channels"
    );
    for (const t of fusedCases) {
      const inputs = inputsOf(rng, t, true);
      const plain = convReference(
        inputs[0].data,
        t.x,
        inputs[1].data,
        t.w,
        inputs[2]?.data,
        t.attrs,
      );
      const residual = rng.floats(plain.data.length);
      const [act, p0, p1] = rng.next() < 0.5
        ? ["clamp", 0, 6] as const
        : ["hardswish", 0, 0] as const;
      const f = activationReference(act, p0, p1);
      const n = node(
        { ...t.attrs, fused_activation: act, fused_p0: p0, fused_p1: p1, fused_residual: 1 },
        inputs.length + 1,
      );
      const got = runOp(kr, conv, n, [...inputs, { data: residual, dims: plain.dims }]);
      const want = plain.data.map((v, i) => f(v + residual[i]));
      const k = t.w.slice(1).reduce((a, b) => a * b, 1);
      assertClose(got.data, want, tolerance(k), `${t.name} + residual + ${act}`);
      // Activation alone rides in the GEMM epilogue.
      const n2 = node({ ...t.attrs, fused_activation: "leakyrelu", fused_p0: 0.1 }, inputs.length);
      const got2 = runOp(kr, conv, n2, inputs);
      const g = activationReference("leakyrelu", 0.1);
      assertClose(got2.data, plain.data.map(g), tolerance(k), `${t.name} + leakyrelu`);
    }
  });
}

Deno.test("Conv tiles large images through a bounded im2col scratch", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(3);
  // K = 16 * 9 = 144 rows: several tiles of pixels, the last one partial.
  const t: Case = {
    name: "big",
    x: [1, 16, 40, 45],
    w: [10, 16, 3, 3],
    bias: true,
    attrs: { pads: [1, 1, 1, 1] },
  };
  const inputs = inputsOf(rng, t, true);
  const got = runOp(kr, conv, node({ ...t.attrs }, 3), inputs);
  const want = convReference(inputs[0].data, t.x, inputs[1].data, t.w, inputs[2].data, t.attrs);
  assertClose(got.data, want.data, tolerance(144), "tiled");
});

Deno.test("Conv reports unsupported attributes in check and bad shapes as typed errors", () => {
  deepStrictEqual(conv.check!(node({}, 2), 17), []);
  deepStrictEqual(conv.check!(node({ auto_pad: "SAME" }, 2), 17).length, 1);
  deepStrictEqual(conv.check!(node({ kernel_shape: [3, 3, 3] }, 2), 17).length, 1);
  deepStrictEqual(conv.check!(node({ strides: [0, 1] }, 2), 17).length, 1);
  deepStrictEqual(conv.check!(node({ fused_activation: "swish" }, 2), 17).length, 1);
  const info = (dims: number[], type: "float32" | "float16" = "float32"): InputInfo => ({
    type,
    dims,
  });
  const n = node({}, 2);
  throws(() => conv.inferShapes(n, [info([1, 4, 5, 5]), info([2, 3, 3, 3])]), ShapeError);
  throws(
    () => conv.inferShapes(node({ group: 3 }, 2), [info([1, 4, 5, 5]), info([3, 1, 3, 3])]),
    ShapeError,
  );
  throws(() => conv.inferShapes(n, [info([1, 3, 2, 2]), info([2, 3, 3, 3])]), ShapeError);
  throws(
    () => conv.inferShapes(n, [info([1, 3, 5, 5], "float16"), info([2, 3, 3, 3])]),
    DTypeError,
  );
  throws(
    () =>
      conv.inferShapes(node({ kernel_shape: [2, 2] }, 2), [info([1, 3, 5, 5]), info([2, 3, 3, 3])]),
    ShapeError,
  );
  throws(
    () => conv.inferShapes(node({}, 3), [info([1, 3, 5, 5]), info([2, 3, 3, 3]), info([3])]),
    ShapeError,
  );
  throws(
    () => conv.inferShapes(n, [info([1, 3, 5, 5, 5]), info([2, 3, 3, 3, 3])]),
    UnsupportedOpError,
  );
  throws(
    () =>
      conv.inferShapes(node({ fused_residual: 1 }, 3), [
        info([1, 3, 5, 5]),
        info([2, 3, 3, 3]),
        info([1, 2, 5, 5]),
      ]),
    ShapeError,
  );
  throws(
    () => conv.inferShapes(node({ strides: [1] }, 2), [info([1, 3, 5, 5]), info([2, 3, 3, 3])]),
    ShapeError,
  );
  try {
    conv.inferShapes(n, [info([1, 3, 2, 2]), info([2, 3, 3, 3])]);
  } catch (e) {
    deepStrictEqual((e as Error).message.startsWith('Node "conv_1" (Conv): '), true);
  }
});
