import { deepStrictEqual, throws } from "node:assert/strict";
import { InvalidArgumentError, ShapeError } from "../../../engine/errors.ts";
import {
  dropoutOp,
  flattenOp,
  identityOp,
  reshapeOp,
  squeezeOp,
  unsqueezeOp,
} from "../../../engine/ops/reshape.ts";
import type { InputInfo } from "../../../engine/ops/op.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { kernelsFor } from "../../_kernels.ts";
import { assertTensorEqual, i64, makeNode, Random, randomTensor, runOp } from "./_data_harness.ts";

const x = (dims: number[]): InputInfo => ({ type: "float32", dims });
const v = (vals: number[]): InputInfo => ({ type: "int64", dims: [vals.length], value: i64(vals) });
const dimsOf = (out: { dims: number[] }[]) => out[0].dims;

Deno.test("Reshape follows 0, -1 and allowzero", () => {
  const n = makeNode("Reshape", 2);
  deepStrictEqual(dimsOf(reshapeOp.inferShapes(n, [x([2, 3, 4]), v([0, -1])])), [2, 12]);
  deepStrictEqual(dimsOf(reshapeOp.inferShapes(n, [x([2, 3, 4]), v([-1])])), [24]);
  deepStrictEqual(dimsOf(reshapeOp.inferShapes(n, [x([2, 3, 4]), v([4, 0, 2])])), [4, 3, 2]);
  deepStrictEqual(dimsOf(reshapeOp.inferShapes(n, [x([0, 3]), v([3, -1])])), [3, 0]);
  throws(() => reshapeOp.inferShapes(n, [x([0, 3]), v([3, 0])]), /cannot reshape/);
  const z = makeNode("Reshape", 2, 1, { allowzero: 1 });
  deepStrictEqual(dimsOf(reshapeOp.inferShapes(z, [x([0, 3]), v([3, 0])])), [3, 0]);
  throws(() => reshapeOp.inferShapes(z, [x([0, 3]), v([0, -1])]), /mixes 0 and -1/);
  throws(() => reshapeOp.inferShapes(n, [x([2, 3]), v([4, -1])]), ShapeError);
  throws(() => reshapeOp.inferShapes(n, [x([2, 3]), v([-1, -1])]), /more than one -1/);
  throws(() => reshapeOp.inferShapes(n, [x([2, 3]), v([7])]), /cannot reshape/);
  // The shape is a 1-D list of dims, not a matrix of them.
  const matrix = { ...v([2, 3]), dims: [1, 2] };
  throws(() => reshapeOp.inferShapes(n, [x([2, 3]), matrix]), /must be 1-D, got \[1, 2\]/);
  throws(
    () => reshapeOp.inferShapes(n, [x([2, 3]), { type: "int64", dims: [2] }]),
    (e: Error) => e instanceof ShapeError && e.message.includes(`Node "${n.name}" (Reshape)`),
  );
});

Deno.test("Flatten, Squeeze and Unsqueeze give the ONNX shapes", () => {
  const f = (axis: number, dims: number[]) =>
    dimsOf(flattenOp.inferShapes(makeNode("Flatten", 1, 1, { axis }), [x(dims)]));
  deepStrictEqual(f(1, [2, 3, 4]), [2, 12]);
  deepStrictEqual(f(0, [2, 3, 4]), [1, 24]);
  deepStrictEqual(f(3, [2, 3, 4]), [24, 1]);
  deepStrictEqual(f(-1, [2, 3, 4]), [6, 4]);
  deepStrictEqual(f(1, [0, 3]), [0, 3]);
  throws(() => f(4, [2, 3, 4]), ShapeError);
  const sq = (dims: number[], axes?: number[], asInput = false) =>
    dimsOf(squeezeOp.inferShapes(
      makeNode("Squeeze", asInput ? 2 : 1, 1, axes && !asInput ? { axes } : {}),
      asInput ? [x(dims), v(axes!)] : [x(dims)],
    ));
  deepStrictEqual(sq([1, 3, 1, 2]), [3, 2]);
  deepStrictEqual(sq([1, 3, 1, 2], [0]), [3, 1, 2]);
  deepStrictEqual(sq([1, 3, 1, 2], [-2], true), [1, 3, 2]);
  deepStrictEqual(sq([1]), []);
  throws(() => sq([1, 3], [1]), /cannot squeeze axis 1 of size 3/);
  const un = (dims: number[], axes: number[], asInput = false) =>
    dimsOf(unsqueezeOp.inferShapes(
      makeNode("Unsqueeze", asInput ? 2 : 1, 1, asInput ? {} : { axes }),
      asInput ? [x(dims), v(axes)] : [x(dims)],
    ));
  deepStrictEqual(un([3, 4], [0]), [1, 3, 4]);
  deepStrictEqual(un([3, 4], [-1], true), [3, 4, 1]);
  deepStrictEqual(un([3, 4], [0, 3]), [1, 3, 4, 1]);
  deepStrictEqual(un([], [0]), [1]);
  deepStrictEqual(un([3], [2, 0], true), [1, 3, 1]);
  throws(() => un([3], [0, 0]), /repeat an axis/);
  throws(() => un([3], [3]), /out of range/);
});

Deno.test("View ops carry values through and copy bytes unless aliased", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(1);
  const t = randomTensor(rng, "int64", [2, 3, 4]);
  const cases = [
    { op: reshapeOp, node: makeNode("Reshape", 2), inputs: [t, i64([4, -1])], dims: [4, 6] },
    { op: flattenOp, node: makeNode("Flatten", 1, 1, { axis: 2 }), inputs: [t], dims: [6, 4] },
    {
      op: unsqueezeOp,
      node: makeNode("Unsqueeze", 2),
      inputs: [t, i64([1])],
      dims: [2, 1, 3, 4],
    },
    { op: identityOp, node: makeNode("Identity", 1), inputs: [t], dims: [2, 3, 4] },
    {
      op: dropoutOp,
      node: makeNode("Dropout", 1, 1, { ratio: 0.3 }),
      inputs: [t],
      dims: [2, 3, 4],
    },
  ];
  for (const c of cases) {
    deepStrictEqual(c.op.aliasesInput, 0);
    const expected = new Tensor("int64", (t.data as BigInt64Array).slice(), c.dims);
    for (const alias of [false, true]) {
      const r = runOp(kr, c.op, c.node, c.inputs, { alias });
      assertTensorEqual(r.outputs[0], expected, `${c.node.op} alias=${alias}`);
    }
    const folded = runOp(kr, c.op, c.node, c.inputs, { known: [0, 1] });
    assertTensorEqual(folded.inferred[0].value!, expected, `${c.node.op} folded`);
  }
  const sq = runOp(kr, squeezeOp, makeNode("Squeeze", 1), [
    randomTensor(rng, "float32", [1, 5, 1]),
  ]);
  deepStrictEqual(sq.outputs[0].dims, [5]);
});

Deno.test("Dropout writes an all-true mask and refuses training mode", async () => {
  const kr = await kernelsFor("scalar");
  const t = randomTensor(new Random(2), "float32", [3, 5]);
  const node = makeNode("Dropout", 3, 2);
  const r = runOp(kr, dropoutOp, node, [
    t,
    new Tensor("float32", new Float32Array([0.5]), []),
    new Tensor("bool", new Uint8Array([0]), []),
  ]);
  assertTensorEqual(r.outputs[0], t);
  assertTensorEqual(r.outputs[1], new Tensor("bool", new Uint8Array(15).fill(1), [3, 5]));
  throws(
    () =>
      dropoutOp.inferShapes(node, [
        x([3]),
        undefined,
        { type: "bool", dims: [], value: new Tensor("bool", new Uint8Array([1]), []) },
      ]),
    InvalidArgumentError,
  );
});
