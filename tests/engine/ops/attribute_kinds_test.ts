/**
 * Attributes whose value is not of the kind ONNX defines are reported at load with their node,
 * together with any unsupported op: never NaN outputs (an INTS Gemm alpha, a STRING LeakyRelu
 * alpha read by the activation fuser) or a silently used default (STRING strides).
 */
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { loadModel, Tensor, UnsupportedOpError } from "../../../mod.ts";
import { attributeProblems } from "../../../engine/ops/attribute_kinds.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { node as irNode } from "../../_ir.ts";
import type { AttributeValue } from "../../../engine/ir/graph.ts";

function f32(dims: number[]): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return new Tensor("float32", Float32Array.from({ length: n }, (_, i) => Math.sin(i)), dims);
}

Deno.test("attributes of the wrong kind are listed at load, with unsupported ops, by node", async () => {
  const bytes = buildModel({
    nodes: [
      {
        op: "Conv",
        name: "conv",
        inputs: ["x", "w"],
        outputs: ["c"],
        attributes: { strides: "22" },
      },
      { op: "LeakyRelu", name: "leaky", inputs: ["c"], outputs: ["l"], attributes: { alpha: "x" } },
      {
        op: "Conv",
        name: "conv2",
        inputs: ["l", "w"],
        outputs: ["c2"],
        attributes: { kernel_shape: { float: 3.5 } },
      },
      { op: "Flatten", name: "flat", inputs: ["c2"], outputs: ["f"] },
      {
        op: "Gemm",
        name: "gemm",
        inputs: ["f", "g"],
        outputs: ["y"],
        attributes: { alpha: [1, 2] },
      },
      { op: "NoSuchOp", name: "mystery", inputs: ["y"], outputs: ["z"] },
    ],
    inputs: [{ name: "x", dims: [1, 4, 8, 8] }],
    outputs: [{ name: "z" }],
    initializers: { w: f32([4, 4, 1, 1]), g: f32([256, 3]) },
  });
  await rejects(loadModel(bytes), (e) => {
    ok(e instanceof UnsupportedOpError, String(e));
    const found = e.nodes.map((n) => `${n.node}: ${n.reason}`);
    for (
      const want of [
        /^conv: attribute "strides" must be INTS, not "22"$/,
        /^leaky: attribute "alpha" must be FLOAT, not "x"$/,
        /^conv2: attribute "kernel_shape" must be INTS, not 3\.5$/,
        /^gemm: attribute "alpha" must be FLOAT, not \[1,2\]$/,
        /^mystery: /,
      ]
    ) ok(found.some((f) => want.test(f)), `${want} in ${found.join(" | ")}`);
    return true;
  });
});

Deno.test("attribute kinds: ONNX's kinds pass, per-op kinds override the name's", () => {
  const node = (op: string, attributes: Record<string, AttributeValue>) =>
    irNode(op, [], [], attributes);
  deepStrictEqual(
    attributeProblems(node("Conv", { strides: [2, 2], group: 1, auto_pad: "SAME_UPPER" })),
    [],
  );
  deepStrictEqual(attributeProblems(node("Resize", { scales: [1, 1.5], mode: "linear" })), []);
  deepStrictEqual(attributeProblems(node("LSTM", { activations: ["Sigmoid", "Tanh"] })), []);
  // "value" is a tensor on Constant and a float on Pad (before opset 11).
  deepStrictEqual(attributeProblems(node("Constant", { value: f32([2]) })), []);
  deepStrictEqual(attributeProblems(node("Pad", { value: 1.5 })), []);
  deepStrictEqual(attributeProblems(node("Pad", { value: f32([1]) })).length, 1);
  deepStrictEqual(attributeProblems(node("Constant", { value: 1.5 })).length, 1);
  // An int must be an integer; a float may be one.
  deepStrictEqual(attributeProblems(node("Concat", { axis: 1.5 })).length, 1);
  deepStrictEqual(attributeProblems(node("LeakyRelu", { alpha: 1 })), []);
  // Attributes the engine does not know are not its business.
  deepStrictEqual(attributeProblems(node("Conv", { fused_activation: "relu", foo: [1] })), []);
});
