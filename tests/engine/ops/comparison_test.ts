/**
 * Comparisons, boolean logic and Where end to end: broadcasting, every element type they
 * take (float32 on the kernels, integers and bools on the host), zero-size and typed errors.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { broadcastReference } from "../../reference/elementwise.ts";
import { bool, f32, i32, i64, node, runNode } from "./_elementwise_harness.ts";

const COMPARE: [string, (a: number, b: number) => boolean][] = [
  ["Equal", (a, b) => a === b],
  ["Less", (a, b) => a < b],
  ["LessOrEqual", (a, b) => a <= b],
  ["Greater", (a, b) => a > b],
  ["GreaterOrEqual", (a, b) => a >= b],
];

const SHAPES: [number[], number[]][] = [
  [[2, 3, 5], [2, 3, 5]],
  [[2, 3, 5], []],
  [[4, 17], [17]],
  [[1, 8, 5, 5], [8, 1, 1]],
  [[2, 1, 3], [4, 1]],
  [[0, 2], [2]],
];

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);

for (const variant of VARIANTS) {
  Deno.test(`comparisons broadcast and return bool for every type: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(83);
    for (const [type, f] of COMPARE) {
      for (const [da, db] of SHAPES) {
        const va = Array.from({ length: size(da) }, () => rng.int(-2, 2));
        const vb = Array.from({ length: size(db) }, () => rng.int(-2, 2));
        const want = broadcastReference(
          [{ data: va, dims: da }, { data: vb, dims: db }],
          (a, b) => (f(a, b) ? 1 : 0),
        );
        for (const make of [f32, i32, i64]) {
          const { outputs: [y] } = runNode(kr, node(type, 2), [make(va, da), make(vb, db)]);
          assertEquals(y.type, "bool");
          assertEquals([...y.dims], want.dims);
          assertEquals([...y.data], [...want.data], `${type} ${make.name} [${da}] [${db}]`);
        }
      }
    }
    const eq = runNode(kr, node("Equal", 2), [bool([1, 0, 1, 0]), bool([1, 1, 0, 0])]).outputs[0];
    assertEquals([...eq.data], [1, 0, 0, 1]);
    const nan = runNode(kr, node("Equal", 2), [f32([NaN, 1]), f32([NaN, 1])]).outputs[0];
    assertEquals([...nan.data], [0, 1]);
  });

  Deno.test(`Where selects with three-way broadcasting: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(89);
    const cases: number[][][] = [
      [[2, 3], [2, 3], [2, 3]],
      [[3], [2, 3], []],
      [[2, 1], [1, 3], [2, 3]],
      [[1, 1, 4], [2, 3, 1], [3, 1]],
      [[4, 1, 1], [4, 5, 5], [1]],
      [[0, 3], [3], [1]],
    ];
    for (const [dc, dx, dy] of cases) {
      const c = Array.from({ length: size(dc) }, () => rng.int(0, 1));
      const x = Array.from({ length: size(dx) }, () => rng.int(-100, 100));
      const y = Array.from({ length: size(dy) }, () => rng.int(-100, 100));
      const want = broadcastReference([{ data: c, dims: dc }, { data: x, dims: dx }, {
        data: y,
        dims: dy,
      }], (p, q, r) => (p ? q : r));
      for (const make of [f32, i32, i64, bool]) {
        const xs = make === bool ? x.map((v) => v & 1) : x;
        const ys = make === bool ? y.map((v) => v & 1) : y;
        const w = make === bool ? want.data.map((v) => v & 1) : want.data;
        const { outputs: [out] } = runNode(kr, node("Where", 3), [
          bool(c, dc),
          make(xs, dx),
          make(ys, dy),
        ]);
        assertEquals([...out.dims], want.dims);
        assertEquals(
          [...out.data].map(Number),
          [...w],
          `Where ${make.name} [${dc}] [${dx}] [${dy}]`,
        );
      }
    }
  });

  Deno.test(`And, Or, Xor and Not on bool tensors: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const a = bool([1, 0, 1, 0], [2, 2]);
    const b = bool([1, 1, 0, 0], [2, 2]);
    assertEquals([...runNode(kr, node("And", 2), [a, b]).outputs[0].data], [1, 0, 0, 0]);
    assertEquals([...runNode(kr, node("Or", 2), [a, b]).outputs[0].data], [1, 1, 1, 0]);
    assertEquals([...runNode(kr, node("Xor", 2), [a, b]).outputs[0].data], [0, 1, 1, 0]);
    assertEquals([...runNode(kr, node("Not", 1), [a]).outputs[0].data], [0, 1, 0, 1]);
    const row = runNode(kr, node("And", 2), [a, bool([1, 0], [2])]).outputs[0];
    assertEquals([...row.data], [1, 0, 1, 0]);
  });
}

Deno.test("comparisons, logic and Where reject bad types and shapes", async () => {
  const kr = await kernelsFor("simd");
  throws(() => runNode(kr, node("Less", 2), [f32([1]), i64([1])]), DTypeError);
  throws(() => runNode(kr, node("Less", 2), [bool([1]), bool([1])]), DTypeError);
  throws(() => runNode(kr, node("Equal", 2), [f32([1, 2]), f32([1, 2, 3])]), ShapeError);
  throws(() => runNode(kr, node("And", 2), [f32([1]), bool([1])]), DTypeError);
  throws(() => runNode(kr, node("Not", 1), [i32([1])]), DTypeError);
  throws(() => runNode(kr, node("Where", 3), [f32([1]), f32([1]), f32([1])]), DTypeError);
  throws(() => runNode(kr, node("Where", 3), [bool([1]), f32([1]), i64([1])]), DTypeError);
  throws(() => runNode(kr, node("Where", 3), [bool([1, 0]), f32([1, 2, 3]), f32([1])]), ShapeError);
});
