/**
 * `sparseEnough` decides whether a model loads the sparse formats at all: a weight with at
 * least a quarter zeros must be found however its zeros are arranged, large or small, and one
 * with fewer must not, whatever the sampling that rejects dense weights early sees.
 */
import { strictEqual } from "node:assert/strict";
import { Tensor } from "../../../engine/tensor.ts";
import { MIN_SPARSE_ZEROS, sparseEnough } from "../../../engine/weights/sparse_packers.ts";
import { Random } from "../../_random.ts";

function weights(n: number, zero: (i: number, rng: Random) => boolean, seed = 1): Tensor {
  const rng = new Random(seed);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = zero(i, rng) ? 0 : rng.uniform(0.1, 1) * (rng.next() < 0.5 ? -1 : 1);
  }
  return new Tensor("float32", d, [n]);
}

Deno.test("a quarter zeros is found in every arrangement and size; fewer is not", () => {
  strictEqual(MIN_SPARSE_ZEROS, 0.25);
  for (const n of [16, 17, 4095, 4096, 65537, 1_000_003]) {
    const quarter = Math.ceil(n / 4);
    // The expected answer, or undefined where the exact count alone decides (random zeros).
    const cases: [string, (i: number, rng: Random) => boolean, boolean | undefined][] = [
      ["dense", () => false, false],
      ["one in every group of 4 (C4,1)", (i) => i % 4 === 0, true],
      ["one in every group of 4, second", (i) => i % 4 === 1, undefined],
      ["one in every group of 4, third", (i) => i % 4 === 2, undefined],
      ["one in every group of 4, fourth", (i) => i % 4 === 3, undefined],
      ["the first quarter", (i) => i < quarter, true],
      ["the last quarter", (i) => i >= n - quarter, true],
      ["blocks of 64 zeros, two in every four", (i) => (i >> 6) % 4 >= 2, n >= 256],
      ["random, 30 %", (_, rng) => rng.next() < 0.3, n > 4000 ? true : undefined],
      ["random, 20 %", (_, rng) => rng.next() < 0.2, n > 4000 ? false : undefined],
      ["one short of a quarter", (i) => i < quarter - 1, false],
      ["-0 counts as zero", (i) => i % 4 === 0, true],
    ];
    for (const [what, zero, want] of cases) {
      const t = weights(n, zero);
      if (what.startsWith("-0")) {
        const d = t.data as Float32Array;
        for (let i = 0; i < n; i += 4) d[i] = -0;
      }
      // The exact count is the reference.
      const zeros = (t.data as Float32Array).reduce((s, v) => s + (v === 0 ? 1 : 0), 0);
      const exact = zeros >= Math.ceil(n * 0.25);
      if (want !== undefined) strictEqual(exact, want, `${what}, n = ${n}: the case itself`);
      strictEqual(sparseEnough(t), exact, `${what}, n = ${n}`);
    }
  }
});

Deno.test("only float32 tensors of 16 or more values count", () => {
  strictEqual(sparseEnough(new Tensor("float32", new Float32Array(15), [15])), false);
  strictEqual(sparseEnough(new Tensor("float32", new Float32Array(16), [16])), true);
  strictEqual(sparseEnough(new Tensor("int32", new Int32Array(64), [64])), false);
});
