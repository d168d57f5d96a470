import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import type { KnownOutput } from "../../../engine/ops/_node_params.ts";
import { nonZeroOp } from "../../../engine/ops/non_zero.ts";
import {
  constantOfShapeOp,
  constantOp,
  rangeOp,
  shapeOp,
  sizeOp,
} from "../../../engine/ops/shape.ts";
import { topKOp } from "../../../engine/ops/top_k.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor } from "../../_kernels.ts";
import { build, nonZeroRef, rangeRef, topKRef } from "../../reference/data.ts";
import {
  assertTensorEqual,
  f32,
  i64,
  makeNode,
  Random,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

Deno.test("Shape (with start/end) and Size know their values at inference and write them", async () => {
  const kr = await kernelsFor("simd");
  const x = randomTensor(new Random(1), "float32", [2, 3, 5, 7]);
  const cases: [Record<string, number>, number[]][] = [
    [{}, [2, 3, 5, 7]],
    [{ start: 1 }, [3, 5, 7]],
    [{ start: -2 }, [5, 7]],
    [{ end: -1 }, [2, 3, 5]],
    [{ start: 1, end: 2 }, [3]],
    [{ start: 3, end: 1 }, []],
    [{ start: -10, end: 10 }, [2, 3, 5, 7]],
  ];
  for (const [attrs, want] of cases) {
    const r = runOp(kr, shapeOp, makeNode("Shape", 1, 1, attrs), [x]);
    assertTensorEqual(r.outputs[0], i64(want), JSON.stringify(attrs));
    assertTensorEqual(r.inferred[0].value!, i64(want), `${JSON.stringify(attrs)} inferred`);
  }
  const s = runOp(kr, sizeOp, makeNode("Size", 1), [x]);
  assertTensorEqual(s.outputs[0], i64([210], []));
  assertTensorEqual(s.inferred[0].value!, i64([210], []));
  const z = runOp(kr, sizeOp, makeNode("Size", 1), [randomTensor(new Random(2), "int64", [3, 0])]);
  assertTensorEqual(z.outputs[0], i64([0], []));
});

Deno.test("ConstantOfShape fills with the value's type (default float 0)", async () => {
  const kr = await kernelsFor("simd");
  const cases: [Tensor | undefined, number[]][] = [
    [undefined, [2, 3]],
    [new Tensor("int64", new BigInt64Array([-7n]), [1]), [4]],
    [new Tensor("float32", new Float32Array([2.5]), [1]), [3, 1, 5]],
    [new Tensor("bool", new Uint8Array([1]), [1]), [9]],
    [new Tensor("float16", new Uint16Array([0x3c00]), [1]), [2, 2]],
    [new Tensor("int32", new Int32Array([5]), [1]), [0, 4]],
    [new Tensor("uint8", new Uint8Array([200]), [1]), []],
  ];
  for (const [value, dims] of cases) {
    const node = makeNode("ConstantOfShape", 1, 1, value ? { value } : {});
    const r = runOp(kr, constantOfShapeOp, node, [i64(dims)], { known: [0] });
    const v = value ?? new Tensor("float32", new Float32Array(1), [1]);
    const want = build(v.type, dims, () => v.data[0]);
    assertTensorEqual(r.outputs[0], want, `${v.type} ${dims}`);
    assertTensorEqual(r.inferred[0].value!, want, `${v.type} ${dims} inferred`);
  }
  throws(
    () =>
      constantOfShapeOp.inferShapes(makeNode("ConstantOfShape", 1), [{ type: "int64", dims: [2] }]),
    /must be known at load time/,
  );
  throws(
    () =>
      constantOfShapeOp.inferShapes(makeNode("ConstantOfShape", 1), [
        { type: "int64", dims: [2], value: i64([2, -1]) },
      ]),
    ShapeError,
  );
});

Deno.test("Range matches start + i * delta for every type and sign", async () => {
  const kr = await kernelsFor("scalar");
  const cases: [DType, number, number, number][] = [
    ["float32", 0, 1, 0.1],
    ["float32", 3, -2.5, -0.75],
    ["int32", 0, 10, 3],
    ["int64", 10, 4, -2],
    ["int64", 5, 5, 1],
    ["int32", 5, 0, 1],
    // Past the folding limit (65536 elements): built only when run.
    ["int32", -7, 200003, 2],
    ["int64", 300000, 0, -3],
    ["float32", 0, 70000.5, 0.5],
  ];
  for (const [type, s, l, d] of cases) {
    const scalar = (v: number) => build(type, [], () => (type === "int64" ? BigInt(v) : v));
    const node = makeNode("Range", 3);
    const r = runOp(kr, rangeOp, node, [scalar(s), scalar(l), scalar(d)], { known: [0, 1, 2] });
    const f = type === "float32" ? Math.fround : (v: number) => v;
    const want = rangeRef(type, f(s), f(l), f(d));
    if (type === "float32") {
      assertClose(r.outputs[0].data as Float32Array, want.data as Float32Array, {}, "float range");
      deepStrictEqual(r.outputs[0].dims, want.dims);
    } else {
      assertTensorEqual(r.outputs[0], want, `${type} ${s}..${l} by ${d}`);
    }
    const folded = r.inferred[0].value;
    deepStrictEqual(folded !== undefined, want.size <= 65536, `${type} ${s}..${l} folded`);
    if (folded) assertTensorEqual(folded, r.outputs[0], `${type} inferred`);
  }
  const bad = (v: Tensor) => ({ type: v.type, dims: [...v.dims], value: v });
  throws(
    () =>
      rangeOp.inferShapes(makeNode("Range", 3), [
        bad(i64([0], [])),
        bad(i64([4], [])),
        bad(i64([0], [])),
      ]),
    /delta must not be 0/,
  );
  // Too long for any arena, or not finite: refused before anything is built.
  for (const [limit, pattern] of [[1e12, /is not a size/], [NaN, /must be finite/]] as const) {
    throws(
      () =>
        rangeOp.inferShapes(makeNode("Range", 3), [
          bad(f32([0], [])),
          bad(f32([limit], [])),
          bad(f32([1], [])),
        ]),
      (e) => e instanceof ShapeError && pattern.test(e.message),
    );
  }
  throws(
    () =>
      rangeOp.inferShapes(makeNode("Range", 3), [
        bad(i64([0], [])),
        bad(f32([4], [])),
        bad(i64([1], [])),
      ]),
    DTypeError,
  );
});

Deno.test("Constant takes every value_* form and reports strings unsupported", async () => {
  const kr = await kernelsFor("simd");
  const t = new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]);
  const cases: [Record<string, unknown>, Tensor][] = [
    [{ value: t }, t],
    [{ value_float: 1.5 }, f32([1.5], [])],
    [{ value_floats: [1, 2] }, f32([1, 2])],
    [{ value_int: -3 }, i64([-3], [])],
    [{ value_ints: [4, 5, 6] }, i64([4, 5, 6])],
    [{ value_ints: [] }, i64([])],
  ];
  for (const [attrs, want] of cases) {
    const node = makeNode("Constant", 0, 1, attrs as never);
    deepStrictEqual(constantOp.check!(node, 13), []);
    const r = runOp(kr, constantOp, node, []);
    assertTensorEqual(r.outputs[0], want, Object.keys(attrs)[0]);
    assertTensorEqual((r.inferred as KnownOutput[])[0].value!, want);
  }
  deepStrictEqual(constantOp.check!(makeNode("Constant", 0, 1, { value_string: "a" }), 13), [
    'string constants ("value_string") are not supported',
  ]);
  throws(() => constantOp.inferShapes(makeNode("Constant", 0, 1), []), ShapeError);
});

Deno.test("TopK matches the reference (largest/smallest, axes, ties, K input and attribute)", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(61);
  for (let rep = 0; rep < 30; rep++) {
    const type = (["float32", "int64", "int32", "uint8", "float16"] as DType[])[rep % 5];
    const dims = [rng.int(1, 4), rng.int(1, 9), rng.int(1, 5)];
    const axis = rng.int(0, 2);
    const k = rng.int(0, dims[axis]);
    let x = randomTensor(rng, type, dims);
    if (type === "float32") x = build(type, dims, () => rng.int(-3, 3));
    const largest = rep % 3 !== 0;
    const attrs = { axis: rep % 2 ? axis - 3 : axis, largest: largest ? 1 : 0 };
    const asAttr = rep % 4 === 0;
    const node = asAttr ? makeNode("TopK", 1, 2, { ...attrs, k }) : makeNode("TopK", 2, 2, attrs);
    const r = runOp(kr, topKOp, node, asAttr ? [x] : [x, i64([k])]);
    // float16 data here are positive normals, which order like their bit patterns.
    const want = topKRef(x, k, axis, largest);
    assertTensorEqual(r.outputs[0], want[0], `${type} ${dims} axis ${axis} k ${k} values`);
    assertTensorEqual(r.outputs[1], want[1], `${type} ${dims} axis ${axis} k ${k} indices`);
  }
  throws(
    () =>
      topKOp.inferShapes(makeNode("TopK", 2, 2), [{ type: "float32", dims: [3] }, {
        type: "int64",
        dims: [1],
        value: i64([4]),
      }]),
    /K 4 must be/,
  );
  // NaN ranks above +Inf (numpy's and onnxruntime's order), first among the largest, last
  // among the smallest.
  const x = f32([1, NaN, 3, -Infinity, Infinity, 0], [6]);
  for (
    const [largest, values, indices] of [[1, [NaN, Infinity, 3], [1, 4, 2]], [
      0,
      [-Infinity, 0, 1],
      [3, 5, 0],
    ]] as const
  ) {
    const r = runOp(kr, topKOp, makeNode("TopK", 2, 2, { largest }), [x, i64([3])]);
    deepStrictEqual([...r.outputs[0].data as Float32Array], values, `largest ${largest}`);
    deepStrictEqual([...r.outputs[1].data as BigInt64Array].map(Number), indices);
  }
});

Deno.test("NonZero folds known inputs and refuses unknown ones", async () => {
  const kr = await kernelsFor("simd");
  const x = build("float32", [3, 4], (i) => (i % 3 === 1 ? 0 : i));
  const r = runOp(kr, nonZeroOp, makeNode("NonZero", 1), [x], { known: [0] });
  assertTensorEqual(r.outputs[0], nonZeroRef(x));
  assertTensorEqual(r.inferred[0].value!, nonZeroRef(x));
  const none = build("int64", [2, 2], () => 0);
  assertTensorEqual(
    runOp(kr, nonZeroOp, makeNode("NonZero", 1), [none], { known: [0] }).outputs[0],
    nonZeroRef(none),
  );
  throws(
    () => nonZeroOp.inferShapes(makeNode("NonZero", 1), [{ type: "float32", dims: [3] }]),
    ShapeError,
  );
});
