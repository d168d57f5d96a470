import { deepStrictEqual, throws } from "node:assert/strict";
import { ModelFormatError } from "../../../engine/errors.ts";
import {
  c4nSurvivors,
  detectC4n,
  packC4n,
  unpackC4n,
  validateC4n,
} from "../../../engine/weights/c4n.ts";
import { Random } from "../../_random.ts";
import { c4nWeights } from "../../reference/sparse.ts";

Deno.test("C4n detection is exact: one non-conforming group lowers n", () => {
  const rng = new Random(3);
  for (const n of [1, 2, 3]) {
    const w = c4nWeights(rng, 6, 18, n);
    deepStrictEqual(detectC4n(w, 6, 18), n);
    // Fill one zero of one group: that group now has n - 1 zeros.
    const i = w.findIndex((v, j) => v === 0 && j % 18 < 16);
    w[i] = 1;
    deepStrictEqual(detectC4n(w, 6, 18), n - 1);
  }
  deepStrictEqual(detectC4n(new Float32Array(3), 1, 3), 0); // no full group
  deepStrictEqual(detectC4n(new Float32Array(8), 1, 8), 3); // all zeros: the most n there is
});

Deno.test("C4n packing round-trips exactly, tail groups stay dense", () => {
  const rng = new Random(5);
  for (const n of [1, 2, 3]) {
    for (const [m, k] of [[1, 4], [3, 7], [5, 64], [2, 1], [4, 130]]) {
      const w = c4nWeights(rng, m, k, n);
      const p = packC4n(w, m, k, n);
      deepStrictEqual(p.s, c4nSurvivors(k, n));
      deepStrictEqual([...unpackC4n(p)], [...w], `n=${n} ${m}x${k}`);
    }
  }
  throws(() => packC4n(new Float32Array([1, 2, 3, 0]), 1, 4, 2), RangeError);
});

Deno.test("corrupt C4n metadata is rejected before any kernel reads it", () => {
  const rng = new Random(8);
  const p = packC4n(c4nWeights(rng, 3, 12, 2), 3, 12, 2);
  const bad = (mutate: (q: typeof p) => void, pattern: RegExp) => {
    const q = { ...p, pairs: p.pairs.slice() };
    mutate(q);
    throws(
      () => validateC4n(q, 'layer "fc"'),
      (e) => e instanceof ModelFormatError && pattern.test(e.message) && /"fc"/.test(e.message),
    );
  };
  bad((q) => (q.pairs[1] = 99), /outside its group/);
  bad((q) => (q.pairs[1] = -4), /outside its group/);
  bad((q) => (q.pairs[3] = q.pairs[1]), /repeats index/);
  bad((q) => (q.pairs = q.pairs.subarray(0, 10)), /survivors stored/);
  bad((q) => (q.s = 5), /survivors per row/);
  bad((q) => (q.n = 4), /n is 4/);
});
