import {
  blockGemvArgs,
  detectBlockSparse,
  packBlockSparse,
  type PackedBlockSparse,
  releaseBlockSparse,
  unpackBlockSparse,
  uploadBlockSparse,
  validateBlockSparse,
} from "../../engine/weights/block_sparse.ts";
import { ModelFormatError } from "../../engine/errors.ts";
import { activationCode } from "../../kernels-as/activations.ts";
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { gemmReference, transpose2d } from "../reference/gemm.ts";
import { type BlockSparseWeightOptions, blockSparseWeights } from "../reference/block_sparse.ts";

interface Case {
  m: number;
  k: number;
  /** Generator options (its block grid may differ from the packer's on purpose). */
  gen: BlockSparseWeightOptions;
  /** Packer block width. */
  bc?: number;
}

const half = { rowKeep: 0.5, colKeep: 0.5 };
const CASES: Case[] = [
  { m: 1, k: 1, gen: { rowKeep: 1, colKeep: 1 } },
  { m: 5, k: 0, gen: half }, // no columns: y = act(bias)
  { m: 1, k: 7, gen: { rowKeep: 1, colKeep: 0.5, bc: 4 }, bc: 4 },
  { m: 7, k: 1, gen: { rowKeep: 0.5, colKeep: 1 } },
  { m: 3, k: 5, gen: half },
  { m: 13, k: 29, gen: { ...half, br: 4, bc: 8 }, bc: 8 },
  { m: 16, k: 16, gen: half, bc: 4 },
  { m: 17, k: 257, gen: { ...half, bc: 64 }, bc: 128 },
  { m: 31, k: 131, gen: { rowKeep: 1, colKeep: 0.3, bc: 32 }, bc: 32 }, // columns only
  { m: 47, k: 130, gen: { rowKeep: 0.3, colKeep: 1, bc: 64 }, bc: 64 }, // rows only
  { m: 40, k: 77, gen: { rowKeep: 0.7, colKeep: 0.6, bc: 16 }, bc: 16 }, // 11 rows: 3 vectors
  { m: 16, k: 23, gen: { rowKeep: 0.7, colKeep: 1, bc: 23 }, bc: 23 }, // 3 vectors, odd columns
  { m: 50, k: 300, gen: { rowKeep: 0.9, colKeep: 0.6, bc: 100 }, bc: 100 }, // 14 of 16 rows
  { m: 61, k: 509, gen: { ...half, blockKeep: 0.4, bc: 128 }, bc: 128 }, // empty blocks
  { m: 64, k: 96, gen: { rowKeep: 0, colKeep: 0 } }, // all zeros
  { m: 100, k: 1000, gen: { rowKeep: 0.25, colKeep: 0.75, br: 8, bc: 200 } },
  { m: 1000, k: 1031, gen: half },
];

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_block_16 equals the dense mat-vec of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    for (const { m, k, gen, bc } of CASES) {
      const w = blockSparseWeights(rng, m, k, gen);
      const x = rng.floats(k);
      const bias = rng.floats(m);
      const p = packBlockSparse(w, m, k, { bc });
      const pw = uploadBlockSparse(kr, p, `${m}x${k}`);
      const px = upload(kr, x);
      const pb = upload(kr, bias);
      const py = kr.arena.alloc(m * 4);
      const wt = transpose2d(w, m, k);
      const what = `${m}x${k} bc=${bc ?? "default"}`;
      kr.fn.f32_gemv_block_16(...blockGemvArgs(pw, px, py));
      assertClose(download(kr, py, m), gemmReference(x, wt, 1, k, m), tolerance(k), what);
      const relu = (v: number) => Math.max(v, 0);
      kr.fn.f32_gemv_block_16(
        ...blockGemvArgs(pw, px, py, { bias: pb, act: activationCode("clamp"), p1: Infinity }),
      );
      const want = gemmReference(x, wt, 1, k, m, bias, relu);
      assertClose(download(kr, py, m), want, tolerance(k), `${what} bias relu`);
      // A row range: the middle bands only; rows outside keep their sentinel.
      if (pw.bands >= 3) {
        const [b0, nb] = [1, pw.bands - 2];
        kr.arena.f32(py, m).fill(-7);
        kr.fn.f32_gemv_block_16(
          ...blockGemvArgs(pw, px, py, {
            bias: pb,
            act: activationCode("clamp"),
            p1: Infinity,
            bands: [b0, nb],
          }),
        );
        const got = download(kr, py, m);
        const lo = 16 * b0;
        const hi = Math.min(m, 16 * (b0 + nb));
        assertClose(got.subarray(lo, hi), want.subarray(lo, hi), tolerance(k), `${what} bands`);
        for (let i = 0; i < m; i++) if (i < lo || i >= hi) equal(got[i], -7, `${what} row ${i}`);
      }
      releaseBlockSparse(kr, pw);
      for (const o of [px, pb, py]) kr.arena.free(o);
    }
  });
}

Deno.test("Block-sparse packing round-trips exactly and measures what it keeps", () => {
  const rng = new Random(5);
  for (const { m, k, gen, bc } of CASES) {
    const w = blockSparseWeights(rng, m, k, gen);
    for (const b of [bc, 1, 3, 64, 256]) {
      const p = packBlockSparse(w, m, k, { bc: b });
      validateBlockSparse(p);
      deepStrictEqual(unpackBlockSparse(p), w, `${m}x${k} bc=${b}`);
      const s = detectBlockSparse(w, m, k, { bc: b });
      equal(s.storedValues, p.values.length);
      equal(s.keptColumns, p.cols.length);
      equal(s.keptBlocks, p.blocks.length / 4);
      equal(s.nonzeros, w.filter((v) => v !== 0).length);
    }
  }
  // A row stride wider than k: only the first k floats of each row are packed.
  const ld = 9;
  const wide = new Random(2).floats(4 * ld);
  const p = packBlockSparse(wide, 4, 6, { ld, bc: 4 });
  const dense = new Float32Array(4 * 6);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) dense[i * 6 + j] = wide[i * ld + j];
  deepStrictEqual(unpackBlockSparse(p), dense);
  // 75 % removed as half the rows and half the columns of each block: a quarter is stored.
  const s = detectBlockSparse(blockSparseWeights(rng, 256, 512), 256, 512);
  equal(s.storedFraction, 0.25);
  throws(() => packBlockSparse(wide, 4, 6, { br: 8 }), RangeError);
});

Deno.test("Block-sparse validation rejects corrupted indices, lengths and metadata", () => {
  const w = blockSparseWeights(new Random(9), 40, 70, { ...half, bc: 32 });
  const p = packBlockSparse(w, 40, 70, { bc: 32 });
  validateBlockSparse(p);
  const edit = <K extends "bandBlocks" | "blocks" | "cols">(
    key: K,
    at: number,
    value: number,
  ): PackedBlockSparse => {
    const a = p[key].slice();
    a[at] = value;
    return { ...p, [key]: a };
  };
  const bad: [string, PackedBlockSparse, RegExp][] = [
    ["column out of range", edit("cols", 3, 70), /out of range/],
    ["negative column", edit("cols", 0, -1), /out of range/],
    ["repeated column", edit("cols", 1, p.cols[0]), /repeated/],
    ["column outside its window", edit("cols", 0, p.cols[p.blocks[1]]), /repeated|window/],
    ["short values", { ...p, values: p.values.subarray(1) }, /values/],
    ["long values", { ...p, values: new Float32Array(p.values.length + 4) }, /values/],
    ["short columns", { ...p, cols: p.cols.subarray(1) }, /column/],
    ["missing band start", { ...p, bandBlocks: p.bandBlocks.subarray(1) }, /band starts/],
    ["band end", edit("bandBlocks", 2, p.bandBlocks[1] - 1), /before it starts/],
    ["column count", edit("blocks", 1, 0), /columns/],
    ["value start", edit("blocks", 6, 4), /value/],
    ["empty row mask", edit("blocks", 3, 0), /row mask/],
    ["row past m", edit("blocks", p.bandBlocks[2] * 4 + 3, 1 << 9), /row mask/],
    ["bc", { ...p, bc: 0 }, /bc/],
    ["br", { ...p, br: 8 }, /br/],
    ["odd block table", { ...p, blocks: p.blocks.subarray(1) }, /block table/],
  ];
  // Three kept rows take one vector per column: its fourth lane is padding and must be 0.
  const three = packBlockSparse(Float32Array.from([1, 0, 2, 0, 3, 0]), 3, 2);
  bad.push(["non-zero padding", { ...three, values: Float32Array.from([1, 2, 3, 4]) }, /padding/]);
  for (const [name, q, message] of bad) {
    throws(() => validateBlockSparse(q, "test weights"), (e: unknown) => {
      if (!(e instanceof ModelFormatError)) return false;
      if (!e.message.startsWith("Invalid test weights: ") || !message.test(e.message)) {
        throw new Error(`${name}: unexpected message "${e.message}"`);
      }
      return true;
    }, name);
  }
});
