import { throws } from "node:assert/strict";
import { ShapeError } from "../../../engine/errors.ts";
import { depthToSpaceOp, spaceToDepthOp } from "../../../engine/ops/depth_to_space.ts";
import { expandOp } from "../../../engine/ops/expand.ts";
import { tileOp } from "../../../engine/ops/tile.ts";
import type { DType } from "../../../engine/tensor.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { depthToSpaceRef, expandRef, spaceToDepthRef, tileRef } from "../../reference/data.ts";
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
  Deno.test(`Expand broadcasts both ways like the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    for (let rep = 0; rep < 50; rep++) {
      const type = TYPES[rep % TYPES.length];
      const rank = rng.int(0, 4);
      const full = randomDims(rng, rng.int(rank, 5), 2000);
      const dims = full.slice(full.length - rank).map((d) => (rng.next() < 0.4 ? 1 : d));
      const shape = full.map((d, i) =>
        i >= full.length - rank && dims[i - (full.length - rank)] === d && rng.next() < 0.3 ? 1 : d
      ).slice(rng.int(0, 1));
      const x = randomTensor(rng, type, dims);
      const { outputs } = runOp(kr, expandOp, makeNode("Expand", 2), [x, i64(shape)]);
      assertTensorEqual(outputs[0], expandRef(x, shape), `${type} ${dims} -> ${shape}`);
    }
  });

  Deno.test(`Tile repeats every axis like the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(32);
    for (let rep = 0; rep < 40; rep++) {
      const type = TYPES[rep % TYPES.length];
      const dims = randomDims(rng, rng.int(1, 4), 300);
      const repeats = dims.map(() => rng.int(0, 3));
      const x = randomTensor(rng, type, dims);
      const { outputs } = runOp(kr, tileOp, makeNode("Tile", 2), [x, i64(repeats)]);
      assertTensorEqual(outputs[0], tileRef(x, repeats), `${type} ${dims} x ${repeats}`);
    }
  });

  Deno.test(`DepthToSpace (DCR, CRD) and SpaceToDepth match the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(33);
    for (const b of [1, 2, 3, 4]) {
      for (const type of ["float32", "int64", "uint8", "float16"] as DType[]) {
        for (const [n, c, h, w] of [[1, 2, 5, 7], [2, 3, 4, 9], [1, 4, 1, 33]]) {
          const x = randomTensor(rng, type, [n, c * b * b, h, w]);
          for (const mode of ["DCR", "CRD"] as const) {
            const node = makeNode("DepthToSpace", 1, 1, { blocksize: b, mode });
            const { outputs } = runOp(kr, depthToSpaceOp, node, [x]);
            assertTensorEqual(outputs[0], depthToSpaceRef(x, b, mode), `${mode} b${b} ${x.dims}`);
          }
          const y = randomTensor(rng, type, [n, c, h * b, w * b]);
          const s2d = makeNode("SpaceToDepth", 1, 1, { blocksize: b });
          const { outputs } = runOp(kr, spaceToDepthOp, s2d, [y]);
          assertTensorEqual(outputs[0], spaceToDepthRef(y, b), `s2d b${b} ${y.dims}`);
        }
      }
    }
  });
}

Deno.test("Expand, Tile, DepthToSpace reject bad inputs with ShapeErrors", () => {
  const f = { type: "float32" as const };
  const v = (vals: number[]) => ({ type: "int64" as const, dims: [vals.length], value: i64(vals) });
  throws(
    () => expandOp.inferShapes(makeNode("Expand", 2), [{ ...f, dims: [3, 2] }, v([3, 4])]),
    /cannot broadcast/,
  );
  throws(
    () => tileOp.inferShapes(makeNode("Tile", 2), [{ ...f, dims: [3, 2] }, v([3])]),
    /repeats/,
  );
  const d2s = makeNode("DepthToSpace", 1, 1, { blocksize: 2 });
  throws(
    () => depthToSpaceOp.inferShapes(d2s, [{ ...f, dims: [1, 6, 2, 2] }]),
    (e: Error) => e instanceof ShapeError && e.message.includes(d2s.name),
  );
  throws(
    () =>
      spaceToDepthOp.inferShapes(makeNode("SpaceToDepth", 1, 1, { blocksize: 2 }), [{
        ...f,
        dims: [1, 1, 3, 4],
      }]),
    /divisible/,
  );
});

Deno.test("Expand and Tile handle zero-size tensors and fold shape values", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(4);
  const z = randomTensor(rng, "float32", [0, 3]);
  const r = runOp(kr, expandOp, makeNode("Expand", 2), [z, i64([2, 1, 3])]);
  assertTensorEqual(r.outputs[0], expandRef(z, [2, 1, 3]));
  const t = runOp(kr, tileOp, makeNode("Tile", 2), [i64([4, 5]), i64([3])], { known: [0, 1] });
  assertTensorEqual(t.inferred[0].value!, i64([4, 5, 4, 5, 4, 5]));
});
