import { deepStrictEqual, ok } from "node:assert/strict";
import { gemm } from "../../../engine/ops/gemm.ts";
import { loadSparsePackers } from "../../../engine/weights/sparse_packers.ts";
import {
  downloadBlockSparse,
  packBlockSparse,
  uploadBlockSparse,
} from "../../../engine/weights/block_sparse.ts";
import { assertClose } from "../../_assert.ts";
import { download, kernelsFor, packSparseGemm, tolerance, upload } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { gemmReference, transpose2d } from "../../reference/gemm.ts";
import { blockSparseWeights } from "../../reference/block_sparse.ts";

Deno.test("block-sparse weights read back from the arena equal what was uploaded", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(60);
  for (const [m, k] of [[1, 1], [37, 300], [64, 515]]) {
    const p = packBlockSparse(blockSparseWeights(rng, m, k, { rowKeep: 0.5, colKeep: 0.5 }), m, k);
    const back = downloadBlockSparse(kr, uploadBlockSparse(kr, p, "w"));
    for (const key of ["m", "k", "bandBlocks", "blocks", "cols", "values"] as const) {
      deepStrictEqual(back[key], p[key], `${m}x${k} ${key}`);
    }
  }
});

Deno.test("block-sparse GEMM weights pack their dense panels from the block copy, on the first product of more than 4 rows", async () => {
  await loadSparsePackers();
  const kr = await kernelsFor("relaxed");
  const rng = new Random(61);
  const [k, n] = [300, 200];
  const wt = blockSparseWeights(rng, n, k, { rowKeep: 0.5, colKeep: 0.5 }); // n outputs x k
  const w = transpose2d(wt, n, k); // k x n, as gemm takes it
  const bias = rng.floats(n);
  const { packed, packedBytes: blockBytes } = packSparseGemm(kr, w, bias, k, n);
  ok(packed.block, "packed block-sparse");
  deepStrictEqual(packed.offset, 0, "no dense panels yet");
  ok(blockBytes < 0.5 * 4 * k * n, `${blockBytes} bytes for ${4 * k * n} dense`);
  // [rows, dense panels packed after the product]: the GEMV first, then 7 rows need them.
  for (const [m, panels] of [[1, false], [7, true], [1, true], [9, true]] as const) {
    const a = rng.floats(m * k);
    const pa = upload(kr, a);
    const pc = kr.arena.alloc(m * n * 4);
    gemm(kr, m, pa, k, packed, pc, n);
    const want = gemmReference(a, w, m, k, n, bias);
    assertClose(download(kr, pc, m * n), want, tolerance(k), `${m} rows`);
    deepStrictEqual(packed.offset !== 0, panels, `${m} rows: dense panels`);
    kr.arena.free(pa);
    kr.arena.free(pc);
  }
});
