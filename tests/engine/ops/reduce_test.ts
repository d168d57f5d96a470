/**
 * Reductions end to end: every Reduce* op over many axis sets (attribute and input forms,
 * negative axes, keepdims, noop_with_empty_axes, empty reduced dims), integer reductions for
 * shape math, ArgMax/ArgMin with keepdims and select_last_index, and typed errors.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { argReference, type ReduceOpType, reduceReference } from "../../reference/reduce.ts";
import { f32, i32, i64, node, runNode } from "./_elementwise_harness.ts";

const OPS: ReduceOpType[] = [
  "ReduceSum",
  "ReduceMean",
  "ReduceMax",
  "ReduceMin",
  "ReduceProd",
  "ReduceL1",
  "ReduceL2",
  "ReduceSumSquare",
  "ReduceLogSum",
  "ReduceLogSumExp",
];

const AXES: number[][] = [
  [0],
  [1],
  [2],
  [3],
  [-1],
  [0, 1],
  [1, 2],
  [2, 3],
  [0, 2],
  [1, 3],
  [0, 3],
  [0, 1, 2, 3],
  [0, 2, 3],
  [],
];

for (const variant of VARIANTS) {
  Deno.test(`Reduce ops match the reference over many axis sets: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(101);
    for (const dims of [[2, 3, 5, 7], [1, 16, 1, 9], [3, 1, 17, 1]]) {
      const size = dims.reduce((a, b) => a * b, 1);
      for (const op of OPS) {
        // Positive values keep ReduceLogSum defined and products tame.
        const x = f32(
          op === "ReduceLogSum" || op === "ReduceProd"
            ? rng.floats(size, 0.5, 1.5)
            : rng.floats(size, -3, 3),
          dims,
        );
        for (const axes of AXES) {
          const norm = (axes.length ? axes : [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a));
          for (const keepdims of [1, 0]) {
            // Opset 18 form (axes input) and the attribute form.
            const viaInput =
              runNode(kr, node(op, 2, { keepdims }), [x, i64(axes)], { known: [1] }).outputs[0];
            const viaAttr =
              runNode(kr, node(op, 1, axes.length ? { axes, keepdims } : { keepdims }), [x], {
                opset: 11,
              }).outputs[0];
            const want = reduceReference(op, x.data, dims, norm, keepdims === 1);
            const what = `${op} [${dims}] axes [${axes}] keepdims ${keepdims}`;
            assertEquals([...viaInput.dims], want.dims, what);
            const tol = { rtol: 2e-5, atol: 2e-5 };
            assertClose(viaInput.data as Float32Array, want.data, tol, what);
            assertClose(viaAttr.data as Float32Array, want.data, tol, `${what} (attribute)`);
          }
        }
      }
    }
  });

  Deno.test(`Reduce ops: noop_with_empty_axes, empty reductions, zero-size outputs: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const x = f32([1, -2, 3, -4, 5, -6], [2, 3]);
    const noop =
      runNode(kr, node("ReduceSum", 2, { noop_with_empty_axes: 1 }), [x, i64([])], { known: [1] })
        .outputs[0];
    assertEquals([...noop.dims], [2, 3]);
    assertEquals([...noop.data], [...x.data]);
    const noAxes = runNode(kr, node("ReduceMax", 1, { noop_with_empty_axes: 1 }), [x]).outputs[0];
    assertEquals([...noAxes.data], [...x.data]);
    // Reducing no axis folds each element alone: the op's element map still applies (x², |x|,
    // log x…), as ONNX's reference implementation and onnxruntime do, not a copy.
    const positive = f32([0.5, 2, 3, 4, 5, 6], [2, 3]);
    for (const op of OPS) {
      for (const input of [x, positive]) {
        const n = node(op, 2, { noop_with_empty_axes: 1 });
        const got = runNode(kr, n, [input, i64([])], { known: [1] }).outputs[0];
        assertEquals([...got.dims], [2, 3], op);
        const want = Float32Array.from(
          input.data as Float32Array,
          (v) => reduceReference(op, new Float32Array([v]), [1], [0], true).data[0],
        );
        assertClose(got.data as Float32Array, want, { rtol: 1e-6, atol: 1e-7 }, `${op} noop`);
      }
    }
    // Reducing an empty axis gives each op's identity.
    const empty = f32([], [2, 0, 3]);
    const identity: Record<string, number> = {
      ReduceSum: 0,
      ReduceProd: 1,
      ReduceMax: -Infinity,
      ReduceMin: Infinity,
      ReduceL2: 0,
      ReduceSumSquare: 0,
      ReduceLogSumExp: -Infinity,
    };
    for (const [op, v] of Object.entries(identity)) {
      const y = runNode(kr, node(op, 1, { axes: [1] }), [empty]).outputs[0];
      assertEquals([...y.dims], [2, 1, 3]);
      assertEquals([...y.data], new Array(6).fill(v), op);
    }
    const mean = runNode(kr, node("ReduceMean", 1, { axes: [1], keepdims: 0 }), [empty]).outputs[0];
    assertEquals(Number.isNaN(mean.data[0]), true);
    const none = runNode(kr, node("ReduceSum", 1, { axes: [1] }), [f32([], [0, 4])]).outputs[0];
    assertEquals([...none.dims], [0, 1]);
    // Runtime (non-constant) axes are read from the arena.
    const y =
      runNode(kr, node("ReduceSum", 2, { keepdims: 0 }), [x, i64([1])], { known: [1] }).outputs[0];
    assertEquals([...y.data], [2, -5]);
  });

  Deno.test(`ArgMax and ArgMin: axes, keepdims, select_last_index: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(103);
    const dims = [3, 4, 5];
    const values = Array.from({ length: 60 }, () => rng.int(-2, 2));
    for (const make of [f32, i32, i64]) {
      const x = make(values, dims);
      for (const type of ["ArgMax", "ArgMin"]) {
        for (const axis of [0, 1, 2, -1]) {
          for (const keepdims of [1, 0]) {
            for (const last of [0, 1]) {
              const attrs = { axis, keepdims, select_last_index: last };
              const { outputs: [y] } = runNode(kr, node(type, 1, attrs), [x]);
              const a = axis < 0 ? axis + 3 : axis;
              const want = argReference(
                values,
                dims,
                a,
                type === "ArgMin",
                last === 1,
                keepdims === 1,
              );
              assertEquals(y.type, "int64");
              assertEquals([...y.dims], want.dims);
              assertEquals(
                [...y.data].map(Number),
                want.data,
                `${type} ${make.name} ${JSON.stringify(attrs)}`,
              );
            }
          }
        }
      }
    }
    const big = f32(rng.floats(1000), [1, 1000]);
    const y = runNode(kr, node("ArgMax", 1, { axis: 1 }), [big]).outputs[0];
    assertEquals(Number(y.data[0]), big.data.indexOf(Math.max(...big.data)));
  });
}

Deno.test("integer reductions for shape arithmetic", async () => {
  const kr = await kernelsFor("simd");
  const shape = i64([1, 3, 224, 224]);
  assertEquals([...runNode(kr, node("ReduceProd", 1, { keepdims: 0 }), [shape]).outputs[0].data], [
    150528n,
  ]);
  const m = i32([1, 9, -4, 2, 8, 3], [2, 3]);
  assertEquals([...runNode(kr, node("ReduceMax", 1, { axes: [1] }), [m]).outputs[0].data], [9, 8]);
  assertEquals([
    ...runNode(kr, node("ReduceMin", 1, { axes: [0], keepdims: 0 }), [m]).outputs[0].data,
  ], [1, 8, -4]);
  assertEquals([...runNode(kr, node("ReduceSum", 1), [m]).outputs[0].data], [19]);
});

Deno.test("reductions reject bad axes and types with typed errors", async () => {
  const kr = await kernelsFor("simd");
  const x = f32([1, 2, 3, 4], [2, 2]);
  throws(
    () => runNode(kr, node("ReduceSum", 1, { axes: [2] }), [x]),
    (e: Error) =>
      e instanceof ShapeError && /\(ReduceSum\): axes 2 is out of range/.test(e.message),
  );
  throws(() => runNode(kr, node("ReduceSum", 1, { axes: [0, -2] }), [x]), ShapeError);
  throws(() => runNode(kr, node("ReduceMean", 2), [x, i64([0])]), /must be known at load time/);
  throws(() => runNode(kr, node("ReduceL2", 1), [i64([1])]), DTypeError);
  throws(() => runNode(kr, node("ArgMax", 1, { axis: 1 }), [f32([], [2, 0])]), ShapeError);
  throws(() => runNode(kr, node("ArgMin", 1, { axis: -3 }), [x]), ShapeError);
});
