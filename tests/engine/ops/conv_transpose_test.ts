import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError, ShapeError, UnsupportedOpError } from "../../../engine/errors.ts";
import type { Node } from "../../../engine/ir/graph.ts";
import { ops } from "../../../engine/ops/conv_transpose.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, tolerance, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { activationReference } from "../../reference/activations.ts";
import { type ConvTransposeAttributes, convTransposeReference } from "../../reference/conv.ts";

const convTranspose = ops.find((o) => o.type === "ConvTranspose")!;

interface Input {
  data: Float32Array;
  dims: number[];
  constant?: boolean;
}

function node(attributes: Node["attributes"], inputs: number): Node {
  return {
    name: "up_1",
    op: "ConvTranspose",
    domain: "",
    inputs: Array.from({ length: inputs }, (_, i) => `in${i}`),
    outputs: ["y"],
    attributes,
  };
}

function runOp(kr: Kernels, op: Op, n: Node, inputs: Input[]) {
  const infos: InputInfo[] = inputs.map((t) => ({
    type: "float32",
    dims: t.dims,
    value: t.constant ? new Tensor("float32", t.data, t.dims) : undefined,
  }));
  const [out] = op.inferShapes(n, infos);
  const state = op.prepare?.({ kernels: kr }, n, infos);
  const tensors: ArenaTensor[] = inputs.map((t) => {
    const offset = kr.arena.alloc(t.data.byteLength);
    kr.arena.f32(offset, t.data.length).set(t.data);
    return { type: "float32", dims: t.dims, offset };
  });
  const size = out.dims.reduce((a, b) => a * b, 1);
  const y: ArenaTensor = { type: "float32", dims: out.dims, offset: kr.arena.alloc(size * 4) };
  op.run({ kernels: kr }, n, tensors, [y], state);
  const data = kr.arena.f32(y.offset, size).slice();
  op.release?.({ kernels: kr }, state);
  for (const t of [...tensors, y]) kr.arena.free(t.offset);
  return { data, dims: out.dims };
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  attrs?: ConvTransposeAttributes;
}

const CASES: Case[] = [
  {
    name: "2x upsampling k2 s2",
    x: [1, 6, 7, 9],
    w: [6, 4, 2, 2],
    bias: true,
    attrs: { strides: [2, 2] },
  },
  {
    name: "k4 s2 p1",
    x: [2, 5, 6, 5],
    w: [5, 3, 4, 4],
    bias: true,
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  { name: "k3 s1 p1", x: [1, 4, 8, 7], w: [4, 5, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  {
    name: "k3 s2 output_padding",
    x: [1, 3, 5, 6],
    w: [3, 2, 3, 3],
    bias: true,
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] },
  },
  {
    name: "grouped",
    x: [1, 6, 5, 5],
    w: [6, 2, 3, 3],
    bias: true,
    attrs: { group: 3, strides: [2, 1] },
  },
  {
    name: "depthwise upsample",
    x: [1, 4, 5, 6],
    w: [4, 1, 2, 2],
    attrs: { group: 4, strides: [2, 2] },
  },
  {
    name: "dilations",
    x: [1, 3, 5, 4],
    w: [3, 2, 3, 2],
    attrs: { dilations: [2, 3], strides: [1, 2], pads: [1, 0, 0, 2] },
  },
  {
    name: "output_shape spatial",
    x: [1, 3, 4, 5],
    w: [3, 2, 3, 3],
    attrs: { strides: [2, 2], output_shape: [8, 10] },
  },
  {
    name: "output_shape full",
    x: [1, 3, 4, 5],
    w: [3, 2, 3, 3],
    attrs: { strides: [2, 2], output_shape: [1, 2, 9, 9] },
  },
  {
    name: "SAME_UPPER",
    x: [1, 2, 4, 5],
    w: [2, 3, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  {
    name: "SAME_LOWER",
    x: [1, 2, 4, 5],
    w: [2, 3, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_LOWER" },
  },
  { name: "1-D", x: [2, 3, 11], w: [3, 4, 4], bias: true, attrs: { strides: [2], pads: [1, 1] } },
  { name: "zero batch", x: [0, 3, 4, 4], w: [3, 2, 2, 2], attrs: { strides: [2, 2] } },
];

for (const variant of VARIANTS) {
  Deno.test(`ConvTranspose matches the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(5);
    for (const t of CASES) {
      for (const constant of [true, false]) {
        const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
        const inputs: Input[] = [
          { data: rng.floats(size(t.x)), dims: t.x },
          { data: rng.floats(size(t.w)), dims: t.w, constant },
        ];
        const m = t.w[1] * (t.attrs?.group ?? 1);
        if (t.bias) inputs.push({ data: rng.floats(m), dims: [m], constant });
        const got = runOp(kr, convTranspose, node({ ...t.attrs }, inputs.length), inputs);
        const want = convTransposeReference(
          inputs[0].data,
          t.x,
          inputs[1].data,
          t.w,
          inputs[2]?.data,
          t.attrs,
        );
        deepStrictEqual(got.dims, want.dims, t.name);
        assertClose(
          got.data,
          want.data,
          tolerance(t.x[1] * 4),
          `${t.name} (constant: ${constant})`,
        );
      }
    }
  });

  Deno.test(`ConvTranspose applies a fused activation: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(6);
    const t = CASES[1];
    const inputs: Input[] = [
      { data: rng.floats(2 * 5 * 6 * 5), dims: t.x },
      { data: rng.floats(5 * 3 * 16), dims: t.w, constant: true },
      { data: rng.floats(3), dims: [3], constant: true },
    ];
    const n = node({ ...t.attrs, fused_activation: "clamp", fused_p0: 0, fused_p1: 0.5 }, 3);
    const got = runOp(kr, convTranspose, n, inputs);
    const f = activationReference("clamp", 0, 0.5);
    const want = convTransposeReference(
      inputs[0].data,
      t.x,
      inputs[1].data,
      t.w,
      inputs[2].data,
      t.attrs,
    );
    assertClose(got.data, want.data.map(f), tolerance(20), "clamp");
  });
}

Deno.test("ConvTranspose reports bad attributes and shapes as typed errors", () => {
  deepStrictEqual(convTranspose.check!(node({}, 2), 17), []);
  deepStrictEqual(convTranspose.check!(node({ auto_pad: "FULL" }, 2), 17).length, 1);
  deepStrictEqual(convTranspose.check!(node({ fused_residual: 1 }, 3), 17).length, 1);
  const info = (dims: number[], type: "float32" | "int64" = "float32"): InputInfo => ({
    type,
    dims,
  });
  const n = node({}, 2);
  throws(() => convTranspose.inferShapes(n, [info([1, 4, 5, 5]), info([3, 2, 3, 3])]), ShapeError);
  throws(
    () =>
      convTranspose.inferShapes(node({ group: 3 }, 2), [info([1, 4, 5, 5]), info([4, 2, 3, 3])]),
    ShapeError,
  );
  throws(
    () => convTranspose.inferShapes(n, [info([1, 4, 5, 5], "int64"), info([4, 2, 3, 3])]),
    DTypeError,
  );
  // output_padding only picks among the sizes a stride (or dilation) leaves open.
  for (const output_padding of [[-1, 0], [0, 2]]) {
    throws(
      () =>
        convTranspose.inferShapes(node({ strides: [2, 2], output_padding }, 2), [
          info([1, 4, 5, 5]),
          info([4, 2, 3, 3]),
        ]),
      /output_padding/,
    );
  }
  deepStrictEqual(
    convTranspose.inferShapes(node({ strides: [2, 2], output_padding: [1, 0] }, 2), [
      info([1, 4, 5, 5]),
      info([4, 2, 3, 3]),
    ])[0].dims,
    [1, 2, 12, 11],
  );
  throws(
    () =>
      convTranspose.inferShapes(node({ pads: [3, 3, 3, 3] }, 2), [
        info([1, 4, 1, 1]),
        info([4, 2, 3, 3]),
      ]),
    ShapeError,
  );
  throws(
    () =>
      convTranspose.inferShapes(node({}, 3), [info([1, 4, 5, 5]), info([4, 2, 3, 3]), info([4])]),
    ShapeError,
  );
  throws(
    () => convTranspose.inferShapes(n, [info([1, 4, 5, 5, 5]), info([4, 2, 3, 3, 3])]),
    UnsupportedOpError,
  );
});
