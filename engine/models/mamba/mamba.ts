/**
 * Mamba-1 (state-space) language models from Hugging Face checkpoints (`config.json` +
 * `model.safetensors`, sharded or not), run token by token with the recurrent state (conv
 * state + SSM state per layer) kept in the arena. Prefill runs the projections as GEMMs over
 * all prompt tokens and the chunked scan; decode runs GEMVs and the step scan. The public API
 * reaches this module through api.ts, which loads it with the first `loadMamba`.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError, QuartetError } from "../../errors.ts";
import { checkOptions } from "../../options.ts";
import { openSafetensors, type SafetensorsReader } from "../../formats/safetensors/reader.ts";
import {
  checkBesideName,
  childSource,
  isMissingSource,
  readSource,
} from "../../formats/read_source.ts";
import {
  causalConv1d,
  type CausalConv1dWeights,
  packCausalConv1dWeights,
} from "../../ops/causal_conv1d.ts";
import { gemm, type PackedGemmWeights, packGemmWeights } from "../../ops/gemm.ts";
import { loadSparsePackers } from "../../weights/sparse_packers.ts";
import { selectiveScan } from "../../ops/selective_scan.ts";
import type { Tensor } from "../../tensor.ts";
import { AutoThreads } from "../../threads/auto_threads.ts";
import {
  disposeKernels,
  type KernelChoice,
  type Kernels,
  type KernelVariant,
  loadKernels,
  type ThreadInfo,
} from "../../wasm/kernels.ts";
import { isFloat16Origin, setGemvWeights } from "../../weights/f16_gemv.ts";
import { BYTE_TOKENIZER, type TextTokenizer, tokenizerFromJson } from "./tokenizer.ts";

/** Dimensions of a Mamba-1 model, from config.json and checked against the weights. */
export interface MambaConfig {
  /** Model width (hidden_size). */
  dModel: number;
  /** Number of Mamba blocks. */
  layers: number;
  /** Inner width (expand × d_model). */
  dInner: number;
  /** SSM state size N. */
  dState: number;
  /** Causal conv taps. */
  dConv: number;
  /** Rank of the dt projection. */
  dtRank: number;
  /** Vocabulary size. */
  vocab: number;
  /** RMSNorm epsilon. */
  eps: number;
}

interface Layer {
  norm: number;
  inProj: PackedGemmWeights;
  conv: CausalConv1dWeights;
  xProj: PackedGemmWeights;
  dtProj: PackedGemmWeights;
  A: number;
  D: number;
  outProj: PackedGemmWeights;
  convState: number;
  ssmState: number;
}

/** Options of `loadMamba`. */
export interface LoadMambaOptions {
  /** Kernel build (default "auto"). */
  kernels?: KernelVariant | "auto";
  /**
   * A precompiled kernel module, for hosts such as Cloudflare workerd that forbid compiling
   * Wasm bytes at run time (import the .wasm file from `kernels-as/build/` and pass it).
   */
  module?: WebAssembly.Module;
  /** Most bytes the arena may use. */
  maxMemoryBytes?: number;
  /**
   * Worker threads for the projections and the LM head: 1 (default), a count, or "auto" (the
   * host's cores, up to 4; the first forward passes then alternate between the pool and one
   * thread and keep the faster, stopping the workers when one thread is as fast). Decode
   * streams every weight once per token, so a second core helps as far as one core falls
   * short of the memory's bandwidth (on a 2-core Zen 4 VM: dense 1.0–1.7×, C4,3 0.95–1.3×
   * faster). Needs SharedArrayBuffer; `threads` on the model says what was chosen and why.
   * Call `dispose()` to stop the workers.
   */
  threads?: number | "auto";
  /**
   * Storage of the projection and LM head weights for decode GEMVs: "f16" rounds them to IEEE
   * halves (nearest even; lossy, every product then uses the rounded weights) where the f16
   * GEMV is predicted faster, halving the bytes each decoded token streams; "auto" (default)
   * does so only for weights stored as float16; "f32" never.
   */
  gemvWeights?: "auto" | "f16" | "f32";
}

/** The options `LoadMambaOptions` has. */
const LOAD_MAMBA_OPTIONS = ["kernels", "module", "maxMemoryBytes", "threads", "gemvWeights"];

/** Options of `MambaModel.generate`. */
export interface GenerateOptions {
  /** Tokens to generate at most, a whole number from 0 (default 64). */
  maxTokens?: number;
  /** 0 (default) is greedy; higher samples more freely. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1: all). */
  topP?: number;
  /** Seed of the sampler (default 1). */
  seed?: number;
  /** Generation ends at any of these tokens. */
  stopTokens?: number[];
}

/** The options `GenerateOptions` has. */
const GENERATE_OPTIONS = ["maxTokens", "temperature", "topK", "topP", "seed", "stopTokens"];

/** What a loaded Mamba model runs on (see `MambaModel.summary`). */
export interface MambaSummary {
  /** Kernel build in use and why. */
  kernels: { variant: KernelVariant; reason: string };
  /** Threads the kernels run on and why. */
  threads: ThreadInfo;
  /** Parameters (elements of every checkpoint tensor). */
  parameters: number;
  /**
   * The kernel chosen for each projection and the LM head whose weights gave a choice (sparse
   * structure, float16 storage): its format ("dense", "c4n:2", …) and why. Layers with nothing
   * to choose run dense and are not listed.
   */
  kernelChoices: KernelChoice[];
  /** Highest arena use so far in bytes (packed weights, state, activations). */
  peakMemoryBytes: number;
}

/** Timing of one generation. */
export interface GenerateStats {
  /** Tokens in the prompt. */
  promptTokens: number;
  /** Tokens generated. */
  generatedTokens: number;
  /** Prompt tokens per second. */
  prefillTokensPerSecond: number;
  /** Generated tokens per second after the first. */
  decodeTokensPerSecond: number;
}

/** A saved recurrent state (conv and SSM state of every layer). */
export interface MambaState {
  /** Concatenated floats of all layers' states. */
  data: Float32Array;
}

/**
 * The tensors a Mamba model is built from: every shape up front, the values read as the model
 * packs them, so a checkpoint file need not be held whole (`openSafetensors`). A Map of
 * tensors serves too.
 */
export interface MambaTensors {
  /** Every tensor's dimensions by name. */
  readonly dims: ReadonlyMap<string, readonly number[]>;
  /** Whether the tensor is stored as float16 (exact halves the f16 GEMV may keep). */
  float16(name: string): boolean;
  /** Writes the tensor's values, as float32, into `into` (exactly its size). */
  read(name: string, into: Float32Array): void;
}

/** The weights `MambaModel` and `mambaConfig` take: tensors in memory, or read on demand. */
export type MambaWeights = Map<string, Tensor> | MambaTensors;

function asMambaTensors(w: MambaWeights): MambaTensors {
  if (!(w instanceof Map)) return w;
  return {
    dims: new Map([...w].map(([k, t]) => [k, t.dims])),
    float16: (name) => isFloat16Origin(w.get(name)),
    read: (name, into) => into.set(w.get(name)!.data as Float32Array),
  };
}

/** The elements of tensor `name`, checked to be there (and of `dims` when given). */
function need(w: Pick<MambaTensors, "dims">, name: string, dims?: number[]): number {
  const d = w.dims.get(name);
  if (!d) throw new ModelFormatError(`Mamba checkpoint: tensor "${name}" is missing`);
  if (dims && (d.length !== dims.length || d.some((v, i) => v !== dims[i]))) {
    throw new ModelFormatError(
      `Mamba checkpoint: tensor "${name}" is [${d.join(", ")}], the config implies [${
        dims.join(", ")
      }]`,
    );
  }
  return d.reduce((a, b) => a * b, 1);
}

/** Tensor `name`'s values in a new host array (after `need`'s checks). */
function* readHost(
  w: Pick<MambaTensors, "dims">,
  name: string,
  dims?: number[],
): Reads<Float32Array> {
  const out = new Float32Array(need(w, name, dims));
  yield { name, into: out };
  return out;
}

/** Reads the model dimensions from config.json, checking them against the embedding. */
export function mambaConfig(json: Record<string, unknown>, weights: MambaWeights): MambaConfig {
  const w = asMambaTensors(weights);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelFormatError(
      `Mamba config.json must hold an object, not ${JSON.stringify(json)}`,
    );
  }
  const num = (keys: string[], fallback?: number): number => {
    for (const k of keys) {
      const v = json[k];
      if (typeof v === "number") return v;
      if (v !== undefined && v !== null) {
        throw new ModelFormatError(
          `Mamba config.json: "${k}" is ${JSON.stringify(v)}, not a number`,
        );
      }
    }
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(`Mamba config.json: "${keys[0]}" is missing`);
  };
  const dModel = num(["hidden_size", "d_model"]);
  need(w, "backbone.embeddings.weight");
  const embeddingDims = w.dims.get("backbone.embeddings.weight")!;
  const expand = num(["expand"], 2);
  const rank = json.time_step_rank ?? json.dt_rank ?? "auto";
  const cfg: MambaConfig = {
    dModel,
    layers: num(["num_hidden_layers", "n_layer"]),
    dInner: num(["intermediate_size"], expand * dModel),
    dState: num(["state_size", "d_state"], 16),
    dConv: num(["conv_kernel", "d_conv"], 4),
    dtRank: rank === "auto" ? Math.ceil(dModel / 16) : Number(rank),
    vocab: embeddingDims[0],
    eps: num(["layer_norm_epsilon", "rms_norm_eps"], 1e-5),
  };
  for (const [k, v] of Object.entries(cfg)) {
    if (!(v > 0) || (k !== "eps" && !Number.isInteger(v))) {
      throw new ModelFormatError(
        `Mamba config.json gives ${k} = ${v}: it must be a positive ${
          k === "eps" ? "number" : "whole number"
        }`,
      );
    }
  }
  need(w, "backbone.embeddings.weight", [cfg.vocab, dModel]);
  // A config with fewer layers than the checkpoint would silently drop the rest.
  const extra = [...w.dims.keys()].find((k) =>
    Number(/^backbone\.layers\.(\d+)\./.exec(k)?.[1] ?? -1) >= cfg.layers
  );
  if (extra !== undefined) {
    throw new ModelFormatError(
      `Mamba checkpoint: tensor "${extra}" belongs to a layer past the ${cfg.layers} that ` +
        `config.json's num_hidden_layers gives`,
    );
  }
  return cfg;
}

/** One tensor a build wants: its values, as float32, written into `into` (an arena view). */
export interface TensorRead {
  /** The tensor's name. */
  name: string;
  /** Where its values go (exactly its size). */
  into: Float32Array;
}

/** A build step sequence that asks for tensors (`TensorRead`) and returns `T`. */
type Reads<T> = Generator<TensorRead, T, void>;

/** The weights of a Mamba model packed into its kernels' arena, ready to run. */
export class PackedMamba {
  /** The kernels whose arena holds them. */
  readonly kr: Kernels;
  /** Per layer: the packed weights and its state's place. */
  readonly layers: Layer[];
  /** The token embeddings (host side: lookups). */
  readonly embedding: Float32Array;
  /** The LM head. */
  readonly head: PackedGemmWeights;
  /** Arena offset of the final norm's weight. */
  readonly normF: number;
  /** Parameters in the checkpoint. */
  readonly parameters: number;

  /** Made by `packMamba`. */
  constructor(
    kr: Kernels,
    parts: {
      layers: Layer[];
      embedding: Float32Array;
      head: PackedGemmWeights;
      normF: number;
      parameters: number;
    },
  ) {
    this.kr = kr;
    this.layers = parts.layers;
    this.embedding = parts.embedding;
    this.head = parts.head;
    this.normF = parts.normF;
    this.parameters = parts.parameters;
  }
}

/** Packs the weights, reading each tensor when it is needed (synchronously). */
function packMambaNow(kr: Kernels, config: MambaConfig, weights: MambaWeights): PackedMamba {
  const w = asMambaTensors(weights);
  const steps = packMamba(kr, config, w);
  for (let r = steps.next();; r = steps.next()) {
    if (r.done) return r.value;
    w.read(r.value.name, r.value.into);
  }
}

/**
 * Packs a Mamba model's weights into `kr`'s arena, the LM head first, then layer by layer. It
 * takes the shapes from `w` and asks for each tensor's values when it needs them (yielding a
 * `TensorRead` to fill before it resumes), so a caller can read them from a file, or fetch
 * them, one at a time.
 */
export function* packMamba(
  kr: Kernels,
  config: MambaConfig,
  w: Pick<MambaTensors, "dims" | "float16">,
): Reads<PackedMamba> {
  const { dModel, dInner, dState, dConv, dtRank, layers } = config;
  const uploadHost = (data: Float32Array, name: string) => {
    const o = kr.arena.alloc(data.byteLength, name);
    kr.arena.f32(o, data.length).set(data);
    return o;
  };
  // Read straight into the arena: no host copy of the weights that live there.
  const upload = function* (tensor: string, dims: number[], name = tensor): Reads<number> {
    const n = need(w, tensor, dims);
    const o = kr.arena.alloc(n * 4, name);
    yield { name: tensor, into: kr.arena.f32(o, n) };
    return o;
  };
  // Every decoded token streams all weights: the f16 GEMV's cost model needs their size.
  let parameters = 0;
  for (const d of w.dims.values()) parameters += d.reduce((a, b) => a * b, 1);
  setGemvWeights(kr, undefined, parameters * 4);
  // Linear weights are [out, in]: packed transposed for y = x · Wᵀ. `host`: the values
  // already read (the tied LM head is the embedding).
  const linear = function* (
    name: string,
    out: number,
    inp: number,
    bias?: string,
    host?: Float32Array,
  ): Reads<PackedGemmWeights> {
    const raw = host ? uploadHost(host, name) : yield* upload(name, [out, inp]);
    const b = bias ? yield* upload(bias, [out], `${name} bias`) : 0;
    try {
      return packGemmWeights(kr, raw, inp, out, {
        transposed: true,
        bias: b,
        name,
        sparse: true,
        float16: w.float16(name),
      });
    } finally {
      kr.arena.free(raw);
      if (b) kr.arena.free(b);
    }
  };
  // The one host-side table kept (token lookups).
  const embedding = yield* readHost(w, "backbone.embeddings.weight", [config.vocab, dModel]);
  // The LM head first: packing holds its raw upload and its packed copy at once, and it is
  // the largest matrix (vocab x d_model), so that peak comes while nothing else is resident.
  const head = w.dims.has("lm_head.weight")
    ? yield* linear("lm_head.weight", config.vocab, dModel)
    : yield* linear("backbone.embeddings.weight", config.vocab, dModel, undefined, embedding);
  const layerList: Layer[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `backbone.layers.${i}.`;
    const m = `${p}mixer.`;
    const aLog = yield* readHost(w, `${m}A_log`, [dInner, dState]);
    // [d_inner, 1, d_conv] as Hugging Face stores it ([d_inner, d_conv] is read the same).
    const convDims = w.dims.get(`${m}conv1d.weight`);
    if (
      need(w, `${m}conv1d.weight`) !== dInner * dConv || convDims![0] !== dInner ||
      convDims!.at(-1) !== dConv
    ) {
      throw new ModelFormatError(
        `Mamba checkpoint: tensor "${m}conv1d.weight" is [${convDims}], expected [${dInner}, 1, ${dConv}]`,
      );
    }
    const convBias = w.dims.has(`${m}conv1d.bias`)
      ? yield* readHost(w, `${m}conv1d.bias`, [dInner])
      : undefined;
    const convW = yield* readHost(w, `${m}conv1d.weight`);
    const convState = kr.arena.alloc((dConv - 1) * dInner * 4, `layer ${i} conv state`);
    const ssmState = kr.arena.alloc(dInner * dState * 4, `layer ${i} SSM state`);
    layerList.push({
      norm: yield* upload(`${p}norm.weight`, [dModel], `${p}norm`),
      inProj: yield* linear(`${m}in_proj.weight`, 2 * dInner, dModel),
      conv: packCausalConv1dWeights(kr, convW, dInner, { bias: convBias, name: `${m}conv1d` }),
      xProj: yield* linear(`${m}x_proj.weight`, dtRank + 2 * dState, dInner),
      dtProj: yield* linear(`${m}dt_proj.weight`, dInner, dtRank, `${m}dt_proj.bias`),
      A: uploadHost(aLog.map((v) => -Math.exp(v)), `${m}A`),
      D: yield* upload(`${m}D`, [dInner]),
      outProj: yield* linear(`${m}out_proj.weight`, dModel, dInner),
      convState,
      ssmState,
    });
  }
  const normF = yield* upload("backbone.norm_f.weight", [dModel], "norm_f");
  return new PackedMamba(kr, { layers: layerList, embedding, head, normF, parameters });
}

/** A loaded Mamba model. Create with `loadMamba`. */
export class MambaModel {
  /** The model's dimensions. */
  readonly config: MambaConfig;
  readonly #kr: Kernels;
  readonly #layers: Layer[];
  readonly #embedding: Float32Array;
  readonly #head: PackedGemmWeights;
  readonly #normF: number;
  readonly #autoThreads: AutoThreads | undefined;
  readonly #parameters: number;
  #disposed = false;
  /**
   * Bumped by every change of the recurrent state from outside a generation (forward, reset,
   * restoreState, another generate): a generation whose state was changed under it stops.
   */
  #stateEpoch = 0;
  /** Text ↔ ids: the checkpoint's tokenizer.json, or UTF-8 bytes for byte-vocabulary models. */
  readonly tokenizer: TextTokenizer;

  /**
   * Use `loadMamba`. `weights`: tensors (a Map, or `MambaTensors` read on demand), packed here
   * into `kr`'s arena; or a `PackedMamba` already packed there (`packMamba`).
   */
  constructor(
    kr: Kernels,
    config: MambaConfig,
    weights: MambaWeights | PackedMamba,
    tokenizer: TextTokenizer = BYTE_TOKENIZER,
  ) {
    this.#kr = kr;
    this.config = config;
    this.tokenizer = tokenizer;
    const packed = weights instanceof PackedMamba ? weights : packMambaNow(kr, config, weights);
    if (packed.kr !== kr) {
      throw new InvalidArgumentError("A PackedMamba belongs to the kernels it was packed with");
    }
    this.#layers = packed.layers;
    this.#embedding = packed.embedding;
    this.#head = packed.head;
    this.#normF = packed.normF;
    this.#parameters = packed.parameters;
    this.#autoThreads = kr.threads.requested === "auto" && kr.pool
      ? new AutoThreads(kr)
      : undefined;
    this.reset();
  }

  /** The kernel build, threads, parameters, each projection's kernel and the arena's peak. */
  summary(): MambaSummary {
    this.#check();
    const kr = this.#kr;
    return {
      kernels: { variant: kr.variant, reason: kr.reason },
      threads: this.threads,
      parameters: this.#parameters,
      kernelChoices: kr.choices.map((c) => ({ ...c })),
      peakMemoryBytes: kr.arena.peakBytes,
    };
  }

  /** How many threads run the kernels, and why (with "auto", once the trial has decided). */
  get threads(): ThreadInfo {
    const info = { ...this.#kr.threads };
    if (this.#autoThreads && !this.#autoThreads.decided) {
      info.reason += `; the first forward passes alternate 1 and ${info.count} threads until ` +
        `the faster is known`;
    }
    return info;
  }

  #check(): void {
    if (this.#disposed) {
      throw new QuartetError("This Mamba model was disposed: load it again with loadMamba()");
    }
  }

  /** Clears the recurrent state (a new sequence). */
  reset(): void {
    this.#check();
    this.#stateEpoch++;
    const { dConv, dInner, dState } = this.config;
    for (const l of this.#layers) {
      this.#kr.arena.f32(l.convState, (dConv - 1) * dInner).fill(0);
      this.#kr.arena.f32(l.ssmState, dInner * dState).fill(0);
    }
  }

  /** A copy of the recurrent state, to resume later with `restoreState`. */
  saveState(): MambaState {
    this.#check();
    const { dConv, dInner, dState } = this.config;
    const per = (dConv - 1) * dInner + dInner * dState;
    const data = new Float32Array(per * this.#layers.length);
    this.#layers.forEach((l, i) => {
      data.set(this.#kr.arena.f32(l.convState, (dConv - 1) * dInner), i * per);
      data.set(this.#kr.arena.f32(l.ssmState, dInner * dState), i * per + (dConv - 1) * dInner);
    });
    return { data };
  }

  /** Restores a state from `saveState`. */
  restoreState(state: MambaState): void {
    this.#check();
    const { dConv, dInner, dState } = this.config;
    const per = (dConv - 1) * dInner + dInner * dState;
    if (!(state?.data instanceof Float32Array) || state.data.length !== per * this.#layers.length) {
      throw new InvalidArgumentError(
        "Cannot restore the state: it does not belong to this model (restore a state from " +
          "saveState() of the same model)",
      );
    }
    if (!state.data.every(Number.isFinite)) {
      throw new InvalidArgumentError("Cannot restore the state: it holds NaN or infinite values");
    }
    this.#stateEpoch++;
    this.#layers.forEach((l, i) => {
      this.#kr.arena.f32(l.convState, (dConv - 1) * dInner).set(
        state.data.subarray(i * per, i * per + (dConv - 1) * dInner),
      );
      this.#kr.arena.f32(l.ssmState, dInner * dState).set(
        state.data.subarray(i * per + (dConv - 1) * dInner, (i + 1) * per),
      );
    });
  }

  /**
   * Feeds tokens (continuing the current state) and returns the logits of every token
   * ([tokens.length × vocab], row-major), or of the last one only with `lastOnly`.
   */
  forward(tokens: readonly number[], options: { lastOnly?: boolean } = {}): Float32Array {
    options ??= {};
    checkOptions(options, ["lastOnly"], "forward()", { lastOnly: [true, false] });
    this.#stateEpoch++;
    return this.#forward(tokens, options);
  }

  #forward(tokens: readonly number[], options: { lastOnly?: boolean }): Float32Array {
    this.#check();
    const { vocab } = this.config;
    if (!Array.isArray(tokens)) {
      throw new InvalidArgumentError("MambaModel.forward() takes an array of token ids");
    }
    const L = tokens.length;
    if (L === 0) throw new InvalidArgumentError("MambaModel.forward() needs at least one token");
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= vocab) {
        throw new InvalidArgumentError(
          `MambaModel.forward(): token ${t} is outside the vocabulary (0..${vocab - 1})`,
        );
      }
    }
    // "auto" kept one thread: move to the unshared arena once it is ready.
    this.#kr.unshare?.();
    const auto = this.#autoThreads;
    return auto && !auto.decided
      ? auto.run(`${L} ${options.lastOnly ? "last" : "all"}`, () => this.#compute(tokens, options))
      : this.#compute(tokens, options);
  }

  /** The forward pass of checked tokens. */
  #compute(tokens: readonly number[], options: { lastOnly?: boolean }): Float32Array {
    const { dModel, dInner, dState, dtRank, vocab, eps } = this.config;
    const L = tokens.length;
    const kr = this.#kr;
    const a = kr.arena;
    const blocks: number[] = [];
    const scratch = (floats: number, name: string) => {
      const o = a.alloc(floats * 4, name);
      blocks.push(o);
      return o;
    };
    const first = options.lastOnly ? L - 1 : 0;
    const rows = L - first;
    try {
      // Every block before any work: a prompt too long for the arena (the logits above all,
      // rows x vocab floats) fails here, with the state untouched.
      const logits = scratch(rows * vocab, "logits");
      const x = scratch(L * dModel, "residual");
      const hn = scratch(L * dModel, "normed");
      const xz = scratch(L * 2 * dInner, "in_proj out");
      const xc = scratch(L * dInner, "conv out");
      const dbl = scratch(L * (dtRank + 2 * dState), "x_proj out");
      const dt = scratch(L * dInner, "dt");
      const y = scratch(L * dInner, "scan out");
      const out = scratch(L * dModel, "out_proj out");
      const xv = a.f32(x, L * dModel);
      tokens.forEach((t, i) =>
        xv.set(this.#embedding.subarray(t * dModel, (t + 1) * dModel), i * dModel)
      );
      const w = dtRank + 2 * dState;
      for (const l of this.#layers) {
        kr.fn.f32_rmsnorm_x8(L, dModel, x, hn, l.norm, eps);
        gemm(kr, L, hn, dModel, l.inProj, xz, 2 * dInner);
        causalConv1d(kr, l.conv, {
          tokens: L,
          x: xz,
          ldx: 2 * dInner,
          state: l.convState,
          y: xc,
          activation: "silu",
        });
        gemm(kr, L, xc, dInner, l.xProj, dbl, w);
        gemm(kr, L, dbl, w, l.dtProj, dt, dInner);
        selectiveScan(kr, {
          tokens: L,
          channels: dInner,
          stateSize: dState,
          x: xc,
          dt,
          softplus: true,
          A: l.A,
          B: dbl + dtRank * 4,
          ldb: w,
          C: dbl + (dtRank + dState) * 4,
          ldc: w,
          D: l.D,
          z: xz + dInner * 4,
          ldz: 2 * dInner,
          h: l.ssmState,
          y,
        });
        gemm(kr, L, y, dInner, l.outProj, out, dModel);
        const r = a.f32(x, L * dModel);
        const o = a.f32(out, L * dModel);
        for (let i = 0; i < r.length; i++) r[i] += o[i];
      }
      kr.fn.f32_rmsnorm_x8(rows, dModel, x + first * dModel * 4, hn, this.#normF, eps);
      gemm(kr, rows, hn, dModel, this.#head, logits, vocab);
      return a.f32(logits, rows * vocab).slice();
    } finally {
      for (const o of blocks) a.free(o);
    }
  }

  /**
   * Generates tokens after `prompt` (token ids), continuing the current state, yielding each
   * token as it is produced; the iterator's return value holds the timing.
   *
   * @example
   * ```ts ignore
   * const model = await loadMamba("tests/fixtures/mamba");
   * for await (const t of model.generate([...new TextEncoder().encode("Hello")], { maxTokens: 8 })) {
   *   console.log(t);
   * }
   * ```
   */
  async *generate(
    prompt: readonly number[],
    options: GenerateOptions = {},
  ): AsyncGenerator<number, GenerateStats> {
    options ??= {};
    checkOptions(options, GENERATE_OPTIONS, "generate()");
    const max = options.maxTokens ?? 64;
    if (!Number.isInteger(max) || max < 0) {
      throw new InvalidArgumentError(
        `The maxTokens option must be a whole number from 0, got ${max}`,
      );
    }
    const stopTokens = options.stopTokens ?? [];
    if (!Array.isArray(stopTokens) || !stopTokens.every(Number.isInteger)) {
      throw new InvalidArgumentError("The stopTokens option must be an array of token ids");
    }
    const stop = new Set(stopTokens);
    const sample = sampler(options);
    const t0 = performance.now();
    // This generation owns the state from here: a change from elsewhere stops it.
    const epoch = ++this.#stateEpoch;
    const own = () => {
      if (this.#stateEpoch !== epoch) {
        throw new InvalidArgumentError(
          "The model's state changed during generate() (forward, reset, restoreState or " +
            "another generate): run one generation at a time per model",
        );
      }
    };
    let logits = this.#forward(prompt, { lastOnly: true });
    const t1 = performance.now();
    let generated = 0;
    let decodeMs = 0;
    while (generated < max) {
      const token = sample(logits);
      generated++;
      yield token;
      if (stop.has(token) || generated >= max) break;
      own();
      const s = performance.now();
      logits = this.#forward([token], { lastOnly: true });
      decodeMs += performance.now() - s;
    }
    return {
      promptTokens: prompt.length,
      generatedTokens: generated,
      prefillTokensPerSecond: prompt.length / ((t1 - t0) / 1000),
      decodeTokensPerSecond: generated > 1 ? (generated - 1) / (decodeMs / 1000) : 0,
    };
  }

  /** Frees the model's memory and stops its worker threads. */
  dispose(): void {
    this.#disposed = true;
    this.#kr.arena.reset();
    disposeKernels(this.#kr);
  }
}

/** A token sampler: greedy at temperature 0, else top-k / top-p with a seeded generator. */
export function sampler(options: GenerateOptions): (logits: Float32Array) => number {
  const temperature = options.temperature ?? 0;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0) || !(topP > 0 && topP <= 1) || !(topK >= 0)) {
    throw new InvalidArgumentError(
      `Sampling options out of range: temperature ${temperature}, topK ${topK}, topP ${topP}`,
    );
  }
  let seed = (options.seed ?? 1) >>> 0;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (logits) => {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    if (temperature === 0) return best;
    let order = [...logits.keys()].sort((x, y) => logits[y] - logits[x]);
    if (topK > 0) order = order.slice(0, topK);
    const p = order.map((i) => Math.exp((logits[i] - logits[best]) / temperature));
    const total = p.reduce((s, v) => s + v, 0);
    let keep = order.length;
    if (topP < 1) {
      let acc = 0;
      for (let i = 0; i < order.length; i++) {
        acc += p[i] / total;
        if (acc >= topP) {
          keep = i + 1;
          break;
        }
      }
    }
    const mass = p.slice(0, keep).reduce((s, v) => s + v, 0);
    let r = random() * mass;
    for (let i = 0; i < keep; i++) {
      r -= p[i];
      if (r <= 0) return order[i];
    }
    return order[keep - 1];
  };
}

/**
 * A checkpoint's JSON file (config, index, tokenizer), which must hold an object; a broken
 * file is a ModelFormatError naming it.
 */
export function parseCheckpointJson(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(
      `Checkpoint file "${file}" is not valid JSON (${
        (cause as Error).message
      }): check the file is complete`,
      { cause },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ModelFormatError(
      `Checkpoint file "${file}" holds ${
        value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`
      }, not an object`,
    );
  }
  return value as Record<string, unknown>;
}

async function readText(base: string, file: string): Promise<string> {
  return new TextDecoder().decode(await readCheckpointFile(base, file));
}

/** The bytes of a checkpoint's `file` in the directory or base URL `base`. */
export function readCheckpointFile(base: string, file: string): Promise<Uint8Array> {
  return readSource(childSource(base, file), "checkpoint file");
}

/** What a checkpoint holds, ready to build a model from. */
export interface MambaCheckpoint {
  /** The kernels the model will run on. */
  kr: Kernels;
  /** Dimensions, checked against the weights. */
  config: MambaConfig;
  /** Every tensor's shape; values read from the files as the model is built. */
  weights: CheckpointTensors;
  /** The checkpoint's tokenizer, or UTF-8 bytes. */
  tokenizer: TextTokenizer;
}

/** A checkpoint's tensors over its open safetensors files (one, or the shards). */
export interface CheckpointTensors extends MambaTensors {
  /** `read` for any file, also one whose parts arrive later (over HTTP). */
  readAsync(name: string, into: Float32Array): Promise<void>;
  /** Closes the files. */
  close(): void;
}

/**
 * The tensors of the open safetensors files, as one set; a tensor in two shards is refused.
 * Closing it closes them all.
 */
export function checkpointTensors(files: readonly SafetensorsReader[]): CheckpointTensors {
  const owner = new Map<string, SafetensorsReader>();
  const dims = new Map<string, readonly number[]>();
  for (const f of files) {
    for (const [name, info] of f.tensors) {
      const other = owner.get(name);
      if (other) {
        throw new ModelFormatError(
          `Mamba checkpoint: tensor "${name}" is in both "${other.file}" and "${f.file}"`,
        );
      }
      owner.set(name, f);
      dims.set(name, info.dims);
    }
  }
  const ownerOf = (name: string) => {
    const f = owner.get(name);
    if (!f) throw new ModelFormatError(`Mamba checkpoint: tensor "${name}" is missing`);
    return f;
  };
  return {
    dims,
    float16: (name) => owner.get(name)?.tensors.get(name)?.dtype === "F16",
    read: (name, into) => ownerOf(name).read(name, into),
    readAsync: (name, into) => ownerOf(name).readAsync(name, into),
    close: () => files.forEach((f) => f.close()),
  };
}

/**
 * Packs a read checkpoint's weights into its kernels' arena, reading each tensor when the
 * packing needs it (over HTTP, as it arrives), then closes its files; if that fails, the
 * kernels are released too.
 */
export async function packCheckpoint(c: MambaCheckpoint): Promise<PackedMamba> {
  try {
    const steps = packMamba(c.kr, c.config, c.weights);
    for (let r = steps.next();; r = steps.next()) {
      if (r.done) return r.value;
      await c.weights.readAsync(r.value.name, r.value.into);
    }
  } catch (e) {
    disposeKernels(c.kr);
    throw e;
  } finally {
    c.weights.close();
  }
}

/**
 * The shard files a parsed `model.safetensors.index.json` names, each once, checked: its
 * "weight_map" maps tensor names to file names that stay beside the index.
 */
export function indexShards(index: unknown): string[] {
  const file = "model.safetensors.index.json";
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  const shards = typeof map === "object" && map !== null ? Object.values(map) : [];
  if (shards.length === 0 || shards.some((s) => typeof s !== "string")) {
    throw new ModelFormatError(
      `Checkpoint file "${file}": "weight_map" must map tensor names to shard files`,
    );
  }
  for (const shard of shards) checkBesideName(shard as string, `Checkpoint file "${file}": shard`);
  return [...new Set(shards as string[])];
}

/** Reads a Mamba-1 checkpoint (see `loadMamba`) and loads the kernels. */
export async function readMambaCheckpoint(
  source: string,
  options: LoadMambaOptions = {},
): Promise<MambaCheckpoint> {
  checkOptions(options, LOAD_MAMBA_OPTIONS, "loadMamba()");
  const config = parseCheckpointJson(await readText(source, "config.json"), "config.json");
  const files: SafetensorsReader[] = [];
  let packed: CheckpointTensors | undefined;
  try {
    try {
      files.push(
        await openSafetensors(childSource(source, "model.safetensors"), "model.safetensors"),
      );
    } catch (e) {
      if (!isMissingSource(e)) throw e;
    }
    if (files.length === 0) packed = await readPackage(source);
    if (files.length === 0 && !packed) {
      // Sharded: the index maps every tensor to its shard.
      const indexFile = "model.safetensors.index.json";
      let indexText: string;
      try {
        indexText = await readText(source, indexFile);
      } catch (cause) {
        throw new ModelFormatError(
          `Found neither model.safetensors, model.qsp nor ${indexFile} in "${source}": point ` +
            `loadMamba at the checkpoint's directory or base URL`,
          { cause },
        );
      }
      for (const shard of indexShards(parseCheckpointJson(indexText, indexFile))) {
        files.push(await openSafetensors(childSource(source, shard), shard));
      }
    }
    return await checkpointOf(source, options, config, packed ?? checkpointTensors(files));
  } catch (e) {
    files.forEach((f) => f.close());
    packed?.close();
    throw e;
  }
}

/**
 * The checkpoint's `model.qsp` (a Quartet sparse package of its safetensors, `cli.ts pack`),
 * or undefined when there is none.
 */
async function readPackage(source: string): Promise<CheckpointTensors | undefined> {
  const { openSafetensorsPackage } = await import(
    "../../formats/sparse_package/safetensors_package.ts"
  );
  try {
    return await openSafetensorsPackage(childSource(source, "model.qsp"), "model.qsp");
  } catch (e) {
    if (isMissingSource(e)) return undefined;
    throw e;
  }
}

/** The rest of `readMambaCheckpoint` once the weight files are open: tokenizer, kernels. */
async function checkpointOf(
  source: string,
  options: LoadMambaOptions,
  config: Record<string, unknown>,
  weights: CheckpointTensors,
): Promise<MambaCheckpoint> {
  // tokenizer.json is optional: without it, byte-vocabulary models use UTF-8 bytes as tokens.
  let tokenizer = BYTE_TOKENIZER;
  let tokenizerJson: string | undefined;
  try {
    tokenizerJson = await readText(source, "tokenizer.json");
  } catch (e) {
    if (!isMissingSource(e)) throw e;
  }
  if (tokenizerJson !== undefined) {
    let cfg = {};
    try {
      cfg = parseCheckpointJson(
        await readText(source, "tokenizer_config.json"),
        "tokenizer_config.json",
      );
    } catch (e) {
      if (!isMissingSource(e)) throw e;
    }
    tokenizer = await tokenizerFromJson(parseCheckpointJson(tokenizerJson, "tokenizer.json"), cfg);
  }
  const [kr] = await Promise.all([
    loadKernels({
      kernels: options.kernels,
      module: options.module,
      maxMemoryBytes: options.maxMemoryBytes,
      threads: options.threads,
    }),
    // The weights are read as the model is built, so whether any is sparse is not known yet:
    // the sparse formats load for every checkpoint (a small module beside the model's size).
    loadSparsePackers(),
  ]);
  try {
    setGemvWeights(kr, options.gemvWeights);
    return { kr, config: mambaConfig(config, weights), weights, tokenizer };
  } catch (e) {
    disposeKernels(kr);
    throw e;
  }
}

/**
 * Loads a Mamba-1 checkpoint in the Hugging Face layout from a directory or a base URL:
 * `config.json` and `model.safetensors` (or `model.safetensors.index.json` and its shards).
 * (or `model.qsp`, a sparse package). The weights are read tensor by tensor into the model's
 * memory, from a local file or with HTTP Range requests, so loading needs about the model's
 * own size; a server that does not serve ranges sends the whole file first.
 *
 * @example
 * ```ts ignore
 * const model = await loadMamba("tests/fixtures/mamba");
 * const logits = model.forward([72, 105]);
 * ```
 */
export async function loadMamba(
  source: string,
  options: LoadMambaOptions = {},
): Promise<MambaModel> {
  const c = await readMambaCheckpoint(source, options);
  return new MambaModel(c.kr, c.config, await packCheckpoint(c), c.tokenizer);
}
