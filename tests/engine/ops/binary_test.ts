/**
 * Binary arithmetic ops end to end: numpy broadcasting in every form the plan distinguishes
 * (same shape, scalar, row, channel, general both-sided), variadic Max/Min/Sum/Mean, Pow's
 * fast exponents and integer exponents, PRelu's slope, integer arithmetic for shape math,
 * zero-size tensors and typed errors.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, InvalidArgumentError, ShapeError } from "../../../engine/errors.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { BINARY_REFERENCE, broadcastReference } from "../../reference/elementwise.ts";
import { f32, i32, i64, node, runNode } from "./_elementwise_harness.ts";

/** Shape pairs covering the broadcast plan's cases. */
const SHAPES: [number[], number[]][] = [
  [[2, 3, 5], [2, 3, 5]],
  [[2, 3, 5], []],
  [[1], [4, 7]],
  [[6, 17], [17]],
  [[1, 8, 5, 5], [8, 1, 1]],
  [[2, 8, 3, 3], [1, 8, 1, 1]],
  [[2, 1, 3], [4, 1]],
  [[3, 1, 5, 1], [1, 4, 1, 6]],
  [[5, 1], [1, 5]],
  [[0, 3], [3]],
  [[2, 0], [1]],
];

const OPS: [string, string][] = [
  ["Add", "add"],
  ["Sub", "sub"],
  ["Mul", "mul"],
  ["Div", "div"],
  ["Max", "max"],
  ["Min", "min"],
  ["Sum", "add"],
  ["Pow", "pow"],
];

function randomFor(rng: Random, op: string, n: number, exponent: boolean): Float32Array {
  if (op === "Pow") return exponent ? rng.floats(n, -2, 2) : rng.floats(n, 0.1, 3);
  if (op === "Div" && exponent) return rng.floats(n, 0.5, 2).map((v, i) => (i % 2 ? v : -v));
  return rng.floats(n, -3, 3);
}

for (const variant of VARIANTS) {
  Deno.test(`binary ops broadcast like numpy: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(71);
    for (const [type, token] of OPS) {
      for (const [da, db] of SHAPES) {
        for (const [sa, sb] of [[da, db], [db, da]]) {
          const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
          const a = f32(randomFor(rng, type, size(sa), false), sa);
          const b = f32(randomFor(rng, type, size(sb), true), sb);
          const { outputs: [y] } = runNode(kr, node(type, 2), [a, b]);
          const want = broadcastReference(
            [{ data: a.data, dims: sa }, { data: b.data, dims: sb }],
            BINARY_REFERENCE[token],
          );
          assertEquals([...y.dims], want.dims, `${type} [${sa}] [${sb}] dims`);
          const tol = type === "Pow" ? { rtol: 3e-6, atol: 1e-7 } : { rtol: 1e-7, atol: 0 };
          assertClose(y.data as Float32Array, want.data, tol, `${type} [${sa}] [${sb}]`);
        }
      }
    }
  });

  Deno.test(`variadic Max, Min, Sum and Mean fold any number of inputs: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(73);
    const shapes = [[3, 1], [1, 4], [2, 3, 4], [4]];
    const inputs = shapes.map((d) => f32(rng.floats(d.reduce((a, b) => a * b, 1)), d));
    for (
      const [type, f] of [
        ["Max", Math.max],
        ["Min", Math.min],
        ["Sum", (...v: number[]) => v.reduce((a, b) => a + b, 0)],
        ["Mean", (...v: number[]) => v.reduce((a, b) => a + b, 0) / v.length],
      ] as [string, (...v: number[]) => number][]
    ) {
      for (let k = 1; k <= 4; k++) {
        const xs = inputs.slice(0, k);
        const { outputs: [y] } = runNode(kr, node(type, k), xs);
        const want = broadcastReference(
          xs.map((x) => ({ data: x.data as Float32Array, dims: [...x.dims] })),
          f,
        );
        assertEquals([...y.dims], want.dims);
        assertClose(
          y.data as Float32Array,
          want.data,
          { rtol: 1e-6, atol: 1e-7 },
          `${type} of ${k}`,
        );
      }
    }
  });

  Deno.test(`Pow takes fast paths, integer exponents and negative bases: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const x = f32([-2, -1.5, -0, 0, 0.5, 1, 3, 10], [2, 4]);
    for (const e of [2, 0.5, 1, -1, 3, 2.5, 0]) {
      for (const exponent of [f32([e], []), i64([Math.trunc(e)], [1])]) {
        if (exponent.type === "int64" && !Number.isInteger(e)) continue;
        for (const known of [[1], []]) {
          const { outputs: [y] } = runNode(kr, node("Pow", 2), [x, exponent], { known });
          const want = Array.from(x.data, (v) => Math.pow(v, e));
          assertClose(
            y.data as Float32Array,
            want,
            { rtol: 3e-6, atol: 0 },
            `x^${e} (${exponent.type})`,
          );
        }
      }
    }
  });

  Deno.test(`PRelu broadcasts its slope to X and Mod follows fmod: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(79);
    const x = f32(rng.floats(2 * 3 * 4 * 5, -2, 2), [2, 3, 4, 5]);
    for (const sd of [[3, 1, 1], [1], [5], [4, 5], [2, 3, 4, 5]]) {
      const slope = f32(rng.floats(sd.reduce((a, b) => a * b, 1)), sd);
      const { outputs: [y] } = runNode(kr, node("PRelu", 2), [x, slope]);
      const want = broadcastReference([{ data: x.data, dims: [2, 3, 4, 5] }, {
        data: slope.data,
        dims: sd,
      }], BINARY_REFERENCE.prelu);
      assertClose(
        y.data as Float32Array,
        want.data,
        { rtol: 1e-7, atol: 0 },
        `PRelu slope [${sd}]`,
      );
    }
    throws(
      () => runNode(kr, node("PRelu", 2), [f32([1, 2, 3]), f32([1, 2, 3, 4], [4, 1])]),
      ShapeError,
    );
    const a = f32([5.5, -5.5, 7, -7, 0.25], [5]);
    const b = f32([2, 2, -3, 3, 0.1], [5]);
    const { outputs: [m] } = runNode(kr, node("Mod", 2, { fmod: 1 }), [a, b]);
    assertClose(m.data as Float32Array, [1.5, -1.5, 1, -1, 0.25 % 0.1], { rtol: 1e-6, atol: 1e-7 });
    throws(() => runNode(kr, node("Mod", 2), [a, b]), DTypeError);
  });
}

Deno.test("integer arithmetic follows ONNX for int64 and int32", async () => {
  const kr = await kernelsFor("simd");
  const a = [7, -7, 7, -7, 0, 9007199254740];
  const b = [2, 2, -2, -2, 5, 3];
  const cases: [string, Record<string, number>, (x: number, y: number) => number][] = [
    ["Add", {}, (x, y) => x + y],
    ["Sub", {}, (x, y) => x - y],
    ["Mul", {}, (x, y) => x * y],
    ["Div", {}, (x, y) => Math.trunc(x / y)],
    ["Mod", {}, (x, y) => ((x % y) + y) % y],
    ["Mod", { fmod: 1 }, (x, y) => x % y],
    ["Max", {}, Math.max],
    ["Min", {}, Math.min],
  ];
  for (const [type, attrs, f] of cases) {
    const y = runNode(kr, node(type, 2, attrs), [i64(a, [2, 3]), i64(b, [2, 3])]).outputs[0];
    assertEquals(y.type, "int64");
    assertEquals([...y.data].map(Number), a.map((v, i) => f(v, b[i]) + 0), `${type} int64`);
    const a32 = a.slice(0, 5);
    const y32 = runNode(kr, node(type, 2, attrs), [i32(a32), i32(b.slice(0, 5))]).outputs[0];
    assertEquals([...y32.data], a32.map((v, i) => f(v, b[i]) + 0), `${type} int32`);
  }
  // Shape arithmetic: a shape times a broadcast scalar.
  const shape = runNode(kr, node("Mul", 2), [i64([1, 64, 56, 56]), i64([2], [])]).outputs[0];
  assertEquals([...shape.data].map(Number), [2, 128, 112, 112]);
  // int64 wraps like two's complement.
  const max = new Tensor("int64", BigInt64Array.from([2n ** 63n - 1n]), [1]);
  const big = runNode(kr, node("Add", 2), [i64([1]), max]).outputs[0];
  assertEquals(big.data[0], -(2n ** 63n));
  throws(() => runNode(kr, node("Div", 2), [i64([1]), i64([0])]), InvalidArgumentError);
  throws(() => runNode(kr, node("Div", 2), [i32([1]), i32([0])]), /integer division by zero/);
});

Deno.test("binary ops reject bad shapes and types with typed errors naming the node", async () => {
  const kr = await kernelsFor("simd");
  throws(
    () => runNode(kr, node("Add", 2), [f32([1, 2, 3]), f32([1, 2])]),
    (e: Error) =>
      e instanceof ShapeError &&
      /Node "add_\d+" \(Add\): shapes \[3\] and \[2\] do not broadcast/.test(e.message),
  );
  throws(() => runNode(kr, node("Add", 2), [f32([1]), i64([1])]), DTypeError);
  throws(() => runNode(kr, node("Pow", 2), [i64([1]), i64([1])]), DTypeError);
  throws(() => runNode(kr, node("Mean", 2), [i64([1]), i64([1])]), DTypeError);
  throws(() => runNode(kr, node("Sub", 1), [f32([1])]), ShapeError);
  assertEquals(runNode(kr, node("Mod", 2, { fmod: 2 }), [i64([1]), i64([1])]).reasons, [
    "fmod 2 is not 0 or 1",
  ]);
});
