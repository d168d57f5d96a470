/**
 * Conv and ConvTranspose against onnxruntime-node (native, independent) on the same inputs:
 * a representative subset of shapes and attributes, each path of the op at least once.
 */
import { deepStrictEqual } from "node:assert/strict";
import type { Node } from "../../../engine/ir/graph.ts";
import { ops as convOps } from "../../../engine/ops/conv.ts";
import { ops as convTransposeOps } from "../../../engine/ops/conv_transpose.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { type BuildAttribute, oneNodeModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor } from "../../_kernels.ts";
import { Random } from "../../_random.ts";

interface Case {
  op: "Conv" | "ConvTranspose";
  x: number[];
  w: number[];
  bias?: boolean;
  attrs?: Record<string, number | number[] | string>;
}

const CASES: Case[] = [
  { op: "Conv", x: [1, 8, 13, 11], w: [6, 8, 3, 3], bias: true, attrs: { pads: [1, 1, 1, 1] } },
  { op: "Conv", x: [2, 16, 7, 9], w: [12, 16, 1, 1], bias: true },
  {
    op: "Conv",
    x: [1, 4, 17, 15],
    w: [5, 4, 5, 5],
    attrs: { strides: [2, 2], pads: [2, 1, 0, 2] },
  },
  {
    op: "Conv",
    x: [1, 3, 12, 14],
    w: [4, 3, 3, 2],
    attrs: { dilations: [2, 1], pads: [1, 0, 2, 1] },
  },
  {
    op: "Conv",
    x: [1, 6, 9, 8],
    w: [9, 2, 3, 3],
    bias: true,
    attrs: { group: 3, auto_pad: "SAME_UPPER" },
  },
  {
    op: "Conv",
    x: [1, 3, 10, 9],
    w: [4, 3, 4, 2],
    attrs: { auto_pad: "SAME_LOWER", strides: [2, 2] },
  },
  { op: "Conv", x: [1, 2, 11, 10], w: [3, 2, 3, 3], attrs: { auto_pad: "VALID", strides: [3, 2] } },
  {
    op: "Conv",
    x: [2, 12, 15, 17],
    w: [12, 1, 3, 3],
    bias: true,
    attrs: { group: 12, pads: [1, 1, 1, 1] },
  },
  {
    op: "Conv",
    x: [1, 8, 16, 19],
    w: [8, 1, 3, 3],
    attrs: { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    op: "Conv",
    x: [1, 6, 14, 13],
    w: [12, 1, 5, 5],
    bias: true,
    attrs: { group: 6, pads: [2, 2, 2, 2] },
  },
  {
    op: "Conv",
    x: [1, 5, 15, 16],
    w: [5, 1, 5, 5],
    attrs: { group: 5, strides: [2, 2], pads: [2, 2, 1, 1] },
  },
  {
    op: "Conv",
    x: [1, 4, 12, 12],
    w: [4, 1, 3, 3],
    attrs: { group: 4, dilations: [2, 2], pads: [2, 2, 2, 2] },
  },
  { op: "Conv", x: [2, 3, 40], w: [5, 3, 4], bias: true, attrs: { pads: [3, 0] } },
  { op: "Conv", x: [1, 6, 33], w: [6, 1, 4], bias: true, attrs: { group: 6, pads: [3, 0] } },
  { op: "ConvTranspose", x: [1, 6, 7, 9], w: [6, 4, 2, 2], bias: true, attrs: { strides: [2, 2] } },
  {
    op: "ConvTranspose",
    x: [2, 5, 6, 5],
    w: [5, 3, 4, 4],
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    op: "ConvTranspose",
    x: [1, 3, 5, 6],
    w: [3, 2, 3, 3],
    bias: true,
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
  },
  {
    op: "ConvTranspose",
    x: [1, 6, 5, 5],
    w: [6, 2, 3, 3],
    attrs: { group: 3, strides: [2, 1], dilations: [1, 2] },
  },
  {
    op: "ConvTranspose",
    x: [1, 3, 4, 5],
    w: [3, 2, 3, 3],
    attrs: { strides: [2, 2], output_shape: [9, 8] },
  },
  {
    op: "ConvTranspose",
    x: [1, 2, 4, 5],
    w: [2, 3, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  {
    op: "ConvTranspose",
    x: [1, 2, 4, 5],
    w: [2, 3, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_LOWER" },
  },
  {
    op: "ConvTranspose",
    x: [1, 3, 11],
    w: [3, 4, 4],
    bias: true,
    attrs: { strides: [2], pads: [1, 1] },
  },
];

function runOp(
  kr: Kernels,
  op: Op,
  node: Node,
  inputs: Tensor[],
): { data: Float32Array; dims: number[] } {
  const infos: InputInfo[] = inputs.map((t, i) => ({
    type: "float32",
    dims: [...t.dims],
    value: i > 0 ? t : undefined,
  }));
  const [out] = op.inferShapes(node, infos);
  const state = op.prepare?.({ kernels: kr }, node, infos);
  const tensors: ArenaTensor[] = inputs.map((t) => {
    const offset = kr.arena.alloc(t.data.byteLength);
    kr.arena.f32(offset, t.size).set(t.data as Float32Array);
    return { type: "float32", dims: [...t.dims], offset };
  });
  const size = out.dims.reduce((a, b) => a * b, 1);
  const y: ArenaTensor = { type: "float32", dims: out.dims, offset: kr.arena.alloc(size * 4) };
  op.run({ kernels: kr }, node, tensors, [y], state);
  const data = kr.arena.f32(y.offset, size).slice();
  op.release?.({ kernels: kr }, state);
  for (const t of [...tensors, y]) kr.arena.free(t.offset);
  return { data, dims: out.dims };
}

Deno.test("Conv and ConvTranspose agree with onnxruntime-node", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(2024);
  for (const c of CASES) {
    const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
    const m = c.op === "Conv" ? c.w[0] : c.w[1] * ((c.attrs?.group as number | undefined) ?? 1);
    const x = new Tensor("float32", rng.floats(size(c.x)), c.x);
    const w = new Tensor("float32", rng.floats(size(c.w)), c.w);
    const b = new Tensor("float32", rng.floats(m), [m]);
    const names = c.bias ? ["X", "W", "B"] : ["X", "W"];
    const initializers: Record<string, Tensor> = { W: w };
    if (c.bias) initializers.B = b;
    const model = oneNodeModel(
      c.op,
      names.map((name) => ({ name, dims: name === "X" ? c.x : undefined })),
      [{ name: "Y" }],
      (c.attrs ?? {}) as Record<string, BuildAttribute>,
      { initializers },
    );
    const want = (await runOrt(model, { X: x })).Y;
    const op = (c.op === "Conv" ? convOps : convTransposeOps)[0];
    const node: Node = {
      name: "n",
      op: c.op,
      domain: "",
      inputs: names,
      outputs: ["Y"],
      attributes: { ...c.attrs },
    };
    const got = runOp(kr, op, node, c.bias ? [x, w, b] : [x, w]);
    const what = `${c.op} ${JSON.stringify(c)}`;
    deepStrictEqual(got.dims, want.dims, what);
    assertClose(got.data, want.data as Float32Array, { rtol: 1e-4, atol: 1e-4 }, what);
  }
});
