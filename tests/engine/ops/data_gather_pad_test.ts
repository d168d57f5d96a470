import { throws } from "node:assert/strict";
import { DTypeError, InvalidArgumentError, ShapeError } from "../../../engine/errors.ts";
import { gatherElementsOp, gatherOp } from "../../../engine/ops/gather.ts";
import { padOp } from "../../../engine/ops/pad.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { gatherElementsRef, gatherRef, padRef } from "../../reference/data.ts";
import {
  assertTensorEqual,
  f32,
  i64,
  makeNode,
  Random,
  randomDims,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

const TYPES: DType[] = ["float32", "int64", "float16", "uint8", "int32", "bool"];

function indexTensor(type: "int64" | "int32", values: number[], dims: number[]): Tensor {
  return type === "int64"
    ? new Tensor(type, BigInt64Array.from(values, BigInt), dims)
    : new Tensor(type, Int32Array.from(values), dims);
}

for (const variant of VARIANTS) {
  Deno.test(`Gather matches the reference (axes, negative, scalar indices): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(41);
    for (let rep = 0; rep < 60; rep++) {
      const type = TYPES[rep % TYPES.length];
      const dims = randomDims(rng, rng.int(1, 4), 1500);
      const axis = rng.int(0, dims.length - 1);
      const idxDims = randomDims(rng, rng.int(0, 2), 20);
      const n = idxDims.reduce((a, b) => a * b, 1);
      const len = dims[axis];
      const values = Array.from({ length: n }, () => rng.int(-len, len - 1));
      const x = randomTensor(rng, type, dims);
      const ind = indexTensor(rep % 2 ? "int64" : "int32", values, idxDims);
      const node = makeNode("Gather", 2, 1, { axis: rng.next() < 0.5 ? axis : axis - dims.length });
      const { outputs } = runOp(kr, gatherOp, node, [x, ind], { known: [] });
      assertTensorEqual(
        outputs[0],
        gatherRef(x, values, idxDims, axis),
        `${type} ${dims} @${axis}`,
      );
    }
  });

  Deno.test(`Pad matches numpy.pad for every mode, crops and axes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(42);
    const modes = ["constant", "reflect", "edge", "wrap"] as const;
    for (let rep = 0; rep < 80; rep++) {
      const type = TYPES[rep % TYPES.length];
      const mode = modes[rep % 4];
      const dims = randomDims(rng, rng.int(1, 4), 1500).map((d) => Math.max(d, 2));
      const pads = [...dims, ...dims].map((d) =>
        rng.int(-Math.min(1, d - 2), mode === "reflect" ? 3 : 4)
      );
      const x = randomTensor(rng, type, dims);
      const value = type === "float32" ? 1.5 : type === "bool" ? 1 : 7;
      const cv = mode === "constant" && rep % 3 === 0
        ? new Tensor("float32", new Float32Array([value]), [])
        : undefined;
      const useCv = cv && type === "float32";
      const node = makeNode("Pad", useCv ? 3 : 2, 1, { mode });
      const inputs = useCv ? [x, i64(pads), cv] : [x, i64(pads)];
      const { outputs } = runOp(kr, padOp, node, inputs);
      const want = padRef(x, pads, mode, useCv ? value : 0);
      assertTensorEqual(outputs[0], want, `${type} ${mode} ${dims} pads ${pads}`);
    }
  });
}

Deno.test("GatherElements matches the reference", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(43);
  for (let rep = 0; rep < 30; rep++) {
    const type = TYPES[rep % TYPES.length];
    const dims = randomDims(rng, rng.int(1, 4), 600);
    const axis = rng.int(0, dims.length - 1);
    const idxDims = dims.map((d, k) => (k === axis ? rng.int(0, 5) : rng.int(1, d)));
    const n = idxDims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => rng.int(-dims[axis], dims[axis] - 1));
    const x = randomTensor(rng, type, dims);
    const node = makeNode("GatherElements", 2, 1, { axis });
    const r = runOp(kr, gatherElementsOp, node, [x, i64(values, idxDims)], { known: [] });
    assertTensorEqual(
      r.outputs[0],
      gatherElementsRef(x, values, idxDims, axis),
      `${dims} @${axis}`,
    );
  }
});

Deno.test("Gather folds shape tensors and rejects bad indices", async () => {
  const kr = await kernelsFor("simd");
  const shape = i64([1, 3, 224, 224]);
  const r = runOp(kr, gatherOp, makeNode("Gather", 2), [shape, i64([2], [])], { known: [0, 1] });
  assertTensorEqual(r.inferred[0].value!, i64([224], []));
  const node = makeNode("Gather", 2);
  throws(
    () => runOp(kr, gatherOp, node, [f32([1, 2, 3]), i64([3])], { known: [] }),
    (e: Error) =>
      e instanceof InvalidArgumentError && e.message.includes(node.name) &&
      /index 3/.test(e.message),
  );
  throws(
    () =>
      gatherOp.inferShapes(node, [{ type: "float32", dims: [3] }, { type: "float32", dims: [1] }]),
    DTypeError,
  );
  throws(
    () =>
      gatherOp.inferShapes(makeNode("Gather", 2, 1, { axis: 2 }), [
        { type: "float32", dims: [3, 2] },
        { type: "int64", dims: [1] },
      ]),
    ShapeError,
  );
});

Deno.test("Pad: attribute form (opset < 11), zero-size input, bad pads", async () => {
  const kr = await kernelsFor("scalar");
  const rng = new Random(44);
  const x = randomTensor(rng, "float32", [2, 3, 4]);
  const pads = [0, 1, 2, 1, 0, 3];
  const node = makeNode("Pad", 1, 1, { pads, value: -2.5 });
  assertTensorEqual(runOp(kr, padOp, node, [x]).outputs[0], padRef(x, pads, "constant", -2.5));
  const z = randomTensor(rng, "int64", [0, 3]);
  const zp = [1, 0, 1, 2];
  assertTensorEqual(
    runOp(kr, padOp, makeNode("Pad", 2), [z, i64(zp)]).outputs[0],
    padRef(z, zp, "constant"),
  );
  const axes = makeNode("Pad", 4, 1, { mode: "edge" });
  const r = runOp(kr, padOp, axes, [x, i64([2, 1]), undefined, i64([-1])]);
  assertTensorEqual(r.outputs[0], padRef(x, [0, 0, 2, 0, 0, 1], "edge"));
  const info = { type: "float32" as const, dims: [2, 3] };
  const v = (vals: number[]) => ({ type: "int64" as const, dims: [vals.length], value: i64(vals) });
  throws(() => padOp.inferShapes(makeNode("Pad", 2), [info, v([1, 1])]), /must have 4 values/);
  throws(() => padOp.inferShapes(makeNode("Pad", 2), [info, v([-3, 0, 0, 0])]), /crop more/);
  throws(
    () =>
      padOp.inferShapes(makeNode("Pad", 2, 1, { mode: "reflect" }), [
        { ...info, dims: [0, 3] },
        v([1, 0, 0, 0]),
      ]),
    /non-empty/,
  );
  throws(
    () => padOp.inferShapes(makeNode("Pad", 2, 1, { mode: "symmetric" }), [info, v([0, 0, 0, 0])]),
    ShapeError,
  );
});

Deno.test("Pad: pads many times the axis length bounce, repeat and wrap like numpy.pad", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(44);
  for (const mode of ["reflect", "edge", "wrap"] as const) {
    for (let rep = 0; rep < 12; rep++) {
      const dims = [rng.int(1, 3), rng.int(1, 5)];
      const pads = [0, rng.int(0, 23), rng.int(0, 2), rng.int(0, 19)];
      const x = randomTensor(rng, "float32", dims);
      const node = makeNode("Pad", 2, 1, { mode });
      const { outputs } = runOp(kr, padOp, node, [x, i64(pads)]);
      assertTensorEqual(outputs[0], padRef(x, pads, mode), `${mode} ${dims} pads ${pads}`);
    }
  }
});

Deno.test("Pad: an output too large for any arena fails at shape inference, at once", () => {
  const info = { type: "float32" as const, dims: [1, 4, 8, 8] };
  const pads = { type: "int64" as const, dims: [8], value: i64([0, 0, 2 ** 31, 0, 0, 0, 0, 0]) };
  for (const mode of ["constant", "reflect", "edge", "wrap"]) {
    throws(
      () => padOp.inferShapes(makeNode("Pad", 2, 1, { mode }), [info, pads]),
      (e) => e instanceof ShapeError && /output/.test(e.message),
    );
  }
});
