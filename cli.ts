/**
 * Quartet's command line. Thin: parses arguments, calls the library, prints progress and
 * results.
 *
 *   deno run -A cli.ts <command> [options]
 *
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { init, InvalidArgumentError, loadModel, QuartetError, Tensor, VERSION } from "./mod.ts";
import { loadMamba } from "./mod.ts";
import { decodePng, encodePng, loadUpscaler } from "./mod.ts";
import type { GenerateOptions, KernelVariant, MambaModel, Model, UpscaleOptions } from "./mod.ts";
import { decodeNpy, encodeNpy } from "./engine/formats/npy.ts";
import { PRUNE_MASKS, type PruneMask, pruneOnnx } from "./engine/prune/prune.ts";
import { pruneTfjs } from "./engine/prune/prune_tfjs.ts";
import { type LayerReport, pruneReportMarkdown, pruneReportSvg } from "./engine/prune/report.ts";
import {
  isSafetensors,
  packSafetensors,
  packSparseModel,
} from "./engine/formats/sparse_package/pack.ts";
import { chromeTrace, profileSvg } from "./engine/profile_report.ts";

const USAGE = `Quartet ${VERSION}: run pruned neural networks fast with WebAssembly SIMD.

Usage: deno run -A cli.ts <command> [options]

Commands:
  info [model]         Show the kernel build this host gets and why; with a model, its
                       inputs, outputs, ops, parameters, fused layers, and per layer with
                       weights: zeros, the kernel chosen (dense or sparse format) and why,
                       with the predicted gain, and the time measured on one profiled run
                       (inputs from --input name=file.npy, else zeros); with a Mamba
                       checkpoint directory, its dimensions, tokenizer, parameters, the
                       kernel each projection got and why, and one decoded token's time
  run <model>          Run a model: --input name=file.npy (repeatable; missing inputs are
                       zeros with symbolic dims set to 1), --output <dir> writes .npy files,
                       --runs N times it, --profile prints the slowest layers and
                       writes profile.trace.json (Chrome trace) and profile.svg
  generate --model <dir|url> --prompt "…" [--max-tokens N --temperature T --top-k K
           --top-p P --seed S]
                       Mamba-1 text generation (Hugging Face checkpoint); streams the text,
                       ends with prefill and decode tokens/s (tokenizer.json when the
                       checkpoint has one, else UTF-8 bytes)
  upscale <in.png> <out.png> [--model esrgan-slim|esrgan-medium|esrgan-thick|<model.json>
           --scale 2|3|4 --tile 128]
                       Super-resolution, tile by tile with a progress bar; ends with MP/s
  prune <model.onnx|model.json> --scheme <scheme> --out <file> [--calib <dir of .npy>]
           [--holdout <dir of .npy>] [--calib-random N] [--layers <regexp>] [--all-layers]
           [--max-error E] [--only-faster] [--mask magnitude|obs|obs-swap]
                       Prune weights to a structure Quartet runs sparse: c4n:1|c4n:2|c4n:3
                       (Conv/MatMul/Gemm), pattern[:<removed fraction>] (3x3 Conv: 4 of 9
                       taps, 30 % of kernels removed by default), block:<kept fraction>
                       (MatMul/Gemm, e.g. block:0.25), joined with + to give each layer the
                       first that fits (pattern+c4n:2). With calibration inputs, C4n and
                       pattern masks by OBS error on the inputs' Gram matrix (SparseGPT;
                       --mask magnitude: activation-aware magnitude; --mask obs-swap: OBS
                       C4n masks then improved by swaps, slower) and a least-squares
                       refit of the survivors, else magnitude masks; first and last layers
                       stay dense (the last refit to the pruned inputs) unless
                       --all-layers; layers whose output error exceeds E (0.1 = 10 %), or
                       with --only-faster those the kernels' cost models predict no faster,
                       stay dense. Prints the per-layer report with each layer's predicted
                       speedup and the whole model's output error on the calibration and
                       --holdout samples, writes <out>.md and <out>.svg. An --out ending in
                       .qsp writes a sparse package (see pack) directly. A TF.js layers
                       model.json gives a TF.js model.json (--out) and its weight shard
                       beside it. --calib-random N: N random inputs, free dims 1 on the
                       first axis and on the others 32, doubled until the model runs. A
                       Mamba checkpoint directory (config.json + safetensors) gives a
                       directory with model.safetensors: C4n on its projections, calibrated
                       on --calib-text <file.txt>
  pack <model.onnx> --out <file.qsp> [--f16]
                       Quartet sparse package: each large weight stored as a bit mask of
                       its non-zeros plus their values (float16 with --f16), the rest of
                       the model as ONNX; loads like an .onnx file, smaller to download.
                       A Mamba checkpoint directory gives a directory (--out) with
                       model.qsp, config.json and the tokenizer files, which loadMamba,
                       generate and info read like the checkpoint
  bench [--quick]      Dense GEMM/GEMV benchmark: Quartet vs onnxruntime-web and TensorFlow.js
                       (wasm), one thread; writes bench/results/gemm.{md,svg,json}
  demo                 What this host gets, a tiny model, the GEMM table vs the peers, and
                       examples/images/demo.png upscaled 2x with ESRGAN-slim

Options:
  --kernels <build>    scalar | simd | relaxed | auto (default auto)
  --threads <n|auto>   worker threads for run, info <model>, upscale and generate (default
                       1); needs SharedArrayBuffer; the thread state and the reason are
                       printed
  -h, --help           Show this help
  -v, --version        Show the version
`;

class UsageError extends Error {}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        kernels: { type: "string", default: "auto" },
        threads: { type: "string", default: "1" },
        quick: { type: "boolean", default: false },
        input: { type: "string", multiple: true, default: [] },
        output: { type: "string" },
        runs: { type: "string", default: "1" },
        profile: { type: "boolean", default: false },
        model: { type: "string" },
        prompt: { type: "string", default: "" },
        "max-tokens": { type: "string", default: "64" },
        temperature: { type: "string", default: "0" },
        "top-k": { type: "string", default: "0" },
        "top-p": { type: "string", default: "1" },
        seed: { type: "string", default: "1" },
        scale: { type: "string", default: "2" },
        scheme: { type: "string" },
        out: { type: "string" },
        calib: { type: "string" },
        "calib-random": { type: "string", default: "0" },
        holdout: { type: "string" },
        "calib-text": { type: "string" },
        layers: { type: "string" },
        "all-layers": { type: "boolean", default: false },
        "max-error": { type: "string" },
        "only-faster": { type: "boolean", default: false },
        mask: { type: "string" },
        f16: { type: "boolean", default: false },
        tile: { type: "string", default: "128" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Checks a --mask value. */
function maskOption(value: string | undefined): PruneMask | undefined {
  if (value === undefined || (PRUNE_MASKS as readonly string[]).includes(value)) {
    return value as PruneMask | undefined;
  }
  const names = PRUNE_MASKS.join(", ").replace(/, ([^,]*)$/, " or $1");
  throw new UsageError(`Invalid --mask value "${value}": use ${names}`);
}

/** Checks a --layers value up front: a bad pattern names itself before any work starts. */
function layersOption(value: string | undefined): string | undefined {
  if (value === undefined) return value;
  try {
    new RegExp(value);
  } catch (e) {
    // "Invalid regular expression: /(/: Unterminated group" → "Unterminated group".
    const why = (e as Error).message.replace(/^.*: /, "");
    throw new InvalidArgumentError(
      `Invalid --layers value "${value}": not a regular expression (${why}); give a ` +
        'JavaScript RegExp source matched against node names, e.g. "^conv" or "fc1|fc2", ' +
        "with a backslash before ( ) [ ] . * + ? to match it literally",
    );
  }
  return value;
}

function kernelsOption(value: string): KernelVariant | "auto" {
  if (!["auto", "scalar", "simd", "relaxed"].includes(value)) {
    throw new UsageError(`Unknown --kernels value "${value}": use scalar, simd, relaxed or auto`);
  }
  return value as KernelVariant | "auto";
}

/** Throws a UsageError when `out` names the same file or directory as `input`. */
function refuseOverwrite(input: string, out: string, what: string): void {
  if (resolve(input) === resolve(out)) {
    throw new UsageError(
      `The --out path "${out}" is the input ${what}: write the result elsewhere`,
    );
  }
}

/**
 * A numeric option's value: a number (a whole one unless `fraction`) in [min, max], else a
 * UsageError naming the option.
 */
function numberOption(
  name: string,
  value: string,
  min: number,
  { max = Infinity, fraction = false } = {},
): number {
  const n = value.trim() === "" ? NaN : Number(value);
  if (!(n >= min && n <= max) || (!fraction && !Number.isInteger(n))) {
    const kind = fraction ? "a number" : "a whole number";
    const range = max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`Invalid --${name} value "${value}": use ${kind} ${range}`);
  }
  return n;
}

function threadsOption(value: string): number | "auto" {
  if (value === "auto") return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Invalid --threads value "${value}": use a whole number or auto`);
  }
  return n;
}

async function info(kernels: KernelVariant | "auto"): Promise<void> {
  const q = await init({ kernels });
  const i = q.info;
  console.log(`Quartet ${VERSION}`);
  console.log(`kernels: ${i.variant} (${i.reason})`);
  console.log(
    `host: simd ${i.features.simd ? "yes" : "no"}, relaxed simd ${
      i.features.relaxedSimd ? (i.features.relaxedFused ? "yes (fused)" : "yes (not fused)") : "no"
    }, threads ${i.features.threads ? "yes" : `no (${i.features.threadsMissing})`}`,
  );
  q.dispose();
}

/** A tiny built-in model: a 2-layer MLP (64 → 256 → 10) on fixed pseudo-random weights. */
async function tinyModel(kernels: KernelVariant | "auto"): Promise<void> {
  const q = await init({ kernels });
  let seed = 1;
  const rand = (n: number) =>
    Float32Array.from(
      { length: n },
      () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5),
    );
  const x = new Tensor("float32", rand(8 * 64), [8, 64]);
  const w1 = new Tensor("float32", rand(64 * 256), [64, 256]);
  const w2 = new Tensor("float32", rand(256 * 10), [256, 10]);
  const t0 = performance.now();
  const h = q.matmul(x, w1, { bias: rand(256), activation: "gelu_erf" });
  const y = q.matmul(h, w2, { bias: rand(10) });
  const ms = performance.now() - t0;
  const top = [...y.data.subarray(0, 10)].map((v) => v.toFixed(3)).join(" ");
  console.log(`Tiny MLP (8x64 → 256 GELU → 10) on ${q.info.variant} kernels: ${ms.toFixed(2)} ms`);
  console.log(`first row of logits: ${top}`);
  q.dispose();
}

function fmtBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/** Whether `path` is a local directory holding a config.json (a Mamba checkpoint). */
async function isCheckpointDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory && (await Deno.stat(`${path}/config.json`)).isFile;
  } catch {
    return false;
  }
}

/**
 * `info` on a Mamba checkpoint: its dimensions, parameters, tokenizer, the kernel each
 * projection got, and one decoded token's time and arena peak.
 */
async function mambaInfo(
  path: string,
  kernels: KernelVariant | "auto",
  threads: number | "auto",
): Promise<void> {
  const model = await loadMamba(path, { kernels, threads });
  try {
    const c = model.config;
    console.log(`
Mamba checkpoint: ${path}`);
    console.log(
      `  d_model ${c.dModel}, ${c.layers} layers, d_inner ${c.dInner}, d_state ${c.dState}, ` +
        `dt_rank ${c.dtRank}, vocab ${c.vocab}`,
    );
    console.log(
      `  tokenizer: ${
        model.tokenizer.kind === "bytes" ? "none (UTF-8 bytes as tokens)" : "tokenizer.json"
      }`,
    );
    // A prompt token, then one decoded token, timed: the kernels are chosen by then.
    model.forward([0]);
    const t0 = performance.now();
    model.forward([0], { lastOnly: true });
    const ms = performance.now() - t0;
    const s = model.summary();
    console.log(`  parameters: ${s.parameters.toLocaleString("en")}`);
    console.log(`  threads: ${s.threads.count} (${s.threads.reason})`);
    const counts = new Map<string, number>();
    for (const k of s.kernelChoices) counts.set(k.format, (counts.get(k.format) ?? 0) + 1);
    console.log(
      `  projections with a kernel choice: ${
        counts.size ? [...counts].map(([f, n]) => `${n} ${f}`).join(", ") : "none (all dense)"
      }`,
    );
    // One line per projection and choice: the layers of a checkpoint mostly choose alike.
    const groups = new Map<string, { name: string; layers: number[]; line: string }>();
    for (const k of s.kernelChoices) {
      const layer = /\.layers\.(\d+)\./.exec(k.name);
      const name = k.name.replace(/\.layers\.\d+\./, ".layers.*.");
      const line = `${k.format} (${k.reason})`;
      const key = `${name}\n${line}`;
      const g = groups.get(key) ?? { name, layers: [], line };
      if (layer) g.layers.push(Number(layer[1]));
      groups.set(key, g);
    }
    for (const { name, layers, line } of groups.values()) {
      const where = layers.length === 0
        ? ""
        : layers.length === c.layers
        ? " (every layer)"
        : ` (layers ${layers.join(", ")})`;
      console.log(`    ${name}${where}: ${line}`);
    }
    console.log(
      `  one decoded token: ${ms.toFixed(2)} ms; peak arena ${fmtBytes(s.peakMemoryBytes)}`,
    );
  } finally {
    model.dispose();
  }
}

async function modelInfo(
  path: string,
  kernels: KernelVariant | "auto",
  threads: number | "auto",
  inputs: string[],
): Promise<void> {
  if (await isCheckpointDir(path)) return await mambaInfo(path, kernels, threads);
  const model = await loadModel(path, { kernels, threads });
  const s = model.summary();
  console.log(`\nmodel: ${path}`);
  console.log(`  threads: ${s.threads.count} (${s.threads.reason})`);
  for (const i of model.inputs) console.log(`  input  ${i.name}: ${i.type} [${i.dims.join(", ")}]`);
  for (const o of model.outputs) {
    console.log(`  output ${o.name}: ${o.type} [${o.dims.join(", ")}]`);
  }
  console.log(`  parameters: ${s.parameters.toLocaleString("en")}`);
  console.log(`  fused activations: ${s.fusedActivations}`);
  const ops = Object.entries(s.ops).sort((a, b) => b[1] - a[1]);
  console.log(`  ops: ${ops.map(([op, n]) => `${op} ${n}`).join(", ")}`);
  const sized = await feedsFor(model, inputs, () => loadModel(path, { kernels, threads }));
  try {
    await weightLayers(sized.model, sized.feeds);
  } finally {
    sized.model.dispose();
  }
}

/**
 * Runs the model once to warm up (kernels are chosen from the weights on the first run) and
 * once profiled, then prints each layer with weights: sparsity, the kernel chosen and why
 * (with the cost model's prediction), and its measured time.
 */
async function weightLayers(model: Model, feeds: Record<string, Tensor>): Promise<void> {
  try {
    await model.run(feeds);
    await model.run(feeds, { profile: true });
  } catch (e) {
    if (!(e instanceof QuartetError)) throw e;
    console.log(`  (no per-layer timing: the model did not run on these inputs: ${e.message})`);
    return;
  }
  const s = model.summary();
  const ms = new Map((model.lastProfile ?? []).map((p) => [p.node, p.ms]));
  const rows = s.layers.filter((l) => l.weights !== undefined);
  if (!rows.length) return;
  const total = [...ms.values()].reduce((a, b) => a + b, 0);
  console.log(`  layers with weights (one profiled run, ${total.toFixed(2)} ms in all):`);
  console.log(
    `    ${"node".padEnd(32)} ${"op".padEnd(8)} ${"zeros".padStart(6)}  ` +
      `${"kernel".padEnd(14)} ${"ms".padStart(8)}  why`,
  );
  for (const l of rows) {
    const choice = s.kernelChoices.find((c) => c.name.startsWith(`${l.weights} `));
    const time = ms.get(l.node);
    console.log(
      `    ${l.node.slice(0, 32).padEnd(32)} ${l.op.padEnd(8)} ` +
        `${((l.sparsity ?? 0) * 100).toFixed(0).padStart(5)}%  ` +
        `${(choice?.format ?? "dense").padEnd(14)} ` +
        `${time === undefined ? "—".padStart(8) : time.toFixed(3).padStart(8)}  ` +
        `${choice?.reason ?? "-"}`,
    );
  }
}

/**
 * Feeds from `--input name=file.npy` and zeros for the inputs not given, their free dims sized
 * by trial runs, with the model to run them on. A model packs each layer's weights on the first
 * run that reaches it, for that run's shapes: when a trial failed partway (a size too small for
 * a pooling), `model` is disposed and a fresh one comes from `reload`, so no layer keeps the
 * kernel chosen for the failed size.
 */
async function feedsFor(
  model: Model,
  inputs: string[],
  reload: () => Promise<Model>,
): Promise<{ feeds: Record<string, Tensor>; model: Model; warm: boolean }> {
  const feeds: Record<string, Tensor> = {};
  for (const spec of inputs) {
    const eq = spec.indexOf("=");
    if (eq < 1) throw new UsageError(`Invalid --input "${spec}": use --input name=file.npy`);
    const name = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    if (!file.endsWith(".npy")) {
      throw new UsageError(
        `Input "${name}" is read from "${file}", not a .npy file: only .npy files are read ` +
          `(save the array with numpy.save)`,
      );
    }
    feeds[name] = decodeNpy(Deno.readFileSync(file), file);
  }
  const missing = model.inputs.filter((i) => !feeds[i.name]);
  const zeros = (free: number) => {
    const out = { ...feeds };
    for (const i of missing) {
      const dims = inputDims(i.dims, free);
      const n = dims.reduce((a, b) => a * b, 1);
      const data = i.type === "int64"
        ? new BigInt64Array(n)
        : i.type === "float32"
        ? new Float32Array(n)
        : i.type === "int32"
        ? new Int32Array(n)
        : new Uint8Array(n);
      out[i.name] = new Tensor(i.type, data as Tensor["data"], dims);
    }
    return out;
  };
  // Free dims start at 1; a model that pools them away to nothing gets 32, 64, … 512.
  const { size, failed, ran } = runnableFreeSize(model, missing, 1, zeros);
  if (failed) {
    model.dispose();
    model = await reload();
  }
  const out = zeros(size);
  for (const i of missing) {
    console.error(`note: input "${i.name}" not given: zeros [${out[i.name].dims.join(", ")}]`);
  }
  return { feeds: out, model, warm: ran && !failed };
}

async function runModel(
  path: string,
  kernels: KernelVariant | "auto",
  opts: {
    input?: string[];
    output?: string;
    runs?: string;
    profile?: boolean;
    threads?: string;
  },
): Promise<void> {
  const t0 = performance.now();
  const threads = threadsOption(opts.threads ?? "1");
  const runs = numberOption("runs", opts.runs ?? "1", 1);
  const loaded = await loadModel(path, { kernels, threads });
  const state = loaded.summary().threads;
  console.error(`threads: ${state.count} (${state.reason})`);
  const tLoad = performance.now() - t0;
  const reload = () => loadModel(path, { kernels, threads });
  const { feeds, model, warm } = await feedsFor(loaded, opts.input ?? [], reload);
  const times: number[] = [];
  let out: Record<string, Tensor> = {};
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = await model.run(feeds, { profile: opts.profile && i === runs - 1 });
    times.push(performance.now() - t);
    if (runs > 1) progress(`run ${i + 1}/${runs}`, i + 1 === runs);
  }
  const first = times[0];
  times.sort((a, b) => a - b);
  const s = model.summary();
  // With --threads auto, the runs decide: say what they chose.
  if (s.threads.reason !== state.reason) {
    console.error(`threads after the runs: ${s.threads.count} (${s.threads.reason})`);
  }
  console.log(
    `loaded in ${tLoad.toFixed(1)} ms (${s.kernels.variant} kernels); first run ` +
      `${first.toFixed(2)} ms` +
      (warm ? " (after a run sizing the free input dims)" : "") +
      (runs > 1 ? `, median ${times[times.length >> 1].toFixed(2)} ms over ${runs} runs` : "") +
      `; peak arena ${fmtBytes(s.peakMemoryBytes)}`,
  );
  const sparse = s.kernelChoices.filter((c) => c.format !== "dense");
  if (sparse.length) {
    console.log(`sparse layers: ${sparse.length} of ${s.kernelChoices.length}`);
  }
  for (const [name, t] of Object.entries(out)) {
    const head = Array.from(t.data as ArrayLike<number | bigint>).slice(0, 8).map((v) =>
      typeof v === "number" ? Number(v.toPrecision(5)) : v
    );
    console.log(
      `${name}: ${t.type} [${t.dims.join(", ")}] ${head.join(" ")}${t.size > 8 ? " …" : ""}`,
    );
    if (opts.output) {
      Deno.mkdirSync(opts.output, { recursive: true });
      const file = `${opts.output}/${name.replace(/[^\w.-]/g, "_")}.npy`;
      Deno.writeFileSync(file, encodeNpy(t));
      console.log(`  wrote ${file}`);
    }
  }
  if (opts.profile && model.lastProfile) {
    const top = [...model.lastProfile].sort((a, b) => b.ms - a.ms).slice(0, 10);
    console.log("slowest layers:");
    for (const p of top) {
      console.log(`  ${p.ms.toFixed(3).padStart(9)} ms  ${p.op.padEnd(12)} ${p.node}`);
    }
    const dir = opts.output ?? ".";
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(`${dir}/profile.trace.json`, chromeTrace(model.lastProfile, path));
    Deno.writeTextFileSync(`${dir}/profile.svg`, profileSvg(model.lastProfile));
    console.log(
      `wrote ${dir}/profile.trace.json (open in chrome://tracing) and ${dir}/profile.svg`,
    );
  }
  model.dispose();
}

async function generate(
  source: string,
  prompt: string,
  options: GenerateOptions,
  kernels: KernelVariant | "auto",
  threads: number | "auto",
): Promise<void> {
  const model = await loadMamba(source, { kernels, threads });
  try {
    await generateText(model, prompt, options);
  } finally {
    // Also stops the worker threads, which would keep the process alive after an error.
    model.dispose();
  }
}

async function generateText(
  model: MambaModel,
  prompt: string,
  options: GenerateOptions,
): Promise<void> {
  if (model.config.vocab < 256) {
    throw new UsageError(
      `The model's vocabulary has ${model.config.vocab} tokens: byte-level prompts need ≥ 256`,
    );
  }
  const tokens = [...new TextEncoder().encode(prompt)];
  if (tokens.length === 0) throw new UsageError("The generate command needs a non-empty --prompt");
  const out = Deno.stdout;
  const enc = new TextEncoder();
  const bytes: number[] = [];
  const it = model.generate(tokens, options);
  let r = await it.next();
  while (!r.done) {
    bytes.push(r.value);
    // Print whole UTF-8 sequences only.
    const text = new TextDecoder("utf-8", { fatal: false }).decode(new Uint8Array(bytes), {
      stream: true,
    });
    if (!text.endsWith("\uFFFD")) {
      out.writeSync(enc.encode(text));
      bytes.length = 0;
    }
    r = await it.next();
  }
  const s = r.value;
  console.log(
    `\n[${s.promptTokens} prompt tokens: ${s.prefillTokensPerSecond.toFixed(1)} tok/s prefill; ` +
      `${s.generatedTokens} generated: ${s.decodeTokensPerSecond.toFixed(1)} tok/s decode]`,
  );
  // With --threads auto, what the trial over the first tokens chose.
  console.error(`threads: ${model.threads.count} (${model.threads.reason})`);
}

/**
 * A progress line on stderr, redrawn in place on a terminal. When stderr is a file or a pipe
 * (CI logs) only the last state is written, once, instead of one line per step.
 */
function progress(text: string, last: boolean): void {
  if (Deno.stderr.isTerminal()) {
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${text}${last ? "\n" : ""}`));
  } else if (last) {
    console.error(text);
  }
}

async function upscaleFile(input: string, output: string, options: UpscaleOptions): Promise<void> {
  const image = await decodePng(await Deno.readFile(input), input);
  console.error(`loading ${options.model ?? "esrgan-slim"} x${options.scale ?? 2}…`);
  const up = await loadUpscaler(options);
  const bar = (done: number, total: number) => {
    const width = 30;
    const fill = Math.round((done / total) * width);
    progress(
      `[${"#".repeat(fill)}${".".repeat(width - fill)}] tile ${done}/${total}`,
      done === total,
    );
  };
  try {
    const r = up.upscale(image, { ...options, onProgress: bar });
    // Written whole at the end: a failed run leaves no partial file behind.
    await Deno.writeFile(output, await encodePng(r.image));
    console.log(
      `${input} (${image.width}x${image.height}) → ${output} (${r.image.width}x${r.image.height}) ` +
        `in ${r.ms.toFixed(0)} ms: ${
          r.megapixelsPerSecond.toFixed(2)
        } MP/s on ${up.variant} kernels`,
    );
  } finally {
    up.dispose();
  }
}

/** Samples from a directory of name.npy or name.N.npy files (input "name", sample N). */
async function readSamples(dir: string): Promise<Record<string, Tensor>[]> {
  const samples = new Map<string, Record<string, Tensor>>();
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    const m = /^(.+?)(?:\.(\d+))?\.npy$/.exec(e.name);
    if (!m) continue;
    const key = m[2] ?? "0";
    const s = samples.get(key) ?? {};
    s[m[1]] = decodeNpy(await Deno.readFile(`${dir}/${e.name}`), e.name);
    samples.set(key, s);
  }
  if (samples.size === 0) {
    throw new UsageError(`"${dir}" holds no .npy inputs (name.npy, or name.<i>.npy per sample)`);
  }
  return [...samples.values()];
}

/**
 * How far the pruned model's outputs move from the dense model's on some samples: per
 * output, ‖y_pruned − y_dense‖ / ‖y_dense‖ over all of them.
 */
async function outputAgreement(
  dense: Model,
  pruned: Model,
  samples: Record<string, Tensor>[],
): Promise<string> {
  const err = new Map<string, [number, number]>();
  for (const feeds of samples) {
    const [a, b] = [await dense.run(feeds), await pruned.run(feeds)];
    for (const [name, t] of Object.entries(a)) {
      if (t.type !== "float32") continue;
      const [x, y] = [t.data as Float32Array, b[name].data as Float32Array];
      const e = err.get(name) ?? [0, 0];
      for (let i = 0; i < x.length; i++) {
        [e[0], e[1]] = [e[0] + (y[i] - x[i]) ** 2, e[1] + x[i] ** 2];
      }
      err.set(name, e);
    }
  }
  return [...err].map(([name, [d, n]]) =>
    `"${name}" ${(100 * Math.sqrt(d / Math.max(n, 1e-30))).toFixed(2)} %`
  ).join(", ");
}

/**
 * Prunes a Hugging Face Mamba checkpoint directory to C4n: writes model.safetensors (with its
 * config.json and tokenizer.json) into the --out directory, and the report beside them.
 */
async function pruneMambaDir(
  dir: string,
  opts: { scheme?: string; out?: string; "calib-text"?: string; layers?: string },
): Promise<void> {
  refuseOverwrite(dir, opts.out!, "checkpoint");
  const { pruneMamba, readMambaFiles } = await import("./engine/prune/api.ts");
  const input = await readMambaFiles(dir);
  let calibration: number[][] | undefined;
  if (opts["calib-text"]) {
    // The checkpoint's own tokenizer, else UTF-8 bytes; sequences of at most 256 tokens.
    const { BYTE_TOKENIZER, tokenizerFromJson } = await import(
      "./engine/models/mamba/tokenizer.ts"
    );
    const json = await Deno.readTextFile(`${dir}/tokenizer.json`).catch(() => undefined);
    const tokenizer = json ? await tokenizerFromJson(JSON.parse(json)) : BYTE_TOKENIZER;
    const ids = tokenizer.encode(await Deno.readTextFile(opts["calib-text"]));
    calibration = [];
    for (let at = 0; at < ids.length; at += 256) calibration.push(ids.slice(at, at + 256));
  } else {
    console.error("warning: no calibration text (--calib-text): magnitude pruning only");
  }
  const r = await pruneMamba(input, {
    scheme: opts.scheme!,
    layers: opts.layers,
    calibration,
    onLayer: (l) => console.error(`  ${l.node}: ${l.scheme ?? `dense (${l.skipped})`}`),
  });
  await Deno.mkdir(opts.out!, { recursive: true });
  await Deno.writeFile(`${opts.out}/model.safetensors`, r.files["model.safetensors"]);
  await Deno.writeTextFile(`${opts.out}/config.json`, JSON.stringify(input.config, null, 2));
  await Deno.copyFile(`${dir}/tokenizer.json`, `${opts.out}/tokenizer.json`).catch(() => {});
  const md = pruneReportMarkdown(r.layers);
  await Deno.writeTextFile(`${opts.out}/prune_report.md`, `# Pruning report: ${dir}\n\n${md}\n`);
  await Deno.writeTextFile(
    `${opts.out}/prune_report.svg`,
    pruneReportSvg(r.layers, `${dir}, ${opts.scheme}`),
  );
  console.log(md);
  console.log(`wrote ${opts.out}/model.safetensors, config.json and prune_report.{md,svg}`);
}

/**
 * `count` random float32 samples for `model` (--calib-random). Free dims are 1 on the first
 * axis and the smallest of 32, 64, … 512 on the others at which the model runs: a size that
 * pools away to nothing (PP-OCR cls at 32 wide) is an error of the size, not of the model.
 */
function randomSamples(model: Model, count: number): Record<string, Tensor>[] {
  for (const inp of model.inputs) {
    if (inp.type !== "float32") {
      throw new UsageError(
        `Cannot make random calibration data (--calib-random) for input "${inp.name}": it ` +
          `is "${inp.type}", not float32; give samples with --calib instead`,
      );
    }
  }
  let seed = 1;
  const sample = (free: number) => {
    const s: Record<string, Tensor> = {};
    for (const inp of model.inputs) {
      const dims = inputDims(inp.dims, free);
      const n = dims.reduce((a, b) => a * b, 1);
      s[inp.name] = new Tensor(
        "float32",
        Float32Array.from(
          { length: n },
          () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5,
        ),
        dims,
      );
    }
    return s;
  };
  const { size } = runnableFreeSize(model, model.inputs, 32, sample);
  return Array.from({ length: count }, () => sample(size));
}

/** An input's dims with its free ones set: 1 on the first axis (batch), `free` elsewhere. */
function inputDims(dims: readonly (number | string)[], free: number): number[] {
  return dims.map((d, k) => (typeof d === "number" ? d : k === 0 ? 1 : free));
}

/**
 * The first size from `start` (then 32, 64, … 512) for the free non-batch dims of `inputs` at
 * which the model runs on `feeds(size)`, whether a smaller size failed first (its run may have
 * packed layers for its shapes) and whether one ran; `start` when those inputs have no free dim
 * or no size runs (the caller's run then reports the model's own error).
 */
function runnableFreeSize(
  model: Model,
  inputs: readonly { dims: readonly (number | string)[] }[],
  start: number,
  feeds: (free: number) => Record<string, Tensor>,
): { size: number; failed: boolean; ran: boolean } {
  const free = inputs.some((i) => i.dims.some((d, k) => k > 0 && typeof d !== "number"));
  if (!free) return { size: start, failed: false, ran: false };
  let failed = false;
  for (const size of [start, 32, 64, 128, 256, 512].filter((s) => s >= start)) {
    try {
      model.runSync(feeds(size));
      return { size, failed, ran: true };
    } catch {
      // Too small for the model: try the next size.
      failed = true;
    }
  }
  return { size: start, failed, ran: false };
}

async function pruneFile(
  path: string,
  opts: {
    scheme?: string;
    out?: string;
    calib?: string;
    holdout?: string;
    "calib-random"?: string;
    layers?: string;
    "all-layers"?: boolean;
    "max-error"?: string;
    "only-faster"?: boolean;
    mask?: string;
    f16?: boolean;
  },
): Promise<void> {
  const maxError = opts["max-error"] === undefined ? undefined : Number(opts["max-error"]);
  if (maxError !== undefined && !(maxError > 0)) {
    throw new UsageError(
      `The --max-error value must be a relative output error above 0, such as 0.1 for 10 %, not "${
        opts["max-error"]
      }"`,
    );
  }
  const mask = maskOption(opts.mask);
  refuseOverwrite(path, opts.out!, "model");
  const tfjs = /\.json$/i.test(path);
  if (tfjs && !/\.json$/i.test(opts.out!)) {
    throw new UsageError(
      `A TF.js model is pruned to a TF.js model: give --out a model.json path, not "${opts.out}"`,
    );
  }
  // The pruned weights go beside --out under its own name ("pruned.json": pruned.weights.bin),
  // never over a shard the input model reads.
  const shard = opts.out!.replace(/\.json$/i, ".weights.bin");
  if (tfjs) {
    const manifest = JSON.parse(await Deno.readTextFile(path)).weightsManifest ?? [];
    const inputShards = manifest.flatMap((g: { paths?: string[] }) => g.paths ?? [])
      .map((p: string) => resolve(path, "..", p));
    if (inputShards.includes(resolve(shard))) {
      throw new UsageError(
        `The --out path "${opts.out}" would write its weights over the input's ${shard}`,
      );
    }
  }
  const bytes = tfjs ? new Uint8Array(0) : await Deno.readFile(path);
  const calibration = opts.calib ? await readSamples(opts.calib) : [];
  const holdout = opts.holdout ? await readSamples(opts.holdout) : [];
  const random = numberOption("calib-random", opts["calib-random"] ?? "0", 0);
  if (random > 0) {
    const model = await loadModel(tfjs ? path : bytes);
    try {
      calibration.push(...randomSamples(model, random));
    } finally {
      model.dispose();
    }
  }
  if (calibration.length === 0) {
    console.error(
      "warning: no calibration data (--calib or --calib-random): magnitude pruning only, quality will suffer",
    );
  }
  const options = {
    scheme: opts.scheme!,
    calibration,
    layers: opts.layers,
    keepFirstLast: !opts["all-layers"],
    maxError: maxError,
    onlyFaster: opts["only-faster"],
    mask,
    onLayer: (l: LayerReport) =>
      console.error(`  ${l.node}: ${l.scheme ?? `dense (${l.skipped})`}`),
  };
  let layers: LayerReport[];
  if (tfjs) {
    const r = await pruneTfjs(path, { ...options, shardName: shard.replace(/.*[/\\]/, "") });
    layers = r.layers;
    await Deno.writeTextFile(opts.out!, r.modelJson);
    await Deno.writeFile(shard, r.shard);
    console.error(`wrote the weights to ${shard}`);
  } else {
    const r = await pruneOnnx(bytes, options);
    layers = r.layers;
    if (/\.qsp$/i.test(opts.out!)) await packFile(r.bytes, opts.out!, opts.f16 ?? false);
    else await Deno.writeFile(opts.out!, r.bytes);
  }
  let md = pruneReportMarkdown(layers);
  // Whole-model agreement, on the calibration samples and on held-out ones.
  const sets = [["calibration", calibration], ["held-out", holdout]] as const;
  if (sets.some(([, s]) => s.length)) {
    const [dense, pruned] = [await loadModel(tfjs ? path : bytes), await loadModel(opts.out!)];
    try {
      for (const [what, samples] of sets) {
        if (!samples.length) continue;
        const line = await outputAgreement(dense, pruned, samples);
        md += `\n\nOutput error of the pruned model vs dense (‖Δy‖ / ‖y‖) on ${samples.length} ` +
          `${what} sample(s): ${line}.`;
      }
    } finally {
      dense.dispose();
      pruned.dispose();
    }
  }
  await Deno.writeTextFile(`${opts.out}.md`, `# Pruning report: ${path}\n\n${md}\n`);
  await Deno.writeTextFile(`${opts.out}.svg`, pruneReportSvg(layers, `${path}, ${opts.scheme}`));
  console.log(md);
  console.log(`wrote ${opts.out}, ${opts.out}.md and ${opts.out}.svg`);
}

/**
 * Packs a Mamba checkpoint directory (single model.safetensors) into the --out directory:
 * model.qsp, config.json and the tokenizer files.
 */
async function packMambaDir(dir: string, out: string, float16: boolean): Promise<void> {
  refuseOverwrite(dir, out, "checkpoint");
  let weights: Uint8Array;
  try {
    weights = await Deno.readFile(`${dir}/model.safetensors`);
  } catch (cause) {
    throw new UsageError(
      `The pack command reads a checkpoint's single model.safetensors, and "${dir}" has none ` +
        `(sharded checkpoints are not packed): ${(cause as Error).message}`,
    );
  }
  await Deno.mkdir(out, { recursive: true });
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(`${dir}/${f}`, `${out}/${f}`).catch((e) => {
      if (f === "config.json") throw e;
    });
  }
  await packFile(weights, `${out}/model.qsp`, float16, "model.safetensors");
}

/**
 * Writes ONNX or safetensors bytes as a sparse package and prints what each weight became.
 * `what` names the input in the summary.
 */
async function packFile(
  model: Uint8Array,
  out: string,
  float16: boolean,
  what = "ONNX model",
): Promise<void> {
  const { bytes, tensors } = isSafetensors(model)
    ? packSafetensors(model, { float16 })
    : packSparseModel(model, { float16 });
  await Deno.writeFile(out, bytes);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  for (const t of tensors) {
    console.error(
      `  ${t.name} [${t.dims.join("x")}]: ${(t.zeros * 100).toFixed(1)} % zeros, ${t.layout} ` +
        `${t.dtype}, ${kb(t.bytesBefore)} → ${kb(t.bytesAfter)}${t.note ? ` (${t.note})` : ""}`,
    );
  }
  console.log(
    `wrote ${out}: ${kb(bytes.length)} (${(bytes.length / model.length * 100).toFixed(1)} % of ` +
      `the ${kb(model.length)} ${what})`,
  );
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version) {
    console.log(VERSION);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const kernels = kernelsOption(values.kernels!);
  // Files each command takes at most (upscale checks its two itself).
  const files: Record<string, number> = { info: 1, run: 1, prune: 1, pack: 1 };
  if (rest.length > (files[command] ?? (command === "upscale" ? 2 : 0))) {
    throw new UsageError(`Unexpected argument "${rest.at(-1)}" for the ${command} command`);
  }
  switch (command) {
    case "info":
      await info(kernels);
      if (rest[0]) {
        await modelInfo(rest[0], kernels, threadsOption(values.threads!), values.input ?? []);
      }
      return 0;
    case "run":
      if (!rest[0]) throw new UsageError("The run command needs a model file: run <model>");
      if (await isCheckpointDir(rest[0])) {
        throw new UsageError(
          `"${rest[0]}" is a checkpoint directory (config.json): run Mamba checkpoints with ` +
            `generate --model ${rest[0]} --prompt "…", or see them with info ${rest[0]}`,
        );
      }
      await runModel(rest[0], kernels, values);
      return 0;
    case "generate": {
      if (!values.model) throw new UsageError("The generate command needs --model <dir|url>");
      await generate(
        values.model,
        values.prompt ?? "",
        {
          maxTokens: numberOption("max-tokens", values["max-tokens"]!, 1),
          temperature: numberOption("temperature", values.temperature!, 0, { fraction: true }),
          topK: numberOption("top-k", values["top-k"]!, 0),
          topP: numberOption("top-p", values["top-p"]!, 0, { max: 1, fraction: true }),
          seed: numberOption("seed", values.seed!, 0),
        },
        kernels,
        threadsOption(values.threads!),
      );
      return 0;
    }
    case "upscale": {
      if (rest.length !== 2) {
        throw new UsageError("The upscale command needs two files: upscale <in.png> <out.png>");
      }
      await upscaleFile(rest[0], rest[1], {
        model: values.model ?? "esrgan-slim",
        scale: numberOption("scale", values.scale!, 2, { max: 4 }) as 2 | 3 | 4,
        tile: numberOption("tile", values.tile!, 8),
        kernels,
        threads: threadsOption(values.threads!),
      });
      return 0;
    }
    case "prune": {
      if (!rest[0] || !values.scheme || !values.out) {
        throw new UsageError(
          "The prune command needs a model, --scheme and --out: prune <model.onnx|model.json> " +
            "--scheme <c4n:N|pattern|block:F> --out <file>",
        );
      }
      const isDir = await Deno.stat(rest[0]).then((s) => s.isDirectory, () => false);
      // A Mamba checkpoint directory calibrates on text; the ONNX / TF.js options do not apply.
      const onnxOnly = [
        "calib",
        "holdout",
        "calib-random",
        "max-error",
        "only-faster",
        "mask",
        "f16",
      ]
        .find((o) =>
          values[o as keyof typeof values] !== undefined &&
          values[o as keyof typeof values] !== false && !(o === "calib-random" && values[o] === "0")
        );
      if (isDir && onnxOnly) {
        throw new UsageError(
          `The --${onnxOnly} option applies to ONNX and TF.js models; a Mamba checkpoint directory takes ` +
            `--calib-text`,
        );
      }
      if (isDir) await pruneMambaDir(rest[0], { ...values, layers: layersOption(values.layers) });
      else await pruneFile(rest[0], { ...values, layers: layersOption(values.layers) });
      return 0;
    }
    case "pack": {
      if (!rest[0] || !values.out) {
        throw new UsageError(
          "The pack command needs a model and --out: pack <model.onnx> --out <file.qsp>",
        );
      }
      if (await isCheckpointDir(rest[0])) await packMambaDir(rest[0], values.out, values.f16);
      else await packFile(await Deno.readFile(rest[0]), values.out, values.f16);
      return 0;
    }
    case "bench": {
      const { runGemmBench } = await import("./bench/gemm.ts");
      await runGemmBench({ quick: values.quick });
      return 0;
    }
    case "demo": {
      await info(kernels);
      console.log();
      await tinyModel(kernels);
      console.log();
      const { runGemmBench } = await import("./bench/gemm.ts");
      // Shown, not written: the committed bench/results/gemm.* are full runs.
      await runGemmBench({ quick: true, write: false });
      console.log();
      const demo = new URL("./examples/images/demo.png", import.meta.url).pathname;
      await upscaleFile(demo, demo.replace(/\.png$/, "_x2.png"), { scale: 2, kernels });
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${command}": use one of the commands below`);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${USAGE}`);
      Deno.exit(2);
    }
    // Our typed errors, and the file system's (a missing input, an output that is a
    // directory): one line, no stack. Anything else is a bug: its stack is wanted.
    const fileSystem = Object.values(Deno.errors).some((c) => e instanceof c);
    if (e instanceof QuartetError || fileSystem) {
      console.error(`error: ${(e as Error).message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
