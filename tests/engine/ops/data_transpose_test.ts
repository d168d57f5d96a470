import { throws } from "node:assert/strict";
import { ShapeError } from "../../../engine/errors.ts";
import { transposeOp } from "../../../engine/ops/transpose.ts";
import type { DType } from "../../../engine/tensor.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { transposeRef } from "../../reference/data.ts";
import {
  assertTensorEqual,
  makeNode,
  Random,
  randomDims,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

const TYPES: DType[] = ["float32", "int64", "float16", "uint8", "int32", "bool"];

function shuffle(rng: Random, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

for (const variant of VARIANTS) {
  Deno.test(`Transpose matches the reference over ranks 0-5 and every type: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(101);
    for (let rep = 0; rep < 60; rep++) {
      const rank = rep % 6;
      const type = TYPES[rep % TYPES.length];
      const dims = randomDims(rng, rank, 3000);
      const perm = shuffle(rng, rank);
      const x = randomTensor(rng, type, dims);
      const node = makeNode("Transpose", 1, 1, rep % 5 === 0 ? {} : { perm });
      const p = rep % 5 === 0 ? perm.map((_, i) => rank - 1 - i) : perm;
      const { outputs } = runOp(kr, transposeOp, node, [x]);
      assertTensorEqual(outputs[0], transposeRef(x, p), `${type} ${dims} perm ${p}`);
    }
  });

  Deno.test(`Transpose fast paths (NCHW<->NHWC, last-two swap, blocks): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(7);
    const cases: [number[], number[]][] = [
      [[1, 64, 13, 11], [0, 2, 3, 1]],
      [[2, 3, 17, 5], [0, 2, 3, 1]],
      [[1, 13, 11, 64], [0, 3, 1, 2]],
      [[3, 67, 65], [0, 2, 1]],
      [[130, 129], [1, 0]],
      [[4, 4], [1, 0]],
      [[2, 9, 2, 33], [0, 3, 2, 1]],
      [[5, 2, 7, 3, 4], [4, 2, 0, 3, 1]],
      [[1, 1, 1], [2, 0, 1]],
    ];
    for (const [dims, perm] of cases) {
      for (const type of ["float32", "int64", "uint8", "float16"] as DType[]) {
        const x = randomTensor(rng, type, dims);
        const { outputs } = runOp(kr, transposeOp, makeNode("Transpose", 1, 1, { perm }), [x]);
        assertTensorEqual(outputs[0], transposeRef(x, perm), `${type} ${dims} perm ${perm}`);
      }
    }
  });
}

Deno.test("Transpose handles zero-size dims and folds known values", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(3);
  const x = randomTensor(rng, "float32", [3, 0, 2]);
  const { outputs } = runOp(kr, transposeOp, makeNode("Transpose", 1, 1, { perm: [2, 0, 1] }), [x]);
  assertTensorEqual(outputs[0], transposeRef(x, [2, 0, 1]));
  const y = randomTensor(rng, "int64", [2, 3]);
  const r = runOp(kr, transposeOp, makeNode("Transpose", 1), [y], { known: [0] });
  assertTensorEqual(r.inferred[0].value!, transposeRef(y, [1, 0]), "folded");
});

Deno.test("Transpose rejects a bad perm with a ShapeError naming the node", () => {
  const node = makeNode("Transpose", 1, 1, { perm: [0, 0, 1] });
  throws(
    () => transposeOp.inferShapes(node, [{ type: "float32", dims: [1, 2, 3] }]),
    (e: Error) => e instanceof ShapeError && e.message.includes(`Node "${node.name}" (Transpose)`),
  );
});
