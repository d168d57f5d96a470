/**
 * Mamba-1 at mamba-130m shapes (d_model 768, 24 layers, d_inner 1536, d_state 16, dt_rank 48,
 * vocab 50280), random weights: prefill and decode tokens/s, against the memory roofline
 * (weight bytes read per decoded token / this machine's measured copy bandwidth).
 *
 *   deno run -A bench/mamba.ts [--quick]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { type MambaConfig, MambaModel } from "../engine/models/mamba/mamba.ts";
import { Tensor } from "../engine/tensor.ts";
import { loadKernels } from "../engine/wasm/kernels.ts";

const quick = Deno.args.includes("--quick");
const cfg: MambaConfig = {
  dModel: 768,
  layers: quick ? 6 : 24,
  dInner: 1536,
  dState: 16,
  dConv: 4,
  dtRank: 48,
  vocab: 50280,
  eps: 1e-5,
};

let seed = 7;
function rand(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = ((seed >>> 8) / 16777216 - 0.5) * scale;
  }
  return a;
}

const w = new Map<string, Tensor>();
const t = (name: string, dims: number[], scale: number) =>
  w.set(name, new Tensor("float32", rand(dims.reduce((a, b) => a * b, 1), scale), dims));
t("backbone.embeddings.weight", [cfg.vocab, cfg.dModel], 0.1);
for (let i = 0; i < cfg.layers; i++) {
  const p = `backbone.layers.${i}.`;
  t(`${p}norm.weight`, [cfg.dModel], 2);
  t(`${p}mixer.in_proj.weight`, [2 * cfg.dInner, cfg.dModel], 0.07);
  t(`${p}mixer.conv1d.weight`, [cfg.dInner, 1, cfg.dConv], 0.5);
  t(`${p}mixer.conv1d.bias`, [cfg.dInner], 0.1);
  t(`${p}mixer.x_proj.weight`, [cfg.dtRank + 2 * cfg.dState, cfg.dInner], 0.05);
  t(`${p}mixer.dt_proj.weight`, [cfg.dInner, cfg.dtRank], 0.2);
  t(`${p}mixer.dt_proj.bias`, [cfg.dInner], 1);
  t(`${p}mixer.A_log`, [cfg.dInner, cfg.dState], 1);
  t(`${p}mixer.D`, [cfg.dInner], 1);
  t(`${p}mixer.out_proj.weight`, [cfg.dModel, cfg.dInner], 0.05);
}
t("backbone.norm_f.weight", [cfg.dModel], 2);

const kr = await loadKernels();
const model = new MambaModel(kr, cfg, w);
const prompt = Array.from({ length: 64 }, (_, i) => (i * 37) % cfg.vocab);
const timing = quick
  ? { warmupMs: 300, budgetMs: 1500, minRuns: 3 }
  : { warmupMs: 1000, budgetMs: 5000, minRuns: 5 };
const rows: BenchRow[] = [];
const name = `mamba-130m shapes${quick ? " (6 of 24 layers)" : ""}`;
const prefill = await measure(() => {
  model.reset();
  model.forward(prompt, { lastOnly: true });
}, timing);
rows.push({
  case: `${name}: prefill 64 tokens`,
  engine: "quartet",
  variant: kr.variant,
  threads: 1,
  ...prefill,
});
model.reset();
model.forward(prompt, { lastOnly: true });
const decode = await measure(() => model.forward([42], { lastOnly: true }), timing);
rows.push({
  case: `${name}: decode 1 token`,
  engine: "quartet",
  variant: kr.variant,
  threads: 1,
  ...decode,
});

// Copy bandwidth: a 256 MiB buffer copied with one set(), best of several.
const src = new Uint8Array(256 * 2 ** 20).fill(1);
const dst = new Uint8Array(src.length);
let best = Infinity;
for (let i = 0; i < 6; i++) {
  const s = performance.now();
  dst.set(src);
  best = Math.min(best, performance.now() - s);
}
const copyGBs = (2 * src.length) / (best * 1e6); // read + write
const perLayer = 2 * cfg.dInner * cfg.dModel + (cfg.dtRank + 2 * cfg.dState) * cfg.dInner +
  cfg.dInner * cfg.dtRank + cfg.dModel * cfg.dInner;
const weightBytes = 4 * (cfg.layers * perLayer + cfg.vocab * cfg.dModel);
const roofMs = weightBytes / (copyGBs * 1e6);
const notes = [
  `Prefill: ${(64 / (prefill.median_ms / 1000)).toFixed(0)} tok/s; decode: ` +
  `${(1000 / decode.median_ms).toFixed(1)} tok/s.`,
  `Decode reads ${(weightBytes / 2 ** 20).toFixed(0)} MiB of f32 weights per token; at the ` +
  `measured copy bandwidth (${copyGBs.toFixed(1)} GB/s, read + write of a 256 MiB buffer) the ` +
  `roofline is ${roofMs.toFixed(1)} ms/token (${
    (1000 / roofMs).toFixed(1)
  } tok/s): decode runs at ` +
  `${((100 * roofMs) / decode.median_ms).toFixed(0)} % of it.`,
  "C4,2 / C4,3 decode columns: not yet — the C4n GEMV measured no gain over dense here " +
  "(bench/sparse.ts), so pruned projections still run dense in decode.",
];
await report("mamba", "Mamba-1, one thread (ms)", rows, { unit: "ms" }, notes);
model.dispose();
