/**
 * C4n pruning of Hugging Face Mamba-1 checkpoints (MambaForCausalLM safetensors). The linear
 * projections of every block (in_proj, x_proj, dt_proj, out_proj) and optionally an untied LM
 * head get, in every group of 4 consecutive weights along the input axis, n zeros; the result
 * is a standard safetensors file with zeros that Hugging Face loads as is and Quartet runs on
 * its C4n kernels.
 *
 * Without calibration the masks keep the largest |w| of each group. With calibration token
 * sequences, the pruner runs the model (mamba_forward.ts) block by block, twice in lockstep:
 * the dense model, and the model pruned so far. A weight's score is then |w| times the RMS of
 * the input feature it multiplies on the pruned model's activations, and (with `refit`) the
 * survivors of each row are refitted by damped least squares so the projection's output on
 * the pruned model's inputs matches the dense projection's on the dense inputs (refit.ts).
 * Every 5th calibration token is held out of the fit; a projection keeps its refit only if
 * the refit also lowers the error on those tokens (with fewer tokens than weights per row,
 * the refit overfits: on a random model of mamba-130m's widths it raised the held-out logit
 * error). The report's errors are measured on the held-out tokens.
 *
 * The input bytes are never modified. Tensors that are not pruned are copied byte for byte;
 * pruned ones keep their stored dtype (F32, F16 or BF16). Sharded checkpoints come back as
 * one file.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError } from "../errors.ts";
import { checkOptions as checkOptionNames } from "../options.ts";
import { float16ToFloat32, toFloat16Bits } from "../formats/float16.ts";
import { isMissingSource } from "../formats/read_source.ts";
import { parseSafetensors } from "../formats/safetensors/safetensors.ts";
import { type SafetensorsEntry, writeSafetensors } from "../formats/safetensors/write.ts";
import {
  indexShards,
  type MambaConfig,
  mambaConfig,
  parseCheckpointJson,
  readCheckpointFile,
} from "../models/mamba/mamba.ts";
import type { Tensor } from "../tensor.ts";
import { mambaProjections } from "./mamba_forward.ts";
import { magnitudeMask } from "./masks.ts";
import { calibrationPicks } from "./prune.ts";
import { type RefitRow, refitRows } from "./refit.ts";
import type { LayerReport } from "./report.ts";

/** A checkpoint as files: config.json parsed, and its safetensors file(s) by name. */
export interface MambaFiles {
  /** config.json. */
  config: Record<string, unknown>;
  /** "model.safetensors", or every shard of a sharded checkpoint, by file name. */
  files: Record<string, Uint8Array>;
}

/** Options of `pruneMamba`. */
export interface PruneMambaOptions {
  /** "c4n:1", "c4n:2" or "c4n:3": zeros in every group of 4 along the input axis. */
  scheme: string;
  /** Only projections whose weight name matches (default: every block projection). */
  layers?: RegExp | string;
  /**
   * Prune the LM head too (default false). Only an untied head (`lm_head.weight` stored and
   * `tie_word_embeddings: false`): a tied head is the embedding table, and zeros there would
   * also erase parts of every token's input embedding.
   */
  includeHead?: boolean;
  /** Token id sequences: activation-aware masks and the refit. None: magnitude only. */
  calibration?: readonly (readonly number[])[];
  /** Refit the survivors by least squares when calibrating (default true). */
  refit?: boolean;
  /** Calibration tokens used per projection at most (default 4096). */
  maxColumns?: number;
  /** Called after each projection. */
  onLayer?: (report: LayerReport) => void;
}

/** The pruned checkpoint and what was done to each projection. */
export interface PruneMambaResult {
  /** The new weights: { "model.safetensors": bytes } (sharded inputs become one file). */
  files: Record<string, Uint8Array>;
  /** The model's dimensions (config.json itself is unchanged). */
  config: MambaConfig;
  /** One row per projection considered (and one for the LM head). */
  layers: LayerReport[];
}

/** A stored tensor: its float values and where its bytes are in its file. */
interface Stored {
  tensor: Tensor;
  dtype: "F32" | "F16" | "BF16";
  raw: Uint8Array;
}

/** Every tensor of the files, in file and header order, validated by parseSafetensors. */
function readTensors(files: Record<string, Uint8Array>) {
  const tensors = new Map<string, Stored>();
  const metadata: Record<string, string> = {};
  for (const [file, bytes] of Object.entries(files)) {
    const parsed = parseSafetensors(bytes, file);
    const headerEnd = 8 +
      Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, headerEnd)));
    Object.assign(metadata, header.__metadata__ ?? {});
    for (const [name, e] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      if (tensors.has(name)) {
        throw new ModelFormatError(
          `Cannot read "${file}": tensor "${name}" is also in another shard`,
        );
      }
      const { dtype, data_offsets: [begin, end] } = e as {
        dtype: Stored["dtype"];
        data_offsets: [number, number];
      };
      const raw = bytes.subarray(headerEnd + begin, headerEnd + end);
      tensors.set(name, { tensor: parsed.get(name)!, dtype, raw });
    }
  }
  return { tensors, metadata };
}

/** The values in a stored dtype's little-endian bytes (F16 and BF16 round to nearest even). */
function encode(values: Float32Array, dtype: Stored["dtype"]): Uint8Array {
  if (dtype === "F32") return new Uint8Array(values.slice().buffer);
  const out = new Uint16Array(values.length);
  if (dtype === "F16") {
    for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]);
  } else {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) {
      const b = bits[i];
      out[i] = (b & 0x7fffffff) > 0x7f800000
        ? (b >>> 16) | 0x40
        : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  }
  return new Uint8Array(out.buffer);
}

/** One projection to prune. */
interface Target {
  weight: string;
  rows: number;
  k: number;
}

/** The block projections and the head, with the shapes the config implies. */
function projections(cfg: MambaConfig, head: string): Target[] {
  const { dModel, dInner, dState, dtRank } = cfg;
  const out: Target[] = [];
  for (let i = 0; i < cfg.layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    out.push(
      { weight: `${m}in_proj.weight`, rows: 2 * dInner, k: dModel },
      { weight: `${m}x_proj.weight`, rows: dtRank + 2 * dState, k: dInner },
      { weight: `${m}dt_proj.weight`, rows: dInner, k: dtRank },
      { weight: `${m}out_proj.weight`, rows: dModel, k: dInner },
    );
  }
  out.push({ weight: head, rows: cfg.vocab, k: dModel });
  return out;
}

/** Calibration features of one projection's input: [k][cols], float64. */
interface Features {
  cols: number;
  /** On the dense model. */
  dense: Float64Array;
  /** On the model pruned so far. */
  pruned: Float64Array;
}

/** Features [k][cols] (float64) of the chosen rows of [tokens][k] activations. */
function features(rows: Float32Array, k: number, picks: number[]): Float64Array {
  const cols = picks.length;
  const out = new Float64Array(k * cols);
  picks.forEach((t, c) => {
    for (let j = 0; j < k; j++) out[j * cols + c] = rows[t * k + j];
  });
  return out;
}

/** |w| times the RMS of the input feature it multiplies. */
function activationScores(w: Float32Array, t: Target, f: Float64Array, cols: number) {
  const out = new Float32Array(w.length);
  for (let j = 0; j < t.k; j++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += f[j * cols + c] ** 2;
    const rms = Math.sqrt(s / Math.max(cols, 1));
    for (let r = 0; r < t.rows; r++) out[r * t.k + j] = Math.abs(w[r * t.k + j]) * rms;
  }
  return out;
}

function checkOptions(options: PruneMambaOptions): { n: number; layers?: RegExp } {
  checkOptionNames(
    options,
    [
      "scheme",
      "layers",
      "includeHead",
      "calibration",
      "refit",
      "maxColumns",
      "onLayer",
    ],
    "pruneMamba()",
    { includeHead: [true, false], refit: [true, false] },
  );
  const c4n = /^c4n:([123])$/.exec(options?.scheme);
  if (!c4n) {
    throw new InvalidArgumentError(
      `Unknown Mamba pruning scheme "${options?.scheme}": use c4n:1, c4n:2 or c4n:3`,
    );
  }
  let layers: RegExp | undefined;
  try {
    layers = typeof options.layers === "string" ? new RegExp(options.layers) : options.layers;
  } catch (cause) {
    throw new InvalidArgumentError(
      `The layers option "${options.layers}" is not a valid regular expression`,
      { cause },
    );
  }
  const max = options.maxColumns ?? 4096;
  if (!(Number.isInteger(max) && max > 0)) {
    throw new InvalidArgumentError(
      `The maxColumns option is ${max}: it must be a positive whole number`,
    );
  }
  return { n: Number(c4n[1]), layers };
}

/**
 * Prunes a Mamba-1 checkpoint to C4n sparsity and returns it as a safetensors file.
 *
 * @example
 * ```ts ignore
 * const input = await readMambaFiles("state-spaces/mamba-130m-hf");
 * const { files, layers } = pruneMamba(input, { scheme: "c4n:2", calibration: [ids] });
 * await Deno.writeFile("out/model.safetensors", files["model.safetensors"]);
 * console.log(pruneReportMarkdown(layers));
 * ```
 */
export function pruneMamba(input: MambaFiles, options: PruneMambaOptions): PruneMambaResult {
  const { n, layers: only } = checkOptions(options);
  if (!input?.files || Object.keys(input.files).length === 0) {
    throw new InvalidArgumentError(
      "Cannot prune the Mamba checkpoint: it has no safetensors file (pass at least one)",
    );
  }
  const { tensors, metadata } = readTensors(input.files);
  const floats = new Map([...tensors].map(([k, v]) => [k, v.tensor]));
  const cfg = mambaConfig(input.config, floats);
  const untied = tensors.has("lm_head.weight") && input.config.tie_word_embeddings === false;
  const headName = tensors.has("lm_head.weight") ? "lm_head.weight" : "backbone.embeddings.weight";
  const all = projections(cfg, headName);
  for (const t of all) {
    const dims = tensors.get(t.weight)?.tensor.dims;
    if (!dims) throw new ModelFormatError(`Mamba checkpoint: tensor "${t.weight}" is missing`);
    if (dims.length !== 2 || dims[0] !== t.rows || dims[1] !== t.k) {
      throw new ModelFormatError(
        `Mamba checkpoint: tensor "${t.weight}" is [${dims}], the config implies [${t.rows}, ${t.k}]`,
      );
    }
  }
  const head = all[all.length - 1];
  const blocks = all.slice(0, -1);
  const report = new Map<string, LayerReport>();
  const chosen = new Set<string>();
  const row = (t: Target): LayerReport => ({
    node: t.weight === head.weight ? "lm_head" : t.weight.replace(/\.weight$/, ""),
    op: "Linear",
    weight: t.weight,
    n: 0,
    sparsity: zeroShare(tensors.get(t.weight)!.tensor.data as Float32Array),
  });
  for (const t of blocks) {
    const r = row(t);
    report.set(t.weight, r);
    if (only && !only.test(t.weight)) r.skipped = "not matched by the layers option";
    else if (t.k < 4) {
      if (only) {
        throw new InvalidArgumentError(
          `Cannot prune "${t.weight}" to C4,${n}: its input dimension ${t.k} is below 4 (no ` +
            `group of 4); leave it out of the layers option`,
        );
      }
      r.skipped = `input dimension ${t.k} < 4: no group of 4 to prune`;
    } else chosen.add(t.weight);
  }
  const headRow = row(head);
  report.set(head.weight, headRow);
  if (!options.includeHead) headRow.skipped = "the LM head is kept dense unless includeHead";
  else if (!untied) {
    headRow.skipped = "the LM head is tied to the embeddings (no lm_head.weight, or " +
      "tie_word_embeddings is not false): zeros in it would also zero parts of the input " +
      "embeddings, so it stays dense (untie it to prune it)";
  } else if (only && !only.test(head.weight)) headRow.skipped = "not matched by the layers option";
  else chosen.add(head.weight);
  if (only && chosen.size === 0) {
    throw new InvalidArgumentError(
      `The layers option ${only} matches none of the prunable projections (e.g. ` +
        `"${blocks[0].weight}")`,
    );
  }

  const calibration = options.calibration;
  const pruned = new Map<string, Float32Array>();
  /**
   * Masks one projection; with calibration features (dense and pruned-model inputs, [k][cols])
   * scores by activation and refits, keeping the refit only if it also lowers the error on the
   * held-out columns (`check`): with fewer tokens than weights per row it can overfit.
   */
  const prune = (t: Target, fit?: Features, check?: Features) => {
    const r = report.get(t.weight)!;
    const w = tensors.get(t.weight)!.tensor.data as Float32Array;
    const shape = { rows: t.rows, k: t.k, index: (i: number, j: number) => i * t.k + j };
    const keep = magnitudeMask(shape, fit ? activationScores(w, t, fit.pruned, fit.cols) : w, n);
    let out = w.map((v, i) => (keep[i] ? v : 0));
    r.note = fit ? "activation-aware mask" : "magnitude mask";
    if (fit && check) {
      r.errorMagnitude = outputError(t, w, out, check);
      if (options.refit !== false) {
        // The bias stays as stored and cancels out of the fit: rows are fitted without it.
        const problems = Array.from({ length: t.rows }, (_, i): RefitRow => {
          const d = new Float64Array(t.k + 1);
          const kp = new Uint8Array(t.k + 1);
          for (let j = 0; j < t.k; j++) [d[j], kp[j]] = [w[i * t.k + j], keep[i * t.k + j]];
          return { dense: d, keep: kp };
        });
        const fits = refitRows({ features: t.k, ...fit }, problems);
        const refitted = out.slice();
        fits.forEach((f, i) => {
          for (let j = 0; j < t.k; j++) if (keep[i * t.k + j]) refitted[i * t.k + j] = f.row[j];
        });
        const error = outputError(t, w, refitted, check);
        if (error < r.errorMagnitude) {
          [out, r.errorRefit] = [refitted, error];
          r.note += " + least-squares refit";
        } else {
          r.errorRefit = r.errorMagnitude;
          r.note += "; refit dropped: it raised the error on held-out calibration tokens";
        }
      }
    }
    // A refit value that rounds to zero in a half dtype is still a zero: C4n holds either way.
    const stored = encode(out, tensors.get(t.weight)!.dtype);
    const back = decode(stored, tensors.get(t.weight)!.dtype);
    pruned.set(t.weight, back);
    r.n = n;
    r.scheme = options.scheme;
    r.sparsity = zeroShare(back);
    options.onLayer?.(r);
  };

  if (calibration) {
    checkCalibration(calibration, cfg.vocab);
    const denseW = (name: string) => floats.get(name)?.data as Float32Array | undefined;
    const prunedW = (name: string) => pruned.get(name) ?? denseW(name);
    const denseRun = mambaProjections(cfg, denseW, calibration, headName);
    const prunedRun = mambaProjections(cfg, prunedW, calibration, headName);
    const total = calibration.reduce((s, q) => s + q.length, 0);
    // Every 5th calibration column is held out to check the refit, the others fit it.
    const picks = calibrationPicks(total, options.maxColumns ?? 4096);
    const few = picks.length < 5;
    const checkPicks = few ? picks : picks.filter((_, i) => i % 5 === 4);
    const fitPicks = few ? picks : picks.filter((_, i) => i % 5 !== 4);
    const last = [...chosen].at(-1);
    for (;;) {
      const d = denseRun.next();
      const p = prunedRun.next();
      if (d.done || p.done) break;
      const t = all.find((x) => x.weight === d.value.weight)!;
      if (chosen.has(t.weight)) {
        const x = (picked: number[]): Features => ({
          cols: picked.length,
          dense: features(d.value.rows, t.k, picked),
          pruned: features(p.value.rows, t.k, picked),
        });
        prune(t, x(fitPicks), x(checkPicks));
      }
      // Past the last pruned projection, nothing more is learned from running on.
      if (t.weight === last) break;
    }
  } else {
    for (const t of all) if (chosen.has(t.weight)) prune(t);
  }

  const entries: SafetensorsEntry[] = [...tensors].map(([name, s]) => ({
    name,
    dtype: s.dtype,
    shape: s.tensor.dims,
    data: pruned.has(name) ? encode(pruned.get(name)!, s.dtype) : s.raw,
  }));
  const bytes = writeSafetensors(entries, { format: "pt", ...metadata });
  return {
    files: { "model.safetensors": bytes },
    config: cfg,
    layers: [...report.values()],
  };
}

/** Floats back from a dtype's bytes, as the model will read them. */
function decode(bytes: Uint8Array, dtype: Stored["dtype"]): Float32Array {
  if (dtype === "F32") return new Float32Array(bytes.slice().buffer);
  const halves = new Uint16Array(bytes.slice().buffer);
  if (dtype === "F16") return float16ToFloat32(halves);
  return new Float32Array(Uint32Array.from(halves, (h) => h << 16).buffer);
}

/** ‖W'·P − W·D‖ / ‖W·D‖ over the calibration columns (an unchanged bias cancels out). */
function outputError(t: Target, dense: Float32Array, changed: Float32Array, x: Features): number {
  const { cols, dense: denseIn, pruned: prunedIn } = x;
  let err = 0;
  let norm = 0;
  const a = new Float64Array(cols);
  const b = new Float64Array(cols);
  for (let r = 0; r < t.rows; r++) {
    a.fill(0);
    b.fill(0);
    for (let j = 0; j < t.k; j++) {
      const wd = dense[r * t.k + j];
      const wc = changed[r * t.k + j];
      const fd = denseIn.subarray(j * cols, (j + 1) * cols);
      const fp = prunedIn.subarray(j * cols, (j + 1) * cols);
      if (wd !== 0) { for (let c = 0; c < cols; c++) a[c] += wd * fd[c]; }
      if (wc !== 0) { for (let c = 0; c < cols; c++) b[c] += wc * fp[c]; }
    }
    for (let c = 0; c < cols; c++) [err, norm] = [err + (b[c] - a[c]) ** 2, norm + a[c] ** 2];
  }
  return Math.sqrt(err / Math.max(norm, 1e-30));
}

function zeroShare(w: Float32Array): number {
  let z = 0;
  for (const v of w) if (v === 0) z++;
  return w.length ? z / w.length : 0;
}

function checkCalibration(sequences: readonly (readonly number[])[], vocab: number): void {
  if (!Array.isArray(sequences) || sequences.length === 0) {
    throw new InvalidArgumentError("The calibration option needs at least one token sequence");
  }
  sequences.forEach((q, s) => {
    if (!Array.isArray(q) || q.length === 0) {
      throw new InvalidArgumentError(`Calibration sequence ${s} is empty`);
    }
    for (const t of q) {
      if (!Number.isInteger(t) || t < 0 || t >= vocab) {
        throw new InvalidArgumentError(
          `Calibration sequence ${s}: token ${t} is outside the vocabulary (0..${vocab - 1})`,
        );
      }
    }
  });
}

/**
 * Reads a Mamba checkpoint's config.json and safetensors file(s) (model.safetensors, or the
 * shards listed by model.safetensors.index.json) from a directory or base URL, as bytes.
 *
 * @example
 * ```ts ignore
 * const input = await readMambaFiles("tests/fixtures/mamba");
 * console.log(Object.keys(input.files)); // ["model.safetensors"]
 * ```
 */
export async function readMambaFiles(source: string): Promise<MambaFiles> {
  const read = (file: string) => readCheckpointFile(source, file);
  const json = async (file: string) =>
    parseCheckpointJson(new TextDecoder().decode(await read(file)), file);
  const config = await json("config.json");
  try {
    return { config, files: { "model.safetensors": await read("model.safetensors") } };
  } catch (e) {
    if (!isMissingSource(e)) throw e;
  }
  const index = await json("model.safetensors.index.json");
  const files: Record<string, Uint8Array> = {};
  for (const shard of indexShards(index)) files[shard] = await read(shard);
  return { config, files };
}
