import { ok, throws } from "node:assert/strict";
import { ShapeError } from "../../../engine/errors.ts";
import { sliceOp } from "../../../engine/ops/slice.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { sliceRef } from "../../reference/data.ts";
import {
  assertTensorEqual,
  i64,
  makeNode,
  Random,
  randomDims,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

const TYPES: DType[] = ["float32", "int64", "float16", "uint8", "int32"];
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

class Tensor64 extends Tensor<"int64"> {
  constructor(v: bigint[]) {
    super("int64", BigInt64Array.from(v), [v.length]);
  }
}

for (const variant of VARIANTS) {
  Deno.test(`Slice matches the reference: negatives, clamping, steps: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(21);
    for (let rep = 0; rep < 80; rep++) {
      const rank = 1 + (rep % 5);
      const type = TYPES[rep % TYPES.length];
      const dims = randomDims(rng, rank, 2000);
      const x = randomTensor(rng, type, dims);
      const nAxes = rng.int(1, rank);
      const axes = [...Array(rank).keys()].sort(() => rng.next() - 0.5).slice(0, nAxes);
      const starts: number[] = [];
      const ends: number[] = [];
      const steps: number[] = [];
      for (const a of axes) {
        const d = dims[a];
        starts.push(rng.int(-d - 2, d + 2));
        ends.push(rng.int(-d - 2, d + 2));
        steps.push([1, 1, 2, 3, -1, -2][rng.int(0, 5)]);
      }
      const negAxes = axes.map((a) => (rng.next() < 0.3 ? a - rank : a));
      const want = sliceRef(x, starts, ends, negAxes, steps);
      const node = makeNode("Slice", 5);
      const { outputs } = runOp(kr, sliceOp, node, [
        x,
        i64(starts),
        i64(ends),
        i64(negAxes),
        i64(steps),
      ]);
      assertTensorEqual(outputs[0], want, `${type} ${dims} ${starts}:${ends}:${steps} @${negAxes}`);
    }
  });
}

Deno.test("Slice accepts INT64 sentinels, omitted axes/steps, and the opset-1 attribute form", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(5);
  const x = randomTensor(rng, "float32", [4, 7, 5]);
  const starts = new Tensor64([1n, INT64_MIN]);
  const ends = new Tensor64([INT64_MAX, -2n]);
  const r = runOp(kr, sliceOp, makeNode("Slice", 3), [x, starts, ends]);
  assertTensorEqual(r.outputs[0], sliceRef(x, [1, -1e19], [1e19, -2]));
  // Reverse a whole axis with the sentinels exporters write for x[::-1].
  const rev = runOp(kr, sliceOp, makeNode("Slice", 5), [
    x,
    new Tensor64([-1n]),
    new Tensor64([INT64_MIN]),
    i64([1]),
    i64([-1]),
  ]);
  assertTensorEqual(rev.outputs[0], sliceRef(x, [-1], [-1e19], [1], [-1]));
  const attr = makeNode("Slice", 1, 1, { starts: [0, 2], ends: [-1, 100], axes: [2, 1] });
  const a = runOp(kr, sliceOp, attr, [x]);
  assertTensorEqual(a.outputs[0], sliceRef(x, [0, 2], [-1, 100], [2, 1]));
  const empty = runOp(kr, sliceOp, makeNode("Slice", 3), [x, i64([3]), i64([1])]);
  assertTensorEqual(empty.outputs[0], sliceRef(x, [3], [1]));
});

Deno.test("Slice folds known int64 shape tensors", async () => {
  const kr = await kernelsFor("simd");
  const shape = i64([1, 3, 224, 224]);
  const r = runOp(kr, sliceOp, makeNode("Slice", 3), [shape, i64([2]), i64([4])], {
    known: [0, 1, 2],
  });
  assertTensorEqual(r.inferred[0].value!, i64([224, 224]));
});

Deno.test("Slice rejects bad parameters with ShapeErrors naming the node", () => {
  const node = makeNode("Slice", 5);
  const x = { type: "float32" as const, dims: [4, 5] };
  const info = (v: number[]) => ({ type: "int64" as const, dims: [v.length], value: i64(v) });
  throws(
    () => sliceOp.inferShapes(node, [x, info([0]), info([2]), info([0]), info([0])]),
    (e: Error) =>
      e instanceof ShapeError && /step 0/.test(e.message) && e.message.includes(node.name),
  );
  throws(
    () => sliceOp.inferShapes(node, [x, info([0]), info([2]), info([2]), info([1])]),
    /out of range/,
  );
  throws(
    () => sliceOp.inferShapes(node, [x, info([0, 1]), info([2]), undefined, undefined]),
    /same length/,
  );
  throws(
    () => sliceOp.inferShapes(node, [x, { type: "int64", dims: [1] }, info([2])]),
    /must be known at load time/,
  );
});

Deno.test("Slice of whole rows of a constant folds to a view of its values; strided ones copy", () => {
  const node = makeNode("Slice", 4);
  const data = Float32Array.from({ length: 6 * 5 }, (_, i) => i * 0.5 - 3);
  const x = { type: "float32" as const, dims: [6, 5], value: new Tensor("float32", data, [6, 5]) };
  const info = (v: number[]) => ({ type: "int64" as const, dims: [v.length], value: i64(v) });
  // Rows 2..4: one contiguous run, shared with the input (weights sliced into gates).
  const fold = (...params: ReturnType<typeof info>[]) =>
    (sliceOp.inferShapes(node, [x, ...params])[0] as { value?: Tensor }).value!;
  const rows = fold(info([2]), info([5]), info([0]));
  const want = sliceRef(new Tensor("float32", data, [6, 5]), [2], [5], [0], [1]);
  assertTensorEqual(rows, want);
  ok((rows.data as Float32Array).buffer === data.buffer, "rows share the input's buffer");
  // Columns 1..3 of every row: strided, so a copy of its own.
  const cols = fold(info([1]), info([4]), info([1]));
  assertTensorEqual(cols, sliceRef(new Tensor("float32", data, [6, 5]), [1], [4], [1], [1]));
  ok((cols.data as Float32Array).buffer !== data.buffer, "strided columns are copied");
});
