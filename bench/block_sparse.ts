/**
 * Block-sparse GEMV (fully connected / RNN decode) vs the dense 1x8 GEMV, one thread, same
 * run: W m x k with 75 % of the weights removed as half the rows and half the columns of each
 * 16 x bc block (bc = 128, 256, 512), and as three quarters of the columns of each 16 x 256
 * block with whole 16-row columns kept. Figures are GFLOP/s of the dense-equivalent work
 * (2 m k), so the ratio to dense is the speedup. The candidates of one size are timed in
 * interleaved rounds (batches of about 1 ms), so a noisy host slows them alike.
 *
 *   deno run -A bench/block_sparse.ts [--quick] [--kernels=scalar|simd|relaxed]
 */
import { type BenchRow, instancesTiming, interleaved, report } from "./_harness.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";
import {
  blockGemvArgs,
  detectBlockSparse,
  packBlockSparse,
  releaseBlockSparse,
  uploadBlockSparse,
} from "../engine/weights/block_sparse.ts";
import { blockSparseWeights } from "../tests/reference/block_sparse.ts";
import { Random } from "../tests/_random.ts";

const quick = Deno.args.includes("--quick");
const rounds = quick ? 8 : 40;
const kernels = Deno.args.find((a) => a.startsWith("--kernels="))?.slice(10) as
  | KernelVariant
  | undefined;
const kr = await loadKernels(kernels ? { kernels } : {});
const rows: BenchRow[] = [];
const notes: string[] = [];

for (const [m, k] of [[1024, 1024], [4096, 4096]]) {
  const name = `GEMV ${m}x${k} 75 % sparse`;
  const rng = new Random(m);
  const x = kr.arena.alloc(k * 4);
  kr.arena.f32(x, k).set(rng.floats(k));
  const y = kr.arena.alloc(m * 4);
  const w = blockSparseWeights(rng, m, k, { rowKeep: 0.5, colKeep: 0.5, bc: 256 });

  // Dense: the same zeroed weights packed for f32_gemv_1x8 (W is n x k, "transposed").
  // Packed twice, before and after the sparse weights, its time the mean of the two copies
  // (instancesTiming): memory allocated earlier ran slower here.
  const raw = kr.arena.alloc(m * k * 4);
  kr.arena.f32(raw, m * k).set(w);
  const packDense = () => {
    const at = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, m, 8));
    kr.fn.x32_pack_gemm(k, m, 8, raw, k, 1, 0, at);
    return at;
  };
  const dense = packDense();

  // Each variant's weights have its own block grid, so each stores 25 % of the values.
  const variants: [string, Float32Array, number][] = [
    ["rows+cols bc=128", blockSparseWeights(rng, m, k, { bc: 128 }), 128],
    ["rows+cols bc=256", w, 256],
    ["rows+cols bc=512", blockSparseWeights(rng, m, k, { bc: 512 }), 512],
    ["cols only bc=256", blockSparseWeights(rng, m, k, { rowKeep: 1, colKeep: 0.25 }), 256],
  ];
  const packed = variants.map(([, wv, bc]) => ({
    pw: uploadBlockSparse(kr, packBlockSparse(wv, m, k, { bc }), name),
    stored: detectBlockSparse(wv, m, k, { bc }).storedFraction,
  }));
  const dense2 = packDense();
  kr.arena.free(raw);
  const times = interleaved([
    () => kr.fn.f32_gemv_1x8(m, k, x, dense, y, 0, 0, 0),
    ...packed.map(({ pw }) => {
      const args = blockGemvArgs(pw, x, y);
      return () => kr.fn.f32_gemv_block_16(...args);
    }),
    () => kr.fn.f32_gemv_1x8(m, k, x, dense2, y, 0, 0, 0),
  ], { rounds });
  const d = instancesTiming([times[0], times[variants.length + 1]]);
  rows.push({ case: name, engine: "quartet", variant: `${kr.variant} dense`, threads: 1, ...d });
  variants.forEach(([what], i) => {
    const r = times[i + 1];
    rows.push({
      case: name,
      engine: "quartet",
      variant: `${kr.variant} block ${what}`,
      threads: 1,
      ...r,
    });
    notes.push(
      `${name}, block ${what}: ${(d.median_ms / r.median_ms).toFixed(2)}× dense ` +
        `(stores ${(100 * packed[i].stored).toFixed(0)} % of the dense values).`,
    );
    releaseBlockSparse(kr, packed[i].pw);
  });
  for (const o of [dense, dense2, x, y]) kr.arena.free(o);
  console.error(`  measured ${name}`);
}

await report(
  "block_sparse",
  "Block-sparse GEMV vs dense GEMV, one thread (GFLOP/s of the dense-equivalent work)",
  rows,
  {
    unit: "GFLOP/s",
    work: (c) => {
      const g = c.match(/GEMV (\d+)x(\d+)/)!;
      return 2 * Number(g[1]) * Number(g[2]);
    },
  },
  notes,
);
