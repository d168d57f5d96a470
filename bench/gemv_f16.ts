/**
 * f16 weights vs f32 weights for memory-bound GEMVs, one thread, same run: the f16 GEMV
 * (`f32_gemv_f16w_4x8`) against the f32 GEMV (`f32_gemv_1x8`, 1 row) and the f32 GEMM tile (4
 * rows) on the same weights, W k x n (inputs x outputs, MatMul's B): 1024x1024, 4096x4096 and
 * 768x50280 (an LM head), two copies of each form in mirrored order, and 1024x1024 "cold"
 * (24 copies called in turn, so every call
 * streams its weights from memory as in a model too big for the cache). Candidates are timed
 * in interleaved rounds, so a noisy host slows them alike. Then Mamba-1 decode at mamba-130m
 * shapes (random weights) with gemvWeights "f32" and "f16".
 *
 *   deno run -A bench/gemv_f16.ts [--quick] [--kernels=scalar|simd|relaxed]
 */
import { type BenchRow, instancesTiming, interleaved, report } from "./_harness.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";
import { packF16Gemv, setGemvWeights } from "../engine/weights/f16_gemv.ts";
import { MambaModel } from "../engine/models/mamba/mamba.ts";
import { Tensor } from "../engine/tensor.ts";
import { Random } from "../tests/_random.ts";
import { mamba130mConfig } from "./_mamba_130m.ts";

const quick = Deno.args.includes("--quick");
const rounds = quick ? 8 : 30;
const variant = (Deno.args.find((a) => a.startsWith("--kernels="))?.slice(10) ??
  "relaxed") as KernelVariant;
const kr = await loadKernels({ kernels: variant });
const rows: BenchRow[] = [];
const notes: string[] = [];

/**
 * One weight matrix in both forms, the f32 one allocated first or second: copies alternate, so
 * neither form always gets the earlier memory (which ran slower here; see instancesTiming).
 */
function upload(k: number, n: number, rng: Random, f32First: boolean) {
  const wt = rng.floats(n * k, -0.1, 0.1); // Wᵀ, n x k
  const raw = kr.arena.alloc(n * k * 4);
  kr.arena.f32(raw, n * k).set(wt);
  const packF32 = () => {
    const at = kr.arena.alloc(kr.fn.x32_pack_gemm_size(k, n, 8));
    kr.fn.x32_pack_gemm(k, n, 8, raw, k, 1, 0, at);
    return at;
  };
  const packF16 = () => {
    const halves = packF16Gemv(wt, n, k, "bench")!;
    const at = kr.arena.alloc(halves.byteLength);
    kr.arena.u8(at, halves.byteLength).set(new Uint8Array(halves.buffer));
    return at;
  };
  let f32 = f32First ? packF32() : 0;
  const f16 = packF16();
  if (!f32First) f32 = packF32();
  kr.arena.free(raw);
  return { f32, f16 };
}

// Copies of the weights called in turn per timed call (at least 2, in mirrored order: f32,
// f16, f16, f32), the time divided among them.
const CASES: [string, number, number, number][] = [
  ["1024x1024", 1024, 1024, 2],
  ["4096x4096", 4096, 4096, 2],
  ["768x50280 (LM head)", 768, 50280, 2],
  ["1024x1024 cold", 1024, 1024, 24],
];
for (const [label, k, n, copies] of CASES) {
  const rng = new Random(k + n);
  const ws = Array.from({ length: copies }, (_, i) => upload(k, n, rng, i % 2 === 0));
  const x = kr.arena.alloc(4 * k * 4);
  kr.arena.f32(x, 4 * k).set(rng.floats(4 * k));
  const y = kr.arena.alloc(4 * n * 4);
  for (const m of [1, 4]) {
    const name = `GEMV ${label}, ${m} row${m > 1 ? "s" : ""}`;
    const [f32, f16] = interleaved([
      () => {
        for (const w of ws) {
          if (m === 1) kr.fn.f32_gemv_1x8(n, k, x, w.f32, y, 0, 0, 0);
          else kr.fn.f32_gemm_6x8(m, n, k, x, k, w.f32, y, n, 0, 0, 0);
        }
      },
      () => {
        for (const w of ws) kr.fn.f32_gemv_f16w_4x8(m, n, k, 0, n, w.f16, x, k, 0, y, n, 0, 0, 0);
      },
    ], { rounds, warmupMs: 200, batchMs: 2, batches: 3 });
    const per = (t: typeof f32) => ({
      median_ms: t.median_ms / copies,
      min_ms: t.min_ms / copies,
      runs: t.runs,
    });
    rows.push(
      { case: name, engine: "quartet", variant: `${kr.variant} f32`, threads: 1, ...per(f32) },
      { case: name, engine: "quartet", variant: `${kr.variant} f16`, threads: 1, ...per(f16) },
    );
    notes.push(`${name}: f16 ${(f32.median_ms / f16.median_ms).toFixed(2)}× the f32 speed.`);
    console.error(`  measured ${name}`);
  }
  for (const w of ws) {
    kr.arena.free(w.f32);
    kr.arena.free(w.f16);
  }
  kr.arena.free(x);
  kr.arena.free(y);
}

// Mamba-1 decode at mamba-130m shapes: the projections and the LM head are GEMVs.
const cfg = mamba130mConfig(quick ? 6 : 24);
function mambaWeights(): Map<string, Tensor> {
  const rng = new Random(7);
  const w = new Map<string, Tensor>();
  const t = (name: string, dims: number[], scale: number) =>
    w.set(
      name,
      new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale), dims),
    );
  t("backbone.embeddings.weight", [cfg.vocab, cfg.dModel], 0.05);
  t("lm_head.weight", [cfg.vocab, cfg.dModel], 0.05);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `backbone.layers.${i}.`;
    t(`${p}norm.weight`, [cfg.dModel], 1);
    t(`${p}mixer.in_proj.weight`, [2 * cfg.dInner, cfg.dModel], 0.035);
    t(`${p}mixer.conv1d.weight`, [cfg.dInner, 1, cfg.dConv], 0.25);
    t(`${p}mixer.conv1d.bias`, [cfg.dInner], 0.05);
    t(`${p}mixer.x_proj.weight`, [cfg.dtRank + 2 * cfg.dState, cfg.dInner], 0.025);
    t(`${p}mixer.dt_proj.weight`, [cfg.dInner, cfg.dtRank], 0.1);
    t(`${p}mixer.dt_proj.bias`, [cfg.dInner], 0.5);
    t(`${p}mixer.A_log`, [cfg.dInner, cfg.dState], 0.5);
    t(`${p}mixer.D`, [cfg.dInner], 0.5);
    t(`${p}mixer.out_proj.weight`, [cfg.dModel, cfg.dInner], 0.025);
  }
  t("backbone.norm_f.weight", [cfg.dModel], 1);
  return w;
}
const weights = mambaWeights();
// Four models in mirrored order (f32, f16, f16, f32), each policy's time the mean of its two.
const policies = ["f32", "f16", "f16", "f32"] as const;
const instances: { policy: "f32" | "f16"; model: MambaModel; f16: number }[] = [];
for (const policy of policies) {
  const k = await loadKernels({ kernels: variant });
  setGemvWeights(k, policy);
  const model = new MambaModel(k, cfg, weights);
  // A 4-token prompt: products of up to 4 rows stay on the f16 GEMV.
  model.forward([1, 2, 3, 4], { lastOnly: true });
  instances.push({ policy, model, f16: k.choices.filter((c) => c.format === "f16").length });
}
const name = `Mamba-1 decode, mamba-130m shapes${quick ? " (6 of 24 layers)" : ""}`;
const times = interleaved(
  instances.map(({ model }) => () => model.forward([42], { lastOnly: true })),
  { rounds, warmupMs: 200, batchMs: 2, batches: 3 },
);
const [d32, d16] = (["f32", "f16"] as const).map((policy) =>
  instancesTiming(times.filter((_, i) => policies[i] === policy))
);
const f16Layers = instances[1].f16;
const mambaRows: BenchRow[] = [
  { case: name, engine: "quartet", variant: `${variant} f32`, threads: 1, ...d32 },
  { case: name, engine: "quartet", variant: `${variant} f16`, threads: 1, ...d16 },
];
notes.push(
  `${name}: ${(1000 / d32.median_ms).toFixed(1)} tok/s with f32 weights, ` +
    `${(1000 / d16.median_ms).toFixed(1)} tok/s with gemvWeights "f16" (${f16Layers} layers ` +
    `f16), ${(d32.median_ms / d16.median_ms).toFixed(2)}× (two models of each, built in ` +
    `mirrored order).`,
);
for (const { model } of instances) model.dispose();

const work = (c: string) => {
  const m = c.match(/GEMV (\d+)x(\d+).*, (\d) row/);
  return m ? 2 * Number(m[1]) * Number(m[2]) * Number(m[3]) : NaN;
};
await report("gemv_f16", "f16 vs f32 GEMV weights, one thread (GFLOP/s)", rows, {
  unit: "GFLOP/s",
  work,
}, [
  notes.map((n) => `- ${n}`).join("\n"),
  `Mamba decode, ms per token: ${
    mambaRows.map((r) => `${r.variant} ${r.median_ms.toFixed(2)}`).join(", ")
  }.`,
]);
