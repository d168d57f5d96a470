import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError, ShapeError, UnsupportedOpError } from "../../../engine/errors.ts";
import type { Node } from "../../../engine/ir/graph.ts";
import { ops as avgOps } from "../../../engine/ops/average_pool.ts";
import { ops as globalOps } from "../../../engine/ops/global_pool.ts";
import { ops as maxOps } from "../../../engine/ops/max_pool.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { globalPoolReference, type PoolAttributes, poolReference } from "../../reference/pool.ts";

const [maxPool] = maxOps;
const [avgPool] = avgOps;
const [globalAvg, globalMax] = globalOps;

function node(op: string, attributes: Node["attributes"], outputs = ["y"]): Node {
  return { name: "pool_1", op, domain: "", inputs: ["x"], outputs, attributes };
}

function runOp(kr: Kernels, op: Op, n: Node, data: Float32Array, dims: number[]) {
  const [out] = op.inferShapes(n, [{ type: "float32", dims }]);
  const x: ArenaTensor = { type: "float32", dims, offset: kr.arena.alloc(data.byteLength) };
  kr.arena.f32(x.offset, data.length).set(data);
  const size = out.dims.reduce((a, b) => a * b, 1);
  const y: ArenaTensor = { type: "float32", dims: out.dims, offset: kr.arena.alloc(size * 4) };
  op.run({ kernels: kr }, n, [x], [y], undefined);
  const result = { data: kr.arena.f32(y.offset, size).slice(), dims: out.dims };
  kr.arena.free(x.offset);
  kr.arena.free(y.offset);
  return result;
}

const CASES: { name: string; x: number[]; attrs: PoolAttributes }[] = [
  { name: "2x2 s2", x: [2, 3, 8, 10], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  {
    name: "3x3 s2 p1 (ResNet stem)",
    x: [1, 4, 17, 19],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  { name: "3x3 s1 p1", x: [1, 3, 9, 13], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
  {
    name: "ceil_mode",
    x: [1, 2, 9, 11],
    attrs: { kernel_shape: [3, 2], strides: [2, 3], ceil_mode: 1 },
  },
  {
    name: "ceil_mode padded, include pad",
    x: [1, 2, 7, 10],
    attrs: {
      kernel_shape: [3, 3],
      strides: [3, 3],
      pads: [1, 1, 1, 1],
      ceil_mode: 1,
      count_include_pad: 1,
    },
  },
  {
    name: "asymmetric pads, include pad",
    x: [1, 3, 8, 9],
    attrs: { kernel_shape: [3, 4], pads: [0, 2, 2, 1], count_include_pad: 1 },
  },
  {
    name: "asymmetric pads, exclude pad",
    x: [1, 3, 8, 9],
    attrs: { kernel_shape: [3, 4], pads: [0, 2, 2, 1] },
  },
  {
    name: "dilations",
    x: [1, 2, 12, 13],
    attrs: { kernel_shape: [2, 3], dilations: [2, 2], pads: [1, 2, 1, 2], count_include_pad: 1 },
  },
  {
    name: "SAME_UPPER",
    x: [1, 2, 9, 10],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  {
    name: "SAME_LOWER include pad",
    x: [1, 2, 9, 10],
    attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: "SAME_LOWER", count_include_pad: 1 },
  },
  {
    name: "VALID",
    x: [1, 2, 9, 10],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "VALID" },
  },
  { name: "1-D", x: [2, 3, 21], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] } },
  {
    name: "wide rows",
    x: [1, 2, 5, 67],
    attrs: { kernel_shape: [2, 2], strides: [1, 2], pads: [0, 1, 0, 1] },
  },
  { name: "zero batch", x: [0, 2, 5, 5], attrs: { kernel_shape: [2, 2] } },
];

for (const variant of VARIANTS) {
  Deno.test(`MaxPool and AveragePool match the references: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(9);
    for (const t of CASES) {
      const x = rng.floats(t.x.reduce((a, b) => a * b, 1), -5, 5);
      for (const [op, kind] of [[maxPool, "max"], [avgPool, "avg"]] as const) {
        const got = runOp(kr, op, node(op.type, { ...t.attrs }), x, t.x);
        const want = poolReference(kind, x, t.x, t.attrs);
        deepStrictEqual(got.dims, want.dims, `${kind} ${t.name}`);
        assertClose(got.data, want.data, { rtol: 1e-5, atol: 1e-6 }, `${kind} ${t.name}`);
      }
    }
  });

  Deno.test(`GlobalAveragePool and GlobalMaxPool match the references: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(10);
    for (const dims of [[1, 3, 7, 7], [2, 5, 13], [1, 2, 3, 4, 5], [2, 64, 14, 14], [0, 3, 4, 4]]) {
      const x = rng.floats(dims.reduce((a, b) => a * b, 1), -5, 5);
      for (const [op, kind] of [[globalAvg, "avg"], [globalMax, "max"]] as const) {
        const got = runOp(kr, op, node(op.type, {}), x, dims);
        const want = globalPoolReference(kind, x, dims);
        deepStrictEqual(got.dims, want.dims);
        assertClose(got.data, want.data, { rtol: 1e-5, atol: 1e-6 }, `${kind} [${dims}]`);
      }
    }
  });
}

Deno.test("Pooling reports unsupported attributes and bad shapes as typed errors", () => {
  deepStrictEqual(maxPool.check!(node("MaxPool", { kernel_shape: [2, 2] }), 12), []);
  deepStrictEqual(
    maxPool.check!(node("MaxPool", { kernel_shape: [2, 2] }, ["y", "idx"]), 12).length,
    1,
  );
  deepStrictEqual(maxPool.check!(node("MaxPool", { kernel_shape: [2, 2] }, ["y", ""]), 12), []);
  deepStrictEqual(avgPool.check!(node("AveragePool", {}), 11).length, 1);
  deepStrictEqual(avgPool.check!(node("AveragePool", { kernel_shape: [2, 2, 2] }), 11).length, 1);
  deepStrictEqual(
    avgPool.check!(node("AveragePool", { kernel_shape: [2, 2], auto_pad: "FOO" }), 11).length,
    1,
  );
  const info = (dims: number[], type: "float32" | "uint8" = "float32"): InputInfo => ({
    type,
    dims,
  });
  const n = node("MaxPool", { kernel_shape: [3, 3] });
  throws(() => maxPool.inferShapes(n, [info([1, 2, 2, 2])]), ShapeError);
  throws(() => maxPool.inferShapes(n, [info([1, 2, 5, 5], "uint8")]), DTypeError);
  throws(() => maxPool.inferShapes(n, [info([1, 2, 5, 5, 5])]), UnsupportedOpError);
  throws(() => maxPool.inferShapes(n, [info([1, 2, 5])]), ShapeError);
  throws(
    () =>
      avgPool.inferShapes(node("AveragePool", { kernel_shape: [2, 2], pads: [1, 1] }), [
        info([1, 2, 5, 5]),
      ]),
    ShapeError,
  );
  throws(() => globalAvg.inferShapes(node("GlobalAveragePool", {}), [info([4, 5])]), ShapeError);
});
