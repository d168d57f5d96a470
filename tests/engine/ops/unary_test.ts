/**
 * Unary ops end to end on arena tensors: every op type with its ONNX attribute defaults,
 * Clip in both opset forms (attributes, constant or runtime inputs), Gelu's approximations,
 * the integer forms, zero-size tensors and typed errors.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { UNARY_REFERENCE } from "../../reference/elementwise.ts";
import { f32, i32, i64, node, runNode } from "./_elementwise_harness.ts";

const SELU = [1.67326319217681884765625, 1.05070102214813232421875];

/** Op type, attributes, and the reference (token with its parameters). */
const CASES: [string, Record<string, number | string>, string, number, number][] = [
  ["Relu", {}, "clamp", 0, Infinity],
  ["LeakyRelu", {}, "leakyrelu", 0.01, 0],
  ["LeakyRelu", { alpha: 0.2 }, "leakyrelu", 0.2, 0],
  ["Sigmoid", {}, "sigmoid", 0, 0],
  ["HardSigmoid", {}, "hardsigmoid", 0.2, 0.5],
  ["HardSigmoid", { alpha: 0.3, beta: 0.4 }, "hardsigmoid", 0.3, 0.4],
  ["HardSwish", {}, "hardswish", 0, 0],
  ["Tanh", {}, "tanh", 0, 0],
  ["Silu", {}, "silu", 0, 0],
  ["Gelu", {}, "geluerf", 0, 0],
  ["Gelu", { approximate: "tanh" }, "gelutanh", 0, 0],
  ["Softplus", {}, "softplus", 0, 0],
  ["Elu", {}, "elu", 1, 0],
  ["Elu", { alpha: 0.5 }, "elu", 0.5, 0],
  ["Selu", {}, "selu", SELU[0], SELU[1]],
  ["Mish", {}, "mish", 0, 0],
  ["Softsign", {}, "softsign", 0, 0],
  ["Exp", {}, "exp", 0, 0],
  ["Log", {}, "log", 0, 0],
  ["Sqrt", {}, "sqrt", 0, 0],
  ["Reciprocal", {}, "reciprocal", 0, 0],
  ["Erf", {}, "erf", 0, 0],
  ["Neg", {}, "neg", 0, 0],
  ["Abs", {}, "abs", 0, 0],
  ["Sign", {}, "sign", 0, 0],
  ["Floor", {}, "floor", 0, 0],
  ["Ceil", {}, "ceil", 0, 0],
  ["Round", {}, "round", 0, 0],
  ["Sin", {}, "sin", 0, 0],
  ["Cos", {}, "cos", 0, 0],
];

for (const variant of VARIANTS) {
  Deno.test(`unary ops match the float64 reference with ONNX defaults: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(61);
    for (const [type, attrs, token, p0, p1] of CASES) {
      const positive = type === "Log" || type === "Sqrt";
      for (const dims of [[2, 3, 5], [1], [7, 1, 9], [0, 3]]) {
        const n = dims.reduce((a, b) => a * b, 1);
        const x = f32(rng.floats(n, positive ? 0.01 : -6, 6), dims);
        const { outputs: [y] } = runNode(kr, node(type, 1, attrs), [x]);
        assertEquals([...y.dims], dims);
        const want = Array.from(x.data, (v) => UNARY_REFERENCE[token](v, p0, p1));
        assertClose(y.data as Float32Array, want, { rtol: 1e-6, atol: 1e-6 }, `${type} ${dims}`);
      }
    }
  });

  Deno.test(`Clip takes attributes (opset < 11) or constant / runtime inputs: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const x = f32([-3, -1, -0.5, 0, 0.5, 1, 3, 100, -100], [3, 3]);
    const clip = (lo: number, hi: number) =>
      Array.from(x.data, (v) => Math.min(Math.max(v, lo), hi));
    const run = (...args: Parameters<typeof runNode>) => runNode(...args).outputs[0].data;
    assertEquals(
      [...run(kr, node("Clip", 1, { min: -1, max: 2 }), [x], { opset: 6 })],
      clip(-1, 2),
    );
    assertEquals(
      [...run(kr, node("Clip", 1, { min: 0 }), [x], { opset: 6 })],
      clip(0, 3.4028234663852886e38),
    );
    assertEquals([...run(kr, node("Clip", 1), [x])], clip(-Infinity, Infinity));
    for (const known of [[1, 2], []]) {
      assertEquals(
        [...run(kr, node("Clip", 3), [x, f32([0], []), f32([6], [])], { known })],
        clip(0, 6),
      );
      assertEquals([
        ...run(kr, node("Clip", [true, "", true]), [x, undefined, f32([0.5], [])], { known }),
      ], clip(-Infinity, 0.5));
      assertEquals(
        [...run(kr, node("Clip", 2), [x, f32([-0.5], [])], { known })],
        clip(-0.5, Infinity),
      );
    }
    // min > max: every value becomes max (ONNX).
    assertEquals(
      [...run(kr, node("Clip", 3), [x, f32([2], []), f32([1], [])], { known: [1, 2] })],
      new Array(9).fill(1),
    );
    throws(() => runNode(kr, node("Clip", 3), [x, f32([0, 1], [2]), f32([6], [])]), ShapeError);
  });

  Deno.test(`Neg, Abs, Sign and Relu run on int32 and int64: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const v = [-5, -1, 0, 1, 7, -2147483647];
    const ref: Record<string, (x: number) => number> = {
      Neg: (x) => 0 - x,
      Abs: Math.abs,
      Sign: Math.sign,
      Relu: (x) => Math.max(x, 0),
    };
    for (const [type, f] of Object.entries(ref)) {
      const y32 = runNode(kr, node(type, 1), [i32(v, [2, 3])]).outputs[0];
      assertEquals(y32.type, "int32");
      assertEquals([...y32.data], v.map(f));
      const y64 = runNode(kr, node(type, 1), [i64(v, [6])]).outputs[0];
      assertEquals([...y64.data].map(Number), v.map(f));
    }
  });
}

Deno.test("unary ops reject bad types and attributes with typed errors", async () => {
  const kr = await kernelsFor("simd");
  throws(
    () => runNode(kr, node("Sigmoid", 1), [i64([1, 2])]),
    (e: Error) =>
      e instanceof DTypeError &&
      /Node "sigmoid_\d+" \(Sigmoid\): input "X" is "int64"/.test(e.message),
  );
  throws(() => runNode(kr, node("Clip", 1), [i32([1])]), DTypeError);
  throws(() => runNode(kr, node("Exp", [""]), [undefined]), ShapeError);
  const gelu = runNode(kr, node("Gelu", 1, { approximate: "fast" }), [f32([1])]);
  assertEquals(gelu.reasons, ['approximate "fast" is not supported (use "none" or "tanh")']);
});
