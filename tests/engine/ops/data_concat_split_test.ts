import { throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { concatOp } from "../../../engine/ops/concat.ts";
import { splitOp } from "../../../engine/ops/split.ts";
import type { DType } from "../../../engine/tensor.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { concatRef, splitRef } from "../../reference/data.ts";
import {
  assertTensorEqual,
  i64,
  makeNode,
  Random,
  randomDims,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

const TYPES: DType[] = ["float32", "int64", "float16", "uint8", "int32", "bool"];

for (const variant of VARIANTS) {
  Deno.test(`Concat matches the reference on every axis (negative too): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(11);
    for (let rep = 0; rep < 50; rep++) {
      const rank = 1 + (rep % 5);
      const type = TYPES[rep % TYPES.length];
      const base = randomDims(rng, rank, 800);
      const axis = rng.int(0, rank - 1);
      const count = rng.int(1, 4);
      const xs = Array.from({ length: count }, () => {
        const d = [...base];
        d[axis] = rng.int(0, 5);
        return randomTensor(rng, type, d);
      });
      const attr = rep % 2 ? axis - rank : axis;
      const node = makeNode("Concat", count, 1, { axis: attr });
      const { outputs } = runOp(kr, concatOp, node, xs, { known: [] });
      assertTensorEqual(outputs[0], concatRef(xs, axis), `${type} ${base} axis ${attr}`);
    }
  });

  Deno.test(`Split matches the reference (attr, input, num_outputs, even): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(12);
    for (let rep = 0; rep < 40; rep++) {
      const rank = 1 + (rep % 4);
      const type = TYPES[rep % TYPES.length];
      const dims = randomDims(rng, rank, 1000);
      const axis = rng.int(0, rank - 1);
      const d = dims[axis];
      const form = rep % 4;
      let sizes: number[];
      let node;
      let inputs = [randomTensor(rng, type, dims)];
      if (form === 0 || form === 1) {
        const n = rng.int(1, 3);
        sizes = Array.from({ length: n }, () => 0);
        for (let i = 0; i < d; i++) sizes[rng.int(0, n - 1)]++;
        if (form === 0) node = makeNode("Split", 1, n, { axis, split: sizes });
        else {
          node = makeNode("Split", 2, n, { axis: axis - rank });
          inputs = [...inputs, i64(sizes)];
        }
      } else if (form === 2) {
        const n = rng.int(1, Math.min(d, 4));
        const chunk = Math.ceil(d / n);
        sizes = Array.from({ length: n }, (_, i) => Math.min(chunk, d - i * chunk));
        if (sizes.some((s) => s < 0)) continue;
        node = makeNode("Split", 1, n, { axis, num_outputs: n });
      } else {
        const n = [1, 2, 3, 5, 7].filter((k) => d % k === 0).pop()!;
        sizes = new Array(n).fill(d / n);
        node = makeNode("Split", 1, n, { axis });
      }
      const { outputs } = runOp(kr, splitOp, node, inputs);
      const want = splitRef(inputs[0], axis, sizes);
      want.forEach((w, i) => assertTensorEqual(outputs[i], w, `${type} ${dims} ${sizes} #${i}`));
    }
  });
}

Deno.test("Concat folds int64 shape tensors and keeps zero-size inputs", async () => {
  const kr = await kernelsFor("simd");
  const a = i64([1, 3]);
  const b = i64([]);
  const c = i64([-1]);
  const r = runOp(kr, concatOp, makeNode("Concat", 3, 1, { axis: 0 }), [a, b, c], {
    known: [0, 1, 2],
  });
  assertTensorEqual(r.inferred[0].value!, i64([1, 3, -1]), "folded");
  assertTensorEqual(r.outputs[0], i64([1, 3, -1]), "run");
});

Deno.test("Concat and Split reject bad shapes and types with typed errors", () => {
  const node = makeNode("Concat", 2, 1, { axis: 1 });
  throws(
    () =>
      concatOp.inferShapes(node, [
        { type: "float32", dims: [2, 3] },
        { type: "float32", dims: [3, 3] },
      ]),
    (e: Error) => e instanceof ShapeError && e.message.includes(`Node "${node.name}"`),
  );
  throws(
    () =>
      concatOp.inferShapes(node, [{ type: "float32", dims: [2, 3] }, {
        type: "int64",
        dims: [2, 3],
      }]),
    DTypeError,
  );
  throws(
    () => concatOp.inferShapes(node, [{ type: "float32", dims: [2] }]),
    /axis 1 is out of range/,
  );
  const split = makeNode("Split", 1, 2, { axis: 0, split: [1, 3] });
  throws(() => splitOp.inferShapes(split, [{ type: "float32", dims: [5] }]), /does not add up/);
  throws(
    () => splitOp.inferShapes(makeNode("Split", 1, 2), [{ type: "float32", dims: [5] }]),
    /does not split evenly/,
  );
  throws(
    () =>
      splitOp.inferShapes(makeNode("Split", 2, 2), [
        { type: "float32", dims: [5] },
        { type: "int64", dims: [2] },
      ]),
    /must be known at load time/,
  );
});
