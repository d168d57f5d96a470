/**
 * Mamba-1 at mamba-130m shapes (d_model 768, 24 layers, d_inner 1536, d_state 16, dt_rank 48,
 * vocab 50280, untied LM head), random weights: prefill and decode tokens/s dense and with
 * the projections and LM head C4,2- and C4,3-pruned (magnitude), against the memory roofline
 * (weight bytes read per decoded token / this machine's measured copy bandwidth), against
 * onnxruntime-web running one decode step of the dense model as an ONNX graph, and against
 * llama.cpp (native, f32 and q8_0, node-llama-cpp's prebuilt CPU build; bench/_llama_cpp.ts) on
 * the same dense weights; decode and prefill on one and on two threads.
 *
 * onnxruntime-web sizes its thread pool once per process, so its 2-thread decode runs in a
 * child process of this script (`--ort-2t`, see ortTwoThreadChild). Loading from a checkpoint
 * file (written to a temporary directory) runs in a child too (`--load <dir>`), so its peak
 * process memory is its own.
 *
 *   deno run -A bench/mamba.ts [--quick]
 */
import {
  type BenchRow,
  instancesSpread,
  instancesTiming,
  interleaved,
  interleavedAsync,
  report,
  type Timing,
} from "./_harness.ts";
import { ort, ortSession, ortTwoThreadChild } from "./_peers.ts";
import { mambaStepOnnx, mambaStepStates } from "../tests/_mamba_onnx.ts";
import { loadMamba, MambaModel } from "../engine/models/mamba/mamba.ts";
import { writeSafetensors } from "../engine/formats/safetensors/write.ts";
import { packSafetensors } from "../engine/formats/sparse_package/pack.ts";
import { Tensor } from "../engine/tensor.ts";
import { disposeKernels, type Kernels, loadKernels } from "../engine/wasm/kernels.ts";
import { mamba130mConfig } from "./_mamba_130m.ts";
import { loadSparsePackers } from "../engine/weights/sparse_packers.ts";
import { C4N_GEMM_COST, c4nRunsEveryProduct } from "../engine/ops/gemm.ts";
import { llamaCppMamba } from "./_llama_cpp.ts";

const quick = Deno.args.includes("--quick");
const cfg = mamba130mConfig(quick ? 6 : 24);

let seed = 7;
function rand(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = ((seed >>> 8) / 16777216 - 0.5) * scale;
  }
  return a;
}

/** Keeps the 4 - zeros largest of every group of 4 along each row's input axis. */
function pruneC4n(a: Float32Array, inputs: number, zeros: number): Float32Array {
  const out = a.slice();
  for (let o = 0; o + 4 <= a.length; o += 4) {
    if ((o % inputs) + 4 > inputs) continue; // tail group of a row stays dense
    const order = [0, 1, 2, 3].sort((x, y) => Math.abs(a[o + x]) - Math.abs(a[o + y]));
    for (let z = 0; z < zeros; z++) out[o + order[z]] = 0;
  }
  return out;
}

/** Random weights; with zeros > 0 the projections and the (untied) LM head are C4n-pruned. */
function weights(zeros: 0 | 2 | 3): Map<string, Tensor> {
  seed = 7;
  const w = new Map<string, Tensor>();
  const t = (name: string, dims: number[], scale: number, linear = false) => {
    const data = rand(dims.reduce((a, b) => a * b, 1), scale);
    const inputs = dims[dims.length - 1];
    w.set(
      name,
      new Tensor("float32", linear && zeros ? pruneC4n(data, inputs, zeros) : data, dims),
    );
  };
  t("backbone.embeddings.weight", [cfg.vocab, cfg.dModel], 0.1);
  t("lm_head.weight", [cfg.vocab, cfg.dModel], 0.1, true);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `backbone.layers.${i}.`;
    t(`${p}norm.weight`, [cfg.dModel], 2);
    t(`${p}mixer.in_proj.weight`, [2 * cfg.dInner, cfg.dModel], 0.07, true);
    t(`${p}mixer.conv1d.weight`, [cfg.dInner, 1, cfg.dConv], 0.5);
    t(`${p}mixer.conv1d.bias`, [cfg.dInner], 0.1);
    t(`${p}mixer.x_proj.weight`, [cfg.dtRank + 2 * cfg.dState, cfg.dInner], 0.05, true);
    t(`${p}mixer.dt_proj.weight`, [cfg.dInner, cfg.dtRank], 0.2, true);
    t(`${p}mixer.dt_proj.bias`, [cfg.dInner], 1);
    t(`${p}mixer.A_log`, [cfg.dInner, cfg.dState], 1);
    t(`${p}mixer.D`, [cfg.dInner], 1);
    t(`${p}mixer.out_proj.weight`, [cfg.dModel, cfg.dInner], 0.05, true);
  }
  t("backbone.norm_f.weight", [cfg.dModel], 2);
  return w;
}

const prompt = Array.from({ length: 64 }, (_, i) => (i * 37) % cfg.vocab);
const rounds = quick ? 3 : 10;

/** onnxruntime-web's decode step of the dense model: its session and one step's call. */
async function ortDecoder(threads: number) {
  const session = await ortSession(mambaStepOnnx(cfg, weights(0)), threads);
  const states = mambaStepStates(cfg);
  const feeds: Record<string, ort.Tensor> = {};
  for (const s of states) {
    const zeros = new Float32Array(s.dims.reduce((a, b) => a * b, 1));
    feeds[s.input] = new ort.Tensor("float32", zeros, s.dims);
  }
  const step = async (token: number) => {
    feeds.token = new ort.Tensor("int64", BigInt64Array.of(BigInt(token)), [1]);
    const out = await session.run(feeds);
    for (const s of states) feeds[s.input] = out[s.output];
    return await out.logits.getData() as Float32Array;
  };
  return { session, step };
}

if (Deno.args.includes("--ort-2t")) {
  // The child: onnxruntime-web's decode on 2 threads, alone; its timing as JSON on stdout.
  const { session, step } = await ortDecoder(2);
  for (const t of prompt) await step(t);
  const [timing] = await interleavedAsync([() => step(42)], { rounds, batchMs: 100, batches: 3 });
  await session.release();
  console.log(JSON.stringify(timing));
  Deno.exit(0);
}
/** The peak resident memory of this process (Linux's VmHWM), or its current RSS elsewhere. */
function peakRssBytes(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss;
}

if (Deno.args.includes("--load")) {
  // The child: loadMamba from a checkpoint directory, load time and peak memory; then the
  // decode time of this one model in a process of its own, as an app runs it.
  const dir = Deno.args[Deno.args.indexOf("--load") + 1];
  const t0 = performance.now();
  const model = await loadMamba(dir);
  const loadMs = performance.now() - t0;
  model.forward(prompt, { lastOnly: true });
  const peakRss = peakRssBytes();
  const [decode] = interleaved([() => model.forward([42], { lastOnly: true })], {
    rounds,
    batchMs: 100,
    batches: 3,
  });
  console.log(JSON.stringify({ loadMs, peakRss, decodeMs: decode.median_ms }));
  Deno.exit(0);
}

/**
 * What loading a checkpoint in a child process took (time, peak memory, the weights' size),
 * and the model's decode time there.
 */
interface FileLoad {
  loadMs: number;
  peakRss: number;
  decodeMs: number;
  fileBytes: number;
}

/** loadMamba on `dir` in a child process (see `--load`). */
async function loadInChild(dir: string): Promise<Omit<FileLoad, "fileBytes">> {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--load", dir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!child.success) throw new Error("The loadMamba child process failed");
  return JSON.parse(new TextDecoder().decode(child.stdout).trim().split("\n").at(-1)!);
}

/**
 * Writes the weights as a checkpoint (config.json, model.safetensors) to a temporary
 * directory and loads it with loadMamba in a child process; with `pack`, then also as a sparse
 * package (model.qsp, f32 values) in its place.
 */
async function loadFromFile(
  w: Map<string, Tensor>,
  pack: boolean,
): Promise<{ safetensors: FileLoad; package?: FileLoad }> {
  const dir = await Deno.makeTempDir({ prefix: "quartet-bench-mamba-" });
  try {
    const file = writeSafetensors(
      [...w].sort(([a], [b]) => a < b ? -1 : 1).map(([name, t]) => ({
        name,
        dtype: "F32" as const,
        shape: t.dims,
        data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
    );
    await Deno.writeFile(`${dir}/model.safetensors`, file);
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        hidden_size: cfg.dModel,
        num_hidden_layers: cfg.layers,
        intermediate_size: cfg.dInner,
        state_size: cfg.dState,
        conv_kernel: cfg.dConv,
        time_step_rank: cfg.dtRank,
        vocab_size: cfg.vocab,
      }),
    );
    const safetensors = { ...await loadInChild(dir), fileBytes: file.length };
    if (!pack) return { safetensors };
    const packed = packSafetensors(file).bytes;
    await Deno.remove(`${dir}/model.safetensors`);
    await Deno.writeFile(`${dir}/model.qsp`, packed);
    return { safetensors, package: { ...await loadInChild(dir), fileBytes: packed.length } };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const rows: BenchRow[] = [];
const name = `mamba-130m shapes${quick ? " (6 of 24 layers)" : ""}`;
const decodeMs = new Map<number, number>();
const prefillMs = new Map<number, number>();
const chosen = new Map<number, string>();
// MambaModel packs sparse weights only once the packers are loaded (loadMamba does this for
// zero-rich checkpoints; the bench builds the model directly).
await loadSparsePackers();
const variants = [0, 2, 3] as const;
let variant = "";
// The dense weights also feed the peer's graph below.
const denseWeights = weights(0);
// Per variant, first (while this process holds little): loadMamba from a checkpoint file.
const fromFile = new Map<number, Awaited<ReturnType<typeof loadFromFile>>>();
for (const zeros of variants) {
  console.error(`  loadMamba from a file: ${zeros ? `C4,${zeros}` : "dense"} (child process)`);
  fromFile.set(zeros, await loadFromFile(zeros ? weights(zeros) : denseWeights, zeros > 0));
}
// Per variant: the arena's bytes after the build and its peak during it, and the build time.
const footprint = new Map<number, { live: number; peak: number; buildMs: number }>();
// Each variant is built twice, in mirrored order (dense, C4,2, C4,3, C4,3, C4,2, dense), and
// its time is the mean of its two instances' medians. Here the same weights decode up to 20 %
// slower in the arena built first than in one built later (where the memory lands; the spread
// vanished with transparent huge pages on), so models built in one order would flatter the
// last-built ones.
const buildOrder = [...variants, ...[...variants].reverse()];
const models: MambaModel[] = [];
for (const zeros of buildOrder) {
  const kr = await loadKernels();
  variant = kr.variant;
  const w = zeros ? weights(zeros) : denseWeights;
  const t0 = performance.now();
  const model = new MambaModel(kr, cfg, w);
  const buildMs = performance.now() - t0;
  models.push(model);
  if (footprint.has(zeros)) continue;
  footprint.set(zeros, {
    live: kr.arena.liveBytes,
    peak: model.summary().peakMemoryBytes,
    buildMs,
  });
  const formats = new Map<string, number>();
  for (const c of kr.choices) formats.set(c.format, (formats.get(c.format) ?? 0) + 1);
  chosen.set(
    zeros,
    formats.size ? [...formats].map(([f, n]) => `${n} ${f}`).join(", ") : "no sparse structure",
  );
}
/** Instance-to-instance spread of a variant's medians, the largest seen (percent). */
let instanceSpread = 0;
/** Per variant, its instances' timings (in `buildOrder`) combined (`instancesTiming`). */
function perVariant(timings: Timing[]): Timing[] {
  return variants.map((z) => {
    const mine = timings.filter((_, i) => buildOrder[i] === z);
    instanceSpread = Math.max(instanceSpread, 100 * instancesSpread(mine));
    return instancesTiming(mine);
  });
}
// The models take turns, so a noisy spell hits each alike.
const prefill = perVariant(interleaved(
  models.map((model) => () => {
    model.reset();
    model.forward(prompt, { lastOnly: true });
  }),
  { rounds, batchMs: 400, batches: 1 },
));
// The peer: onnxruntime-web running one decode step of the dense model as an ONNX graph
// (tests/_mamba_onnx.ts), the states fed back each step. First its logits are checked against
// Quartet's dense model over a few tokens from an empty state.
const { session: ortModel, step: ortStep } = await ortDecoder(1);
models[0].reset();
let ortDiff = 0;
for (const token of [11, 4000, 42]) {
  const ours = models[0].forward([token], { lastOnly: true });
  const theirs = await ortStep(token);
  for (let i = 0; i < theirs.length; i++) {
    ortDiff = Math.max(ortDiff, Math.abs(ours[i] - theirs[i]));
  }
}
for (const model of models) {
  model.reset();
  model.forward(prompt, { lastOnly: true });
}
// Decode: the models and the peer take turns.
const decodeAll = await interleavedAsync(
  [
    ...models.map((model) => () => model.forward([42], { lastOnly: true })),
    () => ortStep(42),
  ],
  { rounds, batchMs: 100, batches: 3 },
);
const decode = perVariant(decodeAll.slice(0, models.length));
const ortDecodeMs = decodeAll[models.length].median_ms;
rows.push({
  case: `${name}: decode 1 token`,
  engine: "onnxruntime-web",
  variant: "wasm dense",
  threads: 1,
  ...decodeAll[models.length],
});
await ortModel.release();
variants.forEach((zeros, i) => {
  const label = `${variant} ${zeros ? `c4n:${zeros}` : "dense"}`;
  rows.push({
    case: `${name}: prefill 64 tokens`,
    engine: "quartet",
    variant: label,
    threads: 1,
    ...prefill[i],
  });
  rows.push({
    case: `${name}: decode 1 token`,
    engine: "quartet",
    variant: label,
    threads: 1,
    ...decode[i],
  });
  prefillMs.set(zeros, prefill[i].median_ms);
  decodeMs.set(zeros, decode[i].median_ms);
});
// The dense model's logits of the prompt's last token from an empty state, for llama.cpp's.
models[0].reset();
const ours = models[0].forward(prompt, { lastOnly: true });
for (const model of models) model.dispose();

// Two threads, decode and prefill: the same models on 2-thread kernels (built in the same
// mirrored order), taking turns, in cases of their own (peers on 2 threads beside them).
const models2: MambaModel[] = [];
const kernels2: Kernels[] = [];
for (const zeros of buildOrder) {
  const kr = await loadKernels({ threads: 2 });
  kernels2.push(kr);
  models2.push(new MambaModel(kr, cfg, zeros ? weights(zeros) : denseWeights));
}
for (const model of models2) {
  model.reset();
  model.forward(prompt, { lastOnly: true });
}
const decode2Timing = perVariant(interleaved(
  models2.map((model) => () => model.forward([42], { lastOnly: true })),
  { rounds, batchMs: 100, batches: 3 },
));
const decode2 = decode2Timing.map((t) => t.median_ms);
// Prefill on 2 threads too: the GEMMs split their rows, the scan its channels.
const prefill2Timing = perVariant(interleaved(
  models2.map((model) => () => {
    model.reset();
    model.forward(prompt, { lastOnly: true });
  }),
  { rounds, batchMs: 400, batches: 1 },
));
const case2 = `${name}: decode 1 token, 2 threads`;
variants.forEach((zeros, i) => {
  const label = `${variant} ${zeros ? `c4n:${zeros}` : "dense"}`;
  rows.push({ case: case2, engine: "quartet", variant: label, threads: 2, ...decode2Timing[i] });
  rows.push({
    case: `${name}: prefill 64 tokens, 2 threads`,
    engine: "quartet",
    variant: label,
    threads: 2,
    ...prefill2Timing[i],
  });
});
for (const model of models2) model.dispose();
for (const kr of kernels2) disposeKernels(kr);

// onnxruntime-web on 2 threads, in a fresh process (see ortTwoThreadChild).
const ort2 = await ortTwoThreadChild<Timing>(new URL(import.meta.url), quick);
rows.push({ case: case2, engine: "onnxruntime-web", variant: "wasm dense", threads: 2, ...ort2 });

// llama.cpp, native, on the same dense weights: f32 on one and two threads, and its 8-bit
// q8_0 on one (how llama.cpp is usually run), each in its own process after the rest (it
// cannot take turns with the others). Its logits of the prompt's last token are compared with
// Quartet's dense model's (`ours`, above).
const llama: {
  threads: number;
  storage: "f32" | "q8_0";
  decodeMs: number;
  prefillMs: number;
  api: number;
  diff: number;
}[] = [];
let llamaVersion = "";
for (const [threads, storage] of [[1, "f32"], [2, "f32"], [1, "q8_0"]] as const) {
  console.error(`  llama.cpp ${storage} on ${threads} thread(s)`);
  const r = await llamaCppMamba(cfg, denseWeights, {
    threads,
    prompt,
    decodeTokens: new Array(16).fill(42),
    rounds,
    storage,
  });
  llamaVersion = r.version;
  const common = { engine: "llama.cpp", variant: `native ${storage}`, threads };
  rows.push({
    case: threads === 1 ? `${name}: decode 1 token` : case2,
    ...common,
    median_ms: r.decodeMs,
    min_ms: r.fastest.decodeMs,
    runs: r.fastest.decodeRuns,
  });
  if (threads === 1) {
    rows.push({
      case: `${name}: prefill 64 tokens`,
      ...common,
      median_ms: r.prefillMs,
      min_ms: r.fastest.prefillMs,
      runs: r.fastest.prefillRuns,
    });
  }
  let diff = 0;
  for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i] - r.logits[i]));
  llama.push({
    threads,
    storage,
    decodeMs: r.decodeMs,
    prefillMs: r.prefillMs,
    api: r.api.decodeMs,
    diff,
  });
}

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
const dense = decodeMs.get(0)!;
const notes = [
  `Dense (${chosen.get(0)}): prefill ${(64000 / prefillMs.get(0)!).toFixed(0)} tok/s; ` +
  `decode ${(1000 / dense).toFixed(1)} tok/s.`,
  `Each Quartet time is the mean of two instances of the model, built in mirrored order (dense, ` +
  `C4,2, C4,3, C4,3, C4,2, dense) and timed in turns: on this host the same weights ran up to ` +
  `20 % slower in an arena built earlier in the process than in one built later, so one build ` +
  `order would flatter the models built last. In this run two instances of one variant ` +
  `differed by up to ${instanceSpread.toFixed(0)} %.`,
  ...([2, 3] as const).map((z) =>
    `C4,${z} (projections and LM head pruned; kernels: ${chosen.get(z)}): decode ` +
    `${(1000 / decodeMs.get(z)!).toFixed(1)} tok/s, ${(dense / decodeMs.get(z)!).toFixed(2)}× ` +
    `dense (target ${z === 2 ? "1.6" : "2.5"}×); prefill ` +
    `${(64000 / prefillMs.get(z)!).toFixed(0)} tok/s, ` +
    `${(prefillMs.get(0)! / prefillMs.get(z)!).toFixed(2)}× dense (its projections run ` +
    (c4nRunsEveryProduct(z)
      ? "the several-input C4n kernel, "
      : "the dense panels: the several-input C4n kernel is ") +
    `predicted at ${(C4N_GEMM_COST[z] * 100).toFixed(0)} % of the dense GEMM's time).`
  ),
  `Memory (the Wasm arena after building the model from weights already in memory, and its ` +
  `peak during the build): ${
    variants.map((z) => {
      const f = footprint.get(z)!;
      return `${z ? `C4,${z}` : "dense"} ${(f.live / 2 ** 20).toFixed(0)} MiB (peak ${
        (f.peak / 2 ** 20).toFixed(0)
      } MiB, built in ${(f.buildMs / 1000).toFixed(1)} s)`;
    }).join(", ")
  }. A pruned model keeps only its packed survivors${
    ([2, 3] as const).every(c4nRunsEveryProduct) ? "" : " (C4,2 also dense panels for prefill)"
  }: its prompts run the several-input C4n kernel too, not a dense copy (C4N_GEMM_COPY_LIMIT).`,
  `Loading from a checkpoint file (loadMamba in a child process; the file is read tensor by ` +
  `tensor into the arena, never held whole): ${
    variants.map((z) => {
      const { safetensors: f, package: p } = fromFile.get(z)!;
      return `${z ? `C4,${z}` : "dense"} ${(f.loadMs / 1000).toFixed(1)} s, peak process memory ${
        (f.peakRss / 1e9).toFixed(2)
      } GB${
        p
          ? ` (as a sparse package, model.qsp of ${(p.fileBytes / 1e6).toFixed(0)} MB: ${
            (p.loadMs / 1000).toFixed(1)
          } s, ${(p.peakRss / 1e9).toFixed(2)} GB)`
          : ""
      }`;
    }).join(", ")
  } (a ${(fromFile.get(0)!.safetensors.fileBytes / 1e6).toFixed(0)} MB safetensors file, f32).`,
  `Decode in those child processes, one model each as an app runs it (timed alone, not in ` +
  `turns, so host noise is not shared): ${
    variants.map((z) => {
      const ms = fromFile.get(z)!.safetensors.decodeMs;
      const d = fromFile.get(0)!.safetensors.decodeMs;
      return `${z ? `C4,${z}` : "dense"} ${ms.toFixed(1)} ms${
        z ? ` (${(d / ms).toFixed(2)}× dense)` : ""
      }`;
    }).join(", ")
  }. A model alone in a process got the arena placed earliest, which ran slowest here ` +
  `(see above); with transparent huge pages set to "always" (Linux) that penalty vanished.`,
  `Decode reads ${(weightBytes / 2 ** 20).toFixed(0)} MiB of f32 weights per token; at the ` +
  `measured copy bandwidth (${copyGBs.toFixed(1)} GB/s, read + write of a 256 MiB buffer) the ` +
  `roofline is ${roofMs.toFixed(1)} ms/token (${
    (1000 / roofMs).toFixed(1)
  } tok/s): dense decode runs at ${((100 * roofMs) / dense).toFixed(0)} % of it (target 70 %).`,
  `Two threads (each model on 2-thread kernels): dense ${decode2[0].toFixed(1)} ms ` +
  `(${(dense / decode2[0]).toFixed(2)}× its one-thread time), C4,2 ${decode2[1].toFixed(1)} ms ` +
  `(${(decodeMs.get(2)! / decode2[1]).toFixed(2)}×; ${(decode2[0] / decode2[1]).toFixed(2)}× ` +
  `dense on 2 threads), C4,3 ${decode2[2].toFixed(1)} ms ` +
  `(${(decodeMs.get(3)! / decode2[2]).toFixed(2)}×; ${(decode2[0] / decode2[2]).toFixed(2)}× ` +
  `dense on 2 threads). Decode streams every weight once per token, so a second core gains ` +
  `only where one core does not saturate the memory bus. Prefill of 64 tokens on 2 threads: ` +
  variants.map((z, i) =>
    `${z ? `C4,${z}` : "dense"} ${prefill2Timing[i].median_ms.toFixed(0)} ms ` +
    `(${(prefillMs.get(z)! / prefill2Timing[i].median_ms).toFixed(2)}× its one-thread time)`
  ).join(", ") + ".",
  `llama.cpp (${llamaVersion}; GGUF written from the same dense weights by ` +
  `bench/_llama_cpp.ts, one llama_decode per token, no sampling) decodes in ` +
  `${llama[0].decodeMs.toFixed(1)} ms/token on 1 thread and ${llama[1].decodeMs.toFixed(1)} ms ` +
  `on 2 (through node-llama-cpp's API, its sampler included: ${llama[0].api.toFixed(1)} ms on 1 ` +
  `thread), and prefills 64 tokens in ${llama[0].prefillMs.toFixed(0)} ms on 1 thread. On one ` +
  `thread Quartet decodes ${(llama[0].decodeMs / dense).toFixed(2)}× (dense), ` +
  `${(llama[0].decodeMs / decodeMs.get(2)!).toFixed(2)}× (C4,2) and ` +
  `${(llama[0].decodeMs / decodeMs.get(3)!).toFixed(2)}× (C4,3) as fast. llama.cpp's logits of ` +
  `the prompt's last token match Quartet's dense model within ${llama[0].diff.toExponential(1)}.`,
  `llama.cpp with q8_0 weights (8-bit blocks, about a quarter of the f32 bytes; dt_proj, ` +
  `whose rows of 48 do not fill its 32-value blocks, stays f32) decodes in ` +
  `${llama[2].decodeMs.toFixed(1)} ms/token on 1 thread and prefills 64 tokens in ` +
  `${llama[2].prefillMs.toFixed(0)} ms; its logits move by up to ${llama[2].diff.toFixed(2)} ` +
  `from dense. Quartet's C4,2 decodes ${(llama[2].decodeMs / decodeMs.get(2)!).toFixed(2)}× ` +
  `and C4,3 ${(llama[2].decodeMs / decodeMs.get(3)!).toFixed(2)}× as fast, with f32 survivors.`,
  `onnxruntime-web (wasm, 1 thread) runs one decode step of the dense model as an ONNX graph ` +
  `written from the Mamba-1 definition (tests/_mamba_onnx.ts; it has no prefill here): ` +
  `${ortDecodeMs.toFixed(1)} ms/token, so Quartet decodes ` +
  `${(ortDecodeMs / dense).toFixed(2)}× (dense), ` +
  `${(ortDecodeMs / decodeMs.get(2)!).toFixed(2)}× (C4,2) and ` +
  `${(ortDecodeMs / decodeMs.get(3)!).toFixed(2)}× (C4,3) faster. Its logits match ` +
  `Quartet's dense model within ${ortDiff.toExponential(1)} over 3 tokens from an empty state.`,
];
await report("mamba", "Mamba-1, one and two threads (ms)", rows, { unit: "ms" }, notes);
