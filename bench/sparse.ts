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

const notes: string[] = [];
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
  "C4n SpMM vs dense, one thread (GFLOP/s of the dense-equivalent work)",
  rows,
  {
    unit: "GFLOP/s",
    work: () => flops,
  },
  notes,
);
