/**
 * Mamba in the public API: `loadMamba` and the `MambaModel` it returns, a handle whose
 * implementation (mamba.ts: weight packing, the forward pass, sampling, the safetensors
 * reader) is imported by the first `loadMamba`, so apps that only run ONNX models do not
 * download it.
 *
 * @module
 */
import { QuartetError } from "../../errors.ts";
import type { Kernels, ThreadInfo } from "../../wasm/kernels.ts";
import type {
  GenerateOptions,
  GenerateStats,
  LoadMambaOptions,
  MambaConfig,
  MambaState,
  MambaSummary,
  MambaWeights,
  PackedMamba,
} from "./mamba.ts";
import { BYTE_TOKENIZER, type TextTokenizer } from "./tokenizer.ts";

type Implementation = typeof import("./mamba.ts");

let implementation: Implementation | undefined;

/** A loaded Mamba model. Create with `loadMamba`. */
export class MambaModel {
  /** The model's dimensions. */
  readonly config: MambaConfig;
  /** Text ↔ ids: the checkpoint's tokenizer.json, or UTF-8 bytes for byte-vocabulary models. */
  readonly tokenizer: TextTokenizer;
  readonly #model: InstanceType<Implementation["MambaModel"]>;

  /** Use `loadMamba`. */
  constructor(
    kr: Kernels,
    config: MambaConfig,
    weights: MambaWeights | PackedMamba,
    tokenizer: TextTokenizer = BYTE_TOKENIZER,
  ) {
    if (!implementation) throw new QuartetError("Create Mamba models with loadMamba");
    this.#model = new implementation.MambaModel(kr, config, weights, tokenizer);
    this.config = config;
    this.tokenizer = tokenizer;
  }

  /**
   * How many threads run the kernels, and why (`LoadMambaOptions.threads`; with "auto", what
   * the trial chose once it has decided).
   *
   * @example
   * ```ts ignore
   * const model = await loadMamba("tests/fixtures/mamba", { threads: 2 });
   * console.log(model.threads.count, model.threads.reason);
   * ```
   */
  get threads(): ThreadInfo {
    return this.#model.threads;
  }

  /**
   * The kernel build, threads, parameter count, the kernel each projection got (dense or a
   * sparse format, and why) and the arena's peak.
   *
   * @example
   * ```ts ignore
   * const model = await loadMamba("tests/fixtures/mamba");
   * for (const c of model.summary().kernelChoices) console.log(c.name, c.format, c.reason);
   * ```
   */
  summary(): MambaSummary {
    return this.#model.summary();
  }

  /** Clears the recurrent state (a new sequence). */
  reset(): void {
    this.#model.reset();
  }

  /** A copy of the recurrent state, to resume later with `restoreState`. */
  saveState(): MambaState {
    return this.#model.saveState();
  }

  /** Restores a state from `saveState`. */
  restoreState(state: MambaState): void {
    this.#model.restoreState(state);
  }

  /**
   * Feeds tokens (continuing the current state) and returns the logits of every token
   * ([tokens.length × vocab], row-major), or of the last one only with `lastOnly`.
   */
  forward(tokens: readonly number[], options: { lastOnly?: boolean } = {}): Float32Array {
    return this.#model.forward(tokens, options);
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
  generate(
    prompt: readonly number[],
    options: GenerateOptions = {},
  ): AsyncGenerator<number, GenerateStats> {
    return this.#model.generate(prompt, options);
  }

  /** Frees the model's memory and stops its worker threads. */
  dispose(): void {
    this.#model.dispose();
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
  implementation ??= await import("./mamba.ts");
  const c = await implementation.readMambaCheckpoint(source, options);
  return new MambaModel(c.kr, c.config, await implementation.packCheckpoint(c), c.tokenizer);
}
