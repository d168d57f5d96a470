/**
 * Mutated model bytes (bit flips, truncations, splices, overwritten lengths) with a fixed
 * seed: every case loads and runs, or throws one of our typed errors, within a time bound.
 */
import { ok } from "node:assert/strict";
import { QuartetError } from "../../../../engine/errors.ts";
import { loadModel } from "../../../../engine/model.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { buildModel } from "../../../_onnx_builder.ts";
import { Random } from "../../../_random.ts";

Deno.test("fuzz: 2000 mutated models load-and-run or fail with typed errors, quickly", async () => {
  const rng = new Random(2024);
  const base = buildModel({
    nodes: [
      {
        op: "Conv",
        inputs: ["x", "w", "b"],
        outputs: ["c"],
        attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
      { op: "Relu", inputs: ["c"], outputs: ["r"] },
      { op: "Reshape", inputs: ["r", "shape"], outputs: ["f"] },
      { op: "Gemm", inputs: ["f", "fw", "fb"], outputs: ["y"], attributes: { transB: 1 } },
    ],
    inputs: [{ name: "x", dims: [1, 2, 4, 4] }],
    outputs: [{ name: "y", dims: [1, 3] }],
    initializers: {
      w: new Tensor("float32", rng.floats(4 * 2 * 9), [4, 2, 3, 3]),
      b: new Tensor("float32", rng.floats(4), [4]),
      shape: new Tensor("int64", new BigInt64Array([1n, 64n]), [2]),
      fw: new Tensor("float32", rng.floats(3 * 64), [3, 64]),
      fb: new Tensor("float32", rng.floats(3), [3]),
    },
  });
  const x = new Tensor("float32", rng.floats(32), [1, 2, 4, 4]);
  let loaded = 0;
  let typed = 0;
  let slowest = 0;
  for (let i = 0; i < 2000; i++) {
    const m = base.slice();
    const kind = rng.int(0, 3);
    if (kind === 0) {
      for (let f = rng.int(1, 4); f > 0; f--) m[rng.int(0, m.length - 1)] ^= 1 << rng.int(0, 7);
    } else if (kind === 1) {
      m.fill(0, rng.int(0, m.length - 1));
    } else if (kind === 2) {
      const a = rng.int(0, m.length - 1);
      const b = rng.int(0, m.length - 1);
      m.copyWithin(a, b, Math.min(m.length, b + rng.int(1, 64)));
    } else {
      // A length-prefix byte set to something large.
      m[rng.int(0, m.length - 1)] = rng.int(0x80, 0xff);
    }
    const bytes = kind === 1 ? m.subarray(0, rng.int(0, m.length)) : m;
    const t0 = performance.now();
    try {
      const model = await loadModel(bytes);
      try {
        await model.run({ [model.inputNames[0] ?? "x"]: x });
      } catch (e) {
        if (!(e instanceof QuartetError)) throw e;
      }
      model.dispose();
      loaded++;
    } catch (e) {
      if (!(e instanceof QuartetError)) {
        throw new Error(
          `case ${i} (kind ${kind}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`,
        );
      }
      typed++;
    }
    slowest = Math.max(slowest, performance.now() - t0);
  }
  ok(slowest < 2000, `slowest case took ${slowest.toFixed(0)} ms`);
  console.log(`${loaded} loaded, ${typed} typed errors, slowest ${slowest.toFixed(1)} ms`);
});
