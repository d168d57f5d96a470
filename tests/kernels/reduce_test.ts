/**
 * Reduction kernels against float64 references over [outer, r, inner] views: the contiguous
 * path (inner = 1) across vector-block edges, the strided path across column-block edges, the
 * empty reduction, and ArgMax/ArgMin with ties.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { REDUCE_KINDS } from "../../kernels-as/reduce/kernels.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { argReference, type ReduceOpType, reduceReference } from "../reference/reduce.ts";

type Reduce = (outer: number, r: number, inner: number, x: number, y: number, s: number) => void;

const REFERENCE: Record<string, ReduceOpType> = {
  sum: "ReduceSum",
  sumsq: "ReduceSumSquare",
  sumabs: "ReduceL1",
  max: "ReduceMax",
  min: "ReduceMin",
  prod: "ReduceProd",
  logsumexp: "ReduceLogSumExp",
};

/** (outer, r, inner) views crossing the 16- and 4-wide blocks of both paths. */
const VIEWS: [number, number, number][] = [
  ...[1, 2, 3, 4, 7, 15, 16, 17, 33, 100, 1000].map((r): [number, number, number] => [2, r, 1]),
  ...[2, 3, 4, 5, 15, 16, 17, 33].map((inner): [number, number, number] => [2, 7, inner]),
  [1, 1, 1],
  [3, 20, 19],
  [1, 64, 3136],
];

for (const variant of VARIANTS) {
  Deno.test(`reduce kernels match the reference over awkward views: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    const kinds = [...REDUCE_KINDS.map((k) => k.kind), "logsumexp"];
    for (const kind of kinds) {
      const fn = (kr.fn as unknown as Record<string, Reduce>)[
        kind === "logsumexp" ? "f32_reduce_logsumexp_x8" : `f32_reduce_${kind}_x16`
      ];
      for (const [outer, r, inner] of VIEWS) {
        const x = kind === "prod"
          ? rng.floats(outer * r * inner, 0.9, 1.1)
          : rng.floats(outer * r * inner, -3, 3);
        const px = upload(kr, x);
        const py = kr.arena.alloc(4 * outer * inner);
        fn(outer, r, inner, px, py, 1);
        const want = reduceReference(REFERENCE[kind], x, [outer, r, inner], [1], false).data;
        const tol = kind === "prod"
          ? { rtol: 3e-5 * Math.sqrt(r), atol: 0 }
          : { rtol: 1e-5, atol: 2e-6 * Math.sqrt(r) };
        assertClose(download(kr, py, outer * inner), want, tol, `${kind} ${outer}x${r}x${inner}`);
        kr.arena.free(px);
        kr.arena.free(py);
      }
    }
  });

  Deno.test(`reduce kernels scale sums and write identities for empty reductions: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const px = upload(kr, x);
    const py = kr.arena.alloc(64);
    kr.fn.f32_reduce_sum_x16(1, 9, 1, px, py, 1 / 9);
    assertEquals(download(kr, py, 1)[0], 5);
    kr.fn.f32_reduce_sum_x16(3, 3, 1, px, py, 0.5);
    assertEquals([...download(kr, py, 3)], [3, 7.5, 12]);
    const identity: Record<string, number> = {
      sum: 0,
      sumsq: 0,
      sumabs: 0,
      max: -Infinity,
      min: Infinity,
      prod: 1,
    };
    for (const [kind, want] of Object.entries(identity)) {
      for (const inner of [1, 5, 16]) {
        (kr.fn as unknown as Record<string, Reduce>)[`f32_reduce_${kind}_x16`](
          2,
          0,
          inner,
          px,
          py,
          1,
        );
        assertEquals([...download(kr, py, 2 * inner)], new Array(2 * inner).fill(want), kind);
      }
    }
    for (const inner of [1, 6]) {
      kr.fn.f32_reduce_logsumexp_x8(2, 0, inner, px, py, 1);
      assertEquals([...download(kr, py, 2 * inner)], new Array(2 * inner).fill(-Infinity));
    }
    // Max and min propagate NaN on every path (contiguous, 16- and 4-wide strided, tails).
    for (const [outer, r, inner] of [[1, 37, 1], [1, 5, 16], [1, 5, 4], [1, 5, 3]]) {
      const data = new Float32Array(outer * r * inner).fill(1);
      const nanAt = inner === 1 ? 21 : 2 * inner + inner - 1;
      data[nanAt] = NaN;
      const pd = upload(kr, data);
      for (const kind of ["max", "min"]) {
        (kr.fn as unknown as Record<string, Reduce>)[`f32_reduce_${kind}_x16`](
          outer,
          r,
          inner,
          pd,
          py,
          1,
        );
        const got = download(kr, py, outer * inner);
        const want = reduceReference(
          kind === "max" ? "ReduceMax" : "ReduceMin",
          data,
          [outer, r, inner],
          [1],
          false,
        ).data;
        assertEquals(
          [...got].map((v) => Number.isNaN(v)),
          [...want].map((v) => Number.isNaN(v)),
          `${kind} NaN ${r}x${inner}`,
        );
      }
      kr.arena.free(pd);
    }
    // LogSumExp keeps infinities and never overflows.
    const big = upload(kr, Float32Array.from([1000, 1000, -Infinity, -Infinity, Infinity, 0]));
    kr.fn.f32_reduce_logsumexp_x8(3, 2, 1, big, py, 1);
    assertClose(download(kr, py, 3), [1000 + Math.LN2, -Infinity, Infinity], { rtol: 1e-6 });
    for (const p of [px, py, big]) kr.arena.free(p);
  });

  Deno.test(`f32_argmax_x4 finds first or last extremes with ties: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(37);
    for (
      const [outer, r, inner] of [...VIEWS, [2, 9, 1], [1, 8, 1], [3, 5, 7]] as [
        number,
        number,
        number,
      ][]
    ) {
      // Few distinct values, so ties are common.
      const x = Float32Array.from({ length: outer * r * inner }, () => rng.int(-3, 3));
      const px = upload(kr, x);
      const py = kr.arena.alloc(8 * outer * inner);
      for (let flags = 0; flags < 4; flags++) {
        kr.fn.f32_argmax_x4(outer, r, inner, px, py, flags);
        const got = Array.from(
          new BigInt64Array(kr.arena.memory.buffer, py, outer * inner),
          Number,
        );
        const want = argReference(
          x,
          [outer, r, inner],
          1,
          (flags & 1) === 1,
          (flags & 2) === 2,
          false,
        );
        assertEquals(got, want.data, `argmax flags ${flags} ${outer}x${r}x${inner}`);
      }
      kr.arena.free(px);
      kr.arena.free(py);
    }
  });
}
