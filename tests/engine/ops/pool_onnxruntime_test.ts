/**
 * MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool against onnxruntime-node (native,
 * independent) on the same inputs, including the ceil_mode and count_include_pad corners.
 */
import { deepStrictEqual } from "node:assert/strict";
import type { Node } from "../../../engine/ir/graph.ts";
import { ops as avgOps } from "../../../engine/ops/average_pool.ts";
import { ops as globalOps } from "../../../engine/ops/global_pool.ts";
import { ops as maxOps } from "../../../engine/ops/max_pool.ts";
import type { ArenaTensor, Op } from "../../../engine/ops/op.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { type BuildAttribute, oneNodeModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor } from "../../_kernels.ts";
import { Random } from "../../_random.ts";

const OPS: Record<string, Op> = Object.fromEntries(
  [...maxOps, ...avgOps, ...globalOps].map((o) => [o.type, o]),
);

const CASES: { op: string; x: number[]; attrs?: Record<string, number | number[] | string> }[] = [
  {
    op: "MaxPool",
    x: [1, 4, 17, 19],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    op: "MaxPool",
    x: [2, 3, 9, 11],
    attrs: { kernel_shape: [3, 2], strides: [2, 3], ceil_mode: 1 },
  },
  {
    op: "MaxPool",
    x: [1, 2, 7, 10],
    attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 },
  },
  {
    op: "MaxPool",
    x: [1, 2, 12, 13],
    attrs: { kernel_shape: [2, 3], dilations: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    op: "MaxPool",
    x: [1, 2, 9, 10],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  { op: "MaxPool", x: [2, 3, 21], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] } },
  { op: "AveragePool", x: [1, 3, 8, 10], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  {
    op: "AveragePool",
    x: [1, 3, 8, 9],
    attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 },
  },
  { op: "AveragePool", x: [1, 3, 8, 9], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
  {
    op: "AveragePool",
    x: [1, 2, 7, 10],
    attrs: {
      kernel_shape: [3, 3],
      strides: [2, 3],
      pads: [1, 1, 1, 1],
      ceil_mode: 1,
      count_include_pad: 1,
    },
  },
  {
    op: "AveragePool",
    x: [1, 2, 9, 11],
    attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
  },
  {
    op: "AveragePool",
    x: [1, 2, 9, 10],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_LOWER", count_include_pad: 1 },
  },
  {
    op: "AveragePool",
    x: [1, 2, 12, 13],
    attrs: { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 },
  },
  { op: "GlobalAveragePool", x: [2, 5, 7, 9] },
  { op: "GlobalMaxPool", x: [2, 5, 7, 9] },
  { op: "GlobalAveragePool", x: [1, 3, 17] },
];

Deno.test("pooling ops agree with onnxruntime-node", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(77);
  for (const c of CASES) {
    const x = new Tensor("float32", rng.floats(c.x.reduce((a, b) => a * b, 1), -3, 3), c.x);
    const model = oneNodeModel(
      c.op,
      [{ name: "X", dims: c.x }],
      [{ name: "Y" }],
      (c.attrs ?? {}) as Record<string, BuildAttribute>,
      { opset: 19 },
    );
    const want = (await runOrt(model, { X: x })).Y;
    const op = OPS[c.op];
    const node: Node = {
      name: "p",
      op: c.op,
      domain: "",
      inputs: ["X"],
      outputs: ["Y"],
      attributes: { ...c.attrs },
    };
    const [out] = op.inferShapes(node, [{ type: "float32", dims: c.x }]);
    const px: ArenaTensor = {
      type: "float32",
      dims: c.x,
      offset: kr.arena.alloc(x.data.byteLength),
    };
    kr.arena.f32(px.offset, x.size).set(x.data as Float32Array);
    const size = out.dims.reduce((a, b) => a * b, 1);
    const py: ArenaTensor = { type: "float32", dims: out.dims, offset: kr.arena.alloc(size * 4) };
    op.run({ kernels: kr }, node, [px], [py], undefined);
    const what = `${c.op} ${JSON.stringify(c)}`;
    deepStrictEqual(out.dims, want.dims, what);
    assertClose(kr.arena.f32(py.offset, size), want.data as Float32Array, {
      rtol: 1e-5,
      atol: 1e-5,
    }, what);
    kr.arena.free(px.offset);
    kr.arena.free(py.offset);
  }
});
