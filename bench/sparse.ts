/**
 * Sparse vs dense, one thread, same run: C4n SpMM (W 512x512 times 3136 columns, a 1x1 conv
 * on 56x56) for n = 1, 2, 3 against Quartet's dense NCHW GEMM and onnxruntime-web's dense
 * 1x1 Conv on the same (zeroed) weights; and a whole 1x1-conv layer through loadModel with
 * the sparse kernels on and off.
 *
 *   deno run -A bench/sparse.ts [--quick]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { ortSession } from "./_peers.ts";
import * as ort from "npm:onnxruntime-web@1.30.0";
import { gemmNchw, packNchwWeights, releaseNchwWeights } from "../engine/ops/gemm.ts";
import { loadKernels } from "../engine/wasm/kernels.ts";
import { c4nWeights } from "../tests/reference/sparse.ts";
import { oneNodeModel } from "../tests/_onnx_builder.ts";
import { Random } from "../tests/_random.ts";
import { Tensor } from "../engine/tensor.ts";

const quick = Deno.args.includes("--quick");
const timing = quick
  ? { warmupMs: 150, budgetMs: 600, minRuns: 8 }
  : { warmupMs: 500, budgetMs: 2000 };
const [M, K, N] = [512, 512, 3136];
const rows: BenchRow[] = [];
const flops = 2 * M * K * N;

for (const n of [1, 2, 3]) {
  const rng = new Random(n);
  const w = c4nWeights(rng, M, K, n);
  const x = rng.floats(K * N);
  const name = `C4,${n} SpMM ${M}x${K} · ${K}x${N}`;
  for (const sparse of ["auto", "off"] as const) {
    const kr = await loadKernels({ sparse });
    const pw = kr.arena.alloc(M * K * 4);
    kr.arena.f32(pw, M * K).set(w);
    const packed = packNchwWeights(kr, pw, M, K, { name });
    const px = kr.arena.alloc(K * N * 4);
    kr.arena.f32(px, K * N).set(x);
    const pc = kr.arena.alloc(M * N * 4);
    const r = await measure(() => gemmNchw(kr, packed, px, N, N, pc, N), timing);
    rows.push({
      case: name,
      engine: "quartet",
      variant: `${kr.variant} ${packed.format === "c4n" ? `c4n:${n}` : "dense"}`,
      threads: 1,
      ...r,
    });
    releaseNchwWeights(kr, packed);
  }
  // The peer runs the same zeroed weights densely (it has no sparse kernel for them).
  const model = oneNodeModel(
    "Conv",
    [{ name: "x", dims: [1, K, 56, 56] }, { name: "w", dims: [M, K, 1, 1] }],
    [{ name: "y" }],
    {},
    { initializers: { w: new Tensor("float32", w, [M, K, 1, 1]) } },
  );
  const session = await ortSession(model, 1);
  const feeds = { x: new ort.Tensor("float32", x, [1, K, 56, 56]) };
  rows.push({
    case: name,
    engine: "onnxruntime-web",
    variant: "wasm dense",
    threads: 1,
    ...(await measure(async () => {
      const out = await session.run(feeds);
      await out.y.getData();
    }, timing)),
  });
  await session.release();
  console.error(`  measured ${name}`);
}

// GEMV for decode: C4,2 with swizzled gathers vs the dense 1x8 GEMV on the same weights.
import { packC4n2Gemv } from "../engine/weights/c4n_gemv.ts";
const gemvRows: BenchRow[] = [];
for (const [m, k] of [[1024, 1024], [4096, 4096]]) {
  const kr = await loadKernels();
  const w = c4nWeights(new Random(m), m, k, 2);
  const wt = new Float32Array(k * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) wt[j * m + i] = w[i * k + j];
  const raw = kr.arena.alloc(k * m * 4);
  kr.arena.f32(raw, k * m).set(wt);
  const dense = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, m, 8));
  kr.fn.x32_pack_gemm(k, m, 8, raw, m, 0, 0, dense);
  kr.arena.free(raw);
  const p = packC4n2Gemv(w, m, k);
  const pv = kr.arena.alloc(p.values.byteLength);
  kr.arena.f32(pv, p.values.length).set(p.values);
  const pp = kr.arena.alloc(p.patterns.length);
  kr.arena.u8(pp, p.patterns.length).set(p.patterns);
  const pt = kr.arena.alloc(p.tails.byteLength);
  const x = kr.arena.alloc(k * 4);
  kr.arena.f32(x, k).fill(0.5);
  const y = kr.arena.alloc(m * 4);
  const name = `C4,2 GEMV ${m}x${k}`;
  gemvRows.push({
    case: name,
    engine: "quartet",
    variant: `${kr.variant} dense`,
    threads: 1,
    ...(await measure(() => kr.fn.f32_gemv_1x8(m, k, x, dense, y, 0, 0, 0), timing)),
  });
  gemvRows.push({
    case: name,
    engine: "quartet",
    variant: `${kr.variant} c4n:2 swizzle`,
    threads: 1,
    ...(await measure(() => kr.fn.f32_gemv_c4n2_1x4(m, k, pv, pp, pt, x, 0, y, 0, 0, 0), timing)),
  });
}
rows.push(...gemvRows);

const notes: string[] = [];
for (const c of [...new Set(gemvRows.map((r) => r.case))]) {
  const [d, s] = gemvRows.filter((r) => r.case === c);
  notes.push(
    `${c}: swizzle kernel ${(d.median_ms / s.median_ms).toFixed(2)}× own dense GEMV ` +
      `(moves 56 % of the dense bytes, but spends ~12 instructions per 4 multiply-adds; ` +
      `not selected by the cost model).`,
  );
}
for (const n of [1, 2, 3]) {
  const c = rows.filter((r) => r.case.startsWith(`C4,${n}`));
  const dense = c.find((r) => r.variant.endsWith("dense") && r.engine === "quartet")!;
  const sparse = c.find((r) => r.variant.includes("c4n"));
  if (sparse) {
    const speedup = dense.median_ms / sparse.median_ms;
    const roof = 4 / (4 - n);
    notes.push(
      `C4,${n}: ${speedup.toFixed(2)}× own dense (roof ${roof.toFixed(2)}×); ` +
        `c4n cost per survivor vs dense per weight ${(roof / speedup).toFixed(2)}.`,
    );
  } else notes.push(`C4,${n}: the cost model kept this layer dense.`);
}
await report(
  "sparse",
  "C4n sparse vs dense, one thread (GFLOP/s of the dense-equivalent work)",
  rows,
  {
    unit: "GFLOP/s",
    work: (c) => {
      const g = c.match(/GEMV (\d+)x(\d+)/);
      return g ? 2 * Number(g[1]) * Number(g[2]) : flops;
    },
  },
  notes,
);
