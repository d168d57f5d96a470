/**
 * llama.cpp as a native peer for the Mamba-1 benchmark: a Hugging Face Mamba-1 weight map is
 * converted to a GGUF file of llama.cpp's "mamba" architecture (f32), and llama.cpp runs it
 * through node-llama-cpp's prebuilt CPU binaries in a Node subprocess. node-llama-cpp and its
 * prebuilt binary package for this platform are installed on first use into a cache
 * directory with npm (no install scripts and no optional GPU packages, so nothing is
 * downloaded from GitHub or built); the model store's install lock keeps parallel processes
 * from installing at the same time. (Deno runs node-llama-cpp too, but only as an `npm:`
 * dependency of the repository, which would pull the CUDA and Vulkan builds into
 * node_modules; the repository's Deno config does not resolve a package installed elsewhere.)
 */
import type { MambaConfig } from "../engine/models/mamba/mamba.ts";
import type { Tensor } from "../engine/tensor.ts";
import { npmInstallOnce } from "../engine/models/model_store.ts";
import { type GgufEntry, type GgufTensor, writeGguf } from "./_gguf.ts";

/** The pinned node-llama-cpp release (its prebuilt binaries carry the same version). */
export const NODE_LLAMA_CPP_VERSION = "3.22.1";

const CACHE = new URL("../.cache/llama-cpp", import.meta.url).pathname;

/** Options of `llamaCppMamba`. */
export interface LlamaCppMambaOptions {
  /** Threads llama.cpp computes on (prompt and decode alike). */
  threads: number;
  /** Prompt token ids, fed as one batch (prefill). */
  prompt: number[];
  /** Token ids fed one at a time after the prompt, the state carried (decode). */
  decodeTokens: number[];
  /** Rounds of prefill + decode; the first is a warm-up and is not timed. */
  rounds: number;
  /** Where node-llama-cpp is installed (default `.cache/llama-cpp` in the repository). */
  cacheDir?: string;
  /** How the GGUF stores the matrices: "f32" (default) or llama.cpp's 8-bit "q8_0". */
  storage?: "f32" | "q8_0";
}

/** What `llamaCppMamba` measured. */
export interface LlamaCppMambaResult {
  /**
   * Median ms per decoded token: one llama_decode of one token, its logits computed (no
   * sampling), called through node-llama-cpp's addon directly.
   */
  decodeMs: number;
  /** Median ms of one llama_decode of the whole prompt (logits of its last token). */
  prefillMs: number;
  /** The fastest decoded token and prompt, ms, and how many of each were timed. */
  fastest: { decodeMs: number; prefillMs: number; decodeRuns: number; prefillRuns: number };
  /**
   * The same through node-llama-cpp's public API (`controlledEvaluate`, greedy next token):
   * what an application pays, its batching queue and sampler included.
   */
  api: { decodeMs: number; prefillMs: number; cpuPerWall: number };
  /**
   * CPU time of the llama.cpp process per wall time while the native timings ran: about 1
   * when it computed on one thread and nothing else spun (a check of `threads: 1`).
   */
  cpuPerWall: number;
  /** Logits of the last prompt token, from an empty state ([vocab]). */
  logits: Float32Array;
  /** Logits after the prompt and then every decode token fed one at a time ([vocab]). */
  stepLogits: Float32Array;
  /** node-llama-cpp version, llama.cpp release and the CPU backend llama.cpp reported. */
  version: string;
}

function f32(t: Tensor, name: string): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array || t.data instanceof Uint16Array) {
    throw new Error(`Tensor "${name}" is ${t.type}: convert it to float32 first`);
  }
  return Float32Array.from(t.data as ArrayLike<number>);
}

function need(w: Map<string, Tensor>, name: string, size: number): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`The Mamba weights have no tensor "${name}"`);
  const data = f32(t, name);
  if (data.length !== size) {
    throw new Error(`Tensor "${name}" has ${data.length} values, the config implies ${size}`);
  }
  return data;
}

/**
 * A synthetic SentencePiece-style vocabulary of `vocab` tokens for llama.cpp's "llama"
 * tokenizer: the 256 byte tokens "<0x00>".."<0xFF>" first (text that node-llama-cpp
 * tokenizes internally falls back to them), then "<unk>", "<s>", "</s>" and "<t259>", ....
 * With fewer than 259 tokens the special ids point at byte tokens.
 */
function vocabulary(vocab: number) {
  if (vocab < 256) {
    throw new Error(`The llama.cpp peer needs a vocabulary of at least 256 tokens, got ${vocab}`);
  }
  const hex = (i: number) => i.toString(16).toUpperCase().padStart(2, "0");
  const special = ["<unk>", "<s>", "</s>"];
  const tokens = Array.from(
    { length: vocab },
    (_, i) => i < 256 ? `<0x${hex(i)}>` : special[i - 256] ?? `<t${i}>`,
  );
  // token types: 1 normal, 2 unknown, 3 control, 6 byte
  const types = Array.from({ length: vocab }, (_, i) => i < 256 ? 6 : [2, 3, 3][i - 256] ?? 1);
  const roomy = vocab >= 259;
  return {
    tokens,
    types,
    scores: new Array<number>(vocab).fill(0),
    unk: roomy ? 256 : 0,
    bos: roomy ? 257 : 1,
    eos: roomy ? 258 : 2,
  };
}

/**
 * The GGUF metadata and tensors of llama.cpp's "mamba" architecture for a Hugging Face
 * Mamba-1 checkpoint (`backbone.*` names; `lm_head.weight` optional, tied otherwise).
 * Hugging Face stores Linear weights [out, in], which is GGUF's {in, out} with the same
 * bytes; conv1d [d_inner, 1, d_conv] is {d_conv, d_inner}; A_log [d_inner, d_state] becomes
 * ssm_a {d_state, d_inner} holding A = -exp(A_log), as llama.cpp's converter writes it. The
 * vocabulary is a synthetic token list (llama.cpp's "no_vocab" loads, but node-llama-cpp
 * then trips on the missing tokenizer): callers feed token ids. With `storage` "q8_0" the
 * matrices whose rows are a multiple of 32 long (embeddings, in_proj, x_proj, out_proj, the
 * head) are stored in llama.cpp's 8-bit format, the rest f32.
 */
export function mambaGguf(
  cfg: MambaConfig,
  weights: Map<string, Tensor>,
  storage: "f32" | "q8_0" = "f32",
): { metadata: GgufEntry[]; tensors: GgufTensor[] } {
  const { dModel, layers, dInner, dState, dConv, dtRank, vocab, eps } = cfg;
  if (dInner !== 2 * dModel) {
    throw new Error(
      `llama.cpp's mamba architecture needs d_inner = 2 × d_model, got ${dInner} and ${dModel}`,
    );
  }
  const u32 = (key: string, value: number): GgufEntry => ({ key, type: "u32", value });
  const v = vocabulary(vocab);
  const metadata: GgufEntry[] = [
    { key: "general.architecture", type: "string", value: "mamba" },
    { key: "general.name", type: "string", value: "quartet-mamba" },
    u32("general.alignment", 32),
    u32("general.file_type", storage === "q8_0" ? 7 : 0), // mostly q8_0, or all f32
    u32("mamba.vocab_size", vocab),
    u32("mamba.context_length", 1 << 20), // unused by a recurrent model
    u32("mamba.embedding_length", dModel),
    u32("mamba.feed_forward_length", 0),
    u32("mamba.attention.head_count", 0),
    u32("mamba.block_count", layers),
    u32("mamba.ssm.conv_kernel", dConv),
    u32("mamba.ssm.inner_size", dInner),
    u32("mamba.ssm.state_size", dState),
    u32("mamba.ssm.time_step_rank", dtRank),
    { key: "mamba.ssm.dt_b_c_rms", type: "bool", value: false },
    { key: "mamba.attention.layer_norm_rms_epsilon", type: "f32", value: eps },
    // A synthetic SentencePiece-style vocabulary (see vocabulary()).
    { key: "tokenizer.ggml.model", type: "string", value: "llama" },
    { key: "tokenizer.ggml.tokens", type: "array", itemType: "string", values: v.tokens },
    { key: "tokenizer.ggml.scores", type: "array", itemType: "f32", values: v.scores },
    { key: "tokenizer.ggml.token_type", type: "array", itemType: "i32", values: v.types },
    u32("tokenizer.ggml.unknown_token_id", v.unk),
    u32("tokenizer.ggml.bos_token_id", v.bos),
    u32("tokenizer.ggml.eos_token_id", v.eos),
    { key: "tokenizer.ggml.add_bos_token", type: "bool", value: false },
    { key: "tokenizer.ggml.add_eos_token", type: "bool", value: false },
  ];
  const tensors: GgufTensor[] = [];
  const put = (name: string, dims: number[], data: Float32Array) =>
    tensors.push({
      name,
      dims,
      data,
      type: storage === "q8_0" && dims.length === 2 && dims[0] % 32 === 0 ? "q8_0" : "f32",
    });
  put(
    "token_embd.weight",
    [dModel, vocab],
    need(weights, "backbone.embeddings.weight", vocab * dModel),
  );
  for (let i = 0; i < layers; i++) {
    const p = `backbone.layers.${i}.`;
    const m = `${p}mixer.`;
    const b = `blk.${i}.`;
    put(`${b}attn_norm.weight`, [dModel], need(weights, `${p}norm.weight`, dModel));
    put(
      `${b}ssm_in.weight`,
      [dModel, 2 * dInner],
      need(weights, `${m}in_proj.weight`, 2 * dInner * dModel),
    );
    put(
      `${b}ssm_conv1d.weight`,
      [dConv, dInner],
      need(weights, `${m}conv1d.weight`, dInner * dConv),
    );
    put(`${b}ssm_conv1d.bias`, [dInner], need(weights, `${m}conv1d.bias`, dInner));
    const xOut = dtRank + 2 * dState;
    put(`${b}ssm_x.weight`, [dInner, xOut], need(weights, `${m}x_proj.weight`, xOut * dInner));
    put(
      `${b}ssm_dt.weight`,
      [dtRank, dInner],
      need(weights, `${m}dt_proj.weight`, dInner * dtRank),
    );
    put(`${b}ssm_dt.bias`, [dInner], need(weights, `${m}dt_proj.bias`, dInner));
    const aLog = need(weights, `${m}A_log`, dInner * dState);
    put(`${b}ssm_a`, [dState, dInner], aLog.map((v) => -Math.exp(v)));
    put(`${b}ssm_d`, [dInner], need(weights, `${m}D`, dInner));
    put(
      `${b}ssm_out.weight`,
      [dInner, dModel],
      need(weights, `${m}out_proj.weight`, dModel * dInner),
    );
  }
  put("output_norm.weight", [dModel], need(weights, "backbone.norm_f.weight", dModel));
  if (weights.has("lm_head.weight")) {
    put("output.weight", [dModel, vocab], need(weights, "lm_head.weight", vocab * dModel));
  }
  return { metadata, tensors };
}

/** Writes `mambaGguf(cfg, weights, storage)` to `path`; returns the file's size in bytes. */
export async function writeMambaGguf(
  path: string,
  cfg: MambaConfig,
  weights: Map<string, Tensor>,
  storage: "f32" | "q8_0" = "f32",
): Promise<number> {
  const { metadata, tensors } = mambaGguf(cfg, weights, storage);
  return await writeGguf(path, metadata, tensors);
}

/** node-llama-cpp's name of this platform's prebuilt CPU binary package. */
function binaryPackage(): string {
  const { os, arch } = Deno.build;
  const names: Record<string, string> = {
    "linux x86_64": "linux-x64",
    "linux aarch64": "linux-arm64",
    "darwin aarch64": "mac-arm64-metal",
    "darwin x86_64": "mac-x64",
    "windows x86_64": "win-x64",
    "windows aarch64": "win-arm64",
  };
  const name = names[`${os} ${arch}`];
  if (!name) throw new Error(`node-llama-cpp ships no prebuilt llama.cpp for ${os} ${arch}`);
  return `@node-llama-cpp/${name}`;
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}

/**
 * Installs node-llama-cpp and this platform's prebuilt CPU binary package into `cacheDir`
 * if needed (npm without install scripts and without the optional GPU packages) and returns
 * the path of node-llama-cpp's entry module.
 */
export async function installLlamaCpp(cacheDir: string = CACHE): Promise<string> {
  const v = NODE_LLAMA_CPP_VERSION;
  const binary = binaryPackage();
  const prefix = `${cacheDir}/node-llama-cpp@${v}`;
  const entry = `${prefix}/node_modules/node-llama-cpp/dist/index.js`;
  await npmInstallOnce(prefix, [`node-llama-cpp@${v}`, `${binary}@${v}`], cacheDir, {
    omitOptional: true,
  });
  const bins = `${prefix}/node_modules/${binary}/bins`;
  if (!(await exists(entry)) || !(await exists(bins))) {
    throw new Error(
      `node-llama-cpp@${v} in "${prefix}" lacks ${
        (await exists(entry)) ? `the prebuilt binary (${binary}/bins)` : "dist/index.js"
      }: delete "${prefix}" to reinstall`,
    );
  }
  return entry;
}

/** The Node side: loads the GGUF with llama.cpp, times prefill and decode, dumps logits. */
const RUNNER = String.raw`
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(spec.entry).href);
// Prebuilt CPU binary only: never build, never download, no GPU.
let llama;
try {
  llama = await getLlama({
    gpu: false,
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    maxThreads: spec.threads,
  });
} catch (e) {
  throw new Error(
    "No prebuilt llama.cpp binary of node-llama-cpp loads on this machine (it is never built " +
      "or downloaded here): " + (e?.message ?? e),
  );
}
const model = await llama.loadModel({ modelPath: spec.model, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: spec.prompt.length + spec.decodeTokens.length + 16,
  batchSize: Math.max(spec.prompt.length, 1),
  sequences: 1,
  threads: { ideal: spec.threads, min: spec.threads },
});
const seq = context.getSequence();

function toArray(map) {
  const out = new Float32Array(spec.vocab).fill(NaN);
  for (const [token, logit] of map) out[token] = logit;
  return out;
}

// Logits of the last prompt token from an empty state.
await seq.clearHistory();
const withLogits = (t) => [t, { generateNext: { logits: true } }];
let res = await seq.controlledEvaluate(
  spec.prompt.map((t, i) => i === spec.prompt.length - 1 ? withLogits(t) : t),
);
const logits = toArray(res[spec.prompt.length - 1].next.logits);
// Then the decode tokens one at a time, the state carried.
let step = logits;
for (const t of spec.decodeTokens) {
  res = await seq.controlledEvaluate([withLogits(t)]);
  step = toArray(res[0].next.logits);
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
// Timed rounds, the first a warm-up. "api": node-llama-cpp's public controlledEvaluate with a
// greedy pick of the next token (its batching queue and sampler included). "native": its
// addon's llama_batch + llama_decode directly (the logits of the last token computed, no
// sampling), the closest to llama.cpp itself; node-llama-cpp 3.22.1 internals.
const greedy = (t) => [t, { generateNext: { token: true } }];
async function timeApi() {
  const prefill = [];
  const decode = [];
  for (let round = 0; round < spec.rounds; round++) {
    await seq.clearHistory();
    const input = spec.prompt.map((t, i) => i === spec.prompt.length - 1 ? greedy(t) : t);
    let t0 = performance.now();
    await seq.controlledEvaluate(input);
    const p = performance.now() - t0;
    const d = [];
    for (const t of spec.decodeTokens) {
      t0 = performance.now();
      await seq.controlledEvaluate([greedy(t)]);
      d.push(performance.now() - t0);
    }
    if (round > 0 || spec.rounds === 1) prefill.push(p), decode.push(...d);
  }
  return { prefillMs: median(prefill), decodeMs: median(decode) };
}
async function timeNative() {
  await seq.clearHistory();
  const ctx = context._ctx;
  const id = seq._sequenceId;
  if (typeof ctx?.decodeBatch !== "function" || !Number.isInteger(id)) {
    throw new Error("node-llama-cpp's internals changed: cannot reach llama_decode directly");
  }
  const run = async (tokens, pos) => {
    ctx.initBatch(tokens.length);
    ctx.addToBatch(id, pos, Uint32Array.from(tokens), Uint32Array.of(tokens.length - 1));
    await ctx.decodeBatch();
  };
  const prefill = [];
  const decode = [];
  for (let round = 0; round < spec.rounds; round++) {
    if (!ctx.removeTokenCellsFromSequence(id, 0, -1)) throw new Error("Cannot clear the state");
    let t0 = performance.now();
    await run(spec.prompt, 0);
    const p = performance.now() - t0;
    const d = [];
    let pos = spec.prompt.length;
    for (const t of spec.decodeTokens) {
      t0 = performance.now();
      await run([t], pos++);
      d.push(performance.now() - t0);
    }
    if (round > 0 || spec.rounds === 1) prefill.push(p), decode.push(...d);
  }
  return {
    prefillMs: median(prefill),
    decodeMs: median(decode),
    prefillMinMs: Math.min(...prefill),
    decodeMinMs: Math.min(...decode),
    prefillRuns: prefill.length,
    decodeRuns: decode.length,
    threads: ctx.getThreads(),
  };
}
// CPU time of the whole process per wall time of a phase: about 1 when llama.cpp computes on
// one thread and nothing else spins.
async function withCpu(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return { ...r, cpuPerWall: (c.user + c.system) / 1000 / (performance.now() - t0) };
}
// The public API first: the native rounds leave the sequence in a state its JS side does not
// know about.
const api = await withCpu(timeApi);
const native = await withCpu(timeNative);
writeFileSync(spec.out, Buffer.concat([Buffer.from(logits.buffer), Buffer.from(step.buffer)]));
// The CPU backend variant ggml picked for this machine (one of the libggml-cpu-*.so).
let cpu = "";
try {
  cpu = readFileSync("/proc/self/maps", "utf8").match(/libggml-cpu-([\w-]+)\.\w+/)?.[1] ?? "";
} catch {
  // not Linux
}
const pkg = JSON.parse(readFileSync(new URL("../package.json", pathToFileURL(spec.entry)), "utf8"));
console.log(JSON.stringify({
  native,
  api: { prefillMs: api.prefillMs, decodeMs: api.decodeMs, cpuPerWall: api.cpuPerWall },
  threads: native.threads,
  version: "node-llama-cpp " + pkg.version + " (" + llama.buildType + " binary), llama.cpp " +
    llama.llamaCppRelease.release + ", CPU backend " + (cpu || "?") + ", GPU " + llama.gpu,
  systemInfo: llama.systemInfo,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
`;

/**
 * Runs a Mamba-1 model (`cfg` + Hugging Face `weights`) on llama.cpp (node-llama-cpp's
 * prebuilt CPU build, in a Node subprocess, on exactly `threads` threads): the prompt as one
 * batch, then `decodeTokens` one at a time with the state carried, `rounds` times (the first
 * a warm-up). Returns the median prefill and per-token decode times and the logits of the
 * last prompt token and of the last decode step, for checking against Quartet.
 */
export async function llamaCppMamba(
  cfg: MambaConfig,
  weights: Map<string, Tensor>,
  opts: LlamaCppMambaOptions,
): Promise<LlamaCppMambaResult> {
  const { threads, prompt, decodeTokens, rounds } = opts;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`The threads option must be a whole number from 1, got ${threads}`);
  }
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`The rounds option must be a whole number from 1, got ${rounds}`);
  }
  if (prompt.length === 0) throw new Error("llamaCppMamba needs a prompt of at least one token");
  for (const t of [...prompt, ...decodeTokens]) {
    if (!Number.isInteger(t) || t < 0 || t >= cfg.vocab) {
      throw new Error(`Token ${t} is outside the vocabulary (0..${cfg.vocab - 1})`);
    }
  }
  const entry = await installLlamaCpp(opts.cacheDir);
  const dir = await Deno.makeTempDir({ prefix: "quartet-llama-cpp-" });
  try {
    const model = `${dir}/model.gguf`;
    await writeMambaGguf(model, cfg, weights, opts.storage);
    const out = `${dir}/logits.f32`;
    await Deno.writeTextFile(`${dir}/runner.mjs`, RUNNER);
    await Deno.writeTextFile(
      `${dir}/spec.json`,
      JSON.stringify({
        entry,
        model,
        out,
        threads,
        prompt,
        decodeTokens,
        rounds,
        vocab: cfg.vocab,
      }),
    );
    const { code, stdout, stderr } = await new Deno.Command("node", {
      args: [`${dir}/runner.mjs`, `${dir}/spec.json`],
      env: {
        NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true",
        NODE_LLAMA_CPP_GPU: "false",
        NODE_LLAMA_CPP_POSTINSTALL: "skip",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout).trim();
    if (code !== 0) {
      throw new Error(
        `llama.cpp (node-llama-cpp in Node) failed with exit code ${code}: ${
          new TextDecoder().decode(stderr)
        }${text}`,
      );
    }
    const r = JSON.parse(text.split("\n").at(-1)!);
    if (!r.native || !r.api) throw new Error(`llama.cpp's runner printed no timings: ${text}`);
    if (r.threads !== threads) {
      throw new Error(`llama.cpp ran on ${r.threads} threads, not the ${threads} asked for`);
    }
    const bytes = await Deno.readFile(out);
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return {
      decodeMs: r.native.decodeMs,
      prefillMs: r.native.prefillMs,
      fastest: {
        decodeMs: r.native.decodeMinMs,
        prefillMs: r.native.prefillMinMs,
        decodeRuns: r.native.decodeRuns,
        prefillRuns: r.native.prefillRuns,
      },
      api: r.api,
      cpuPerWall: r.native.cpuPerWall,
      logits: all.slice(0, cfg.vocab),
      stepLogits: all.slice(cfg.vocab, 2 * cfg.vocab),
      version: r.version,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
