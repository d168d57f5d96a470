/**
 * A plain TypeScript Mamba-1 forward over token sequences that stops before every linear
 * projection and shows its input, for the pruner's calibration. Written from the Mamba-1
 * equations (the same as tests/fixtures/mamba/generate.py), not through the engine: the
 * engine's forward keeps its activations in the Wasm arena and offers no place to observe
 * them, and the pruner needs to change a projection's weights between seeing its input and
 * running it. Float32 storage, float64 sums.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import type { MambaConfig } from "../models/mamba/mamba.ts";

/** The input of one linear projection, over all tokens of all sequences. */
export interface ProjectionInput {
  /** The weight tensor the projection multiplies (e.g. "backbone.layers.0.mixer.x_proj.weight"). */
  weight: string;
  /** Input features per token (the weight's in-dimension). */
  k: number;
  /** Input rows [tokens][k], the sequences one after the other. */
  rows: Float32Array;
}

/** Reads a weight by tensor name, at the moment the forward needs it (undefined: absent). */
export type WeightSource = (name: string) => Float32Array | undefined;

/** y[t] = W · x[t] (+ b): W is [out, k] row-major, x is [tokens, k]. */
function linear(
  x: Float32Array,
  tokens: number,
  k: number,
  w: Float32Array,
  out: number,
  bias?: Float32Array,
): Float32Array {
  const y = new Float32Array(tokens * out);
  for (let t = 0; t < tokens; t++) {
    const xt = x.subarray(t * k, (t + 1) * k);
    for (let o = 0; o < out; o++) {
      let s = bias ? bias[o] : 0;
      const base = o * k;
      for (let j = 0; j < k; j++) s += w[base + j] * xt[j];
      y[t * out + o] = s;
    }
  }
  return y;
}

function rmsNorm(x: Float32Array, tokens: number, d: number, w: Float32Array, eps: number) {
  const y = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[t * d + j] ** 2;
    const r = 1 / Math.sqrt(s / d + eps);
    for (let j = 0; j < d; j++) y[t * d + j] = x[t * d + j] * r * w[j];
  }
  return y;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/**
 * Runs the model over `sequences` (each from an empty state), yielding before each linear
 * projection (in_proj, x_proj, dt_proj, out_proj of every block, then the LM head) with its
 * input; the weight is read from `weights` after the consumer resumes, so a pruner can
 * replace it in between. Returns the logits [tokens][vocab] when run to the end.
 *
 * @example
 * ```ts ignore
 * const run = mambaProjections(config, (n) => weights.get(n)!.data as Float32Array, [[1, 2]]);
 * for (let s = run.next(); !s.done; s = run.next()) console.log(s.value.weight, s.value.k);
 * ```
 */
export function* mambaProjections(
  config: MambaConfig,
  weights: WeightSource,
  sequences: readonly (readonly number[])[],
  head = "backbone.embeddings.weight",
): Generator<ProjectionInput, Float32Array, void> {
  const { dModel, dInner, dState, dConv, dtRank, vocab, layers, eps } = config;
  const weight = (name: string) => {
    const v = weights(name);
    if (!v) throw new ModelFormatError(`Mamba checkpoint: tensor "${name}" is missing`);
    return v;
  };
  const T = sequences.reduce((s, q) => s + q.length, 0);
  const starts: number[] = [];
  const x = new Float32Array(T * dModel);
  const embedding = weight("backbone.embeddings.weight");
  let at = 0;
  for (const q of sequences) {
    starts.push(at);
    for (const id of q) {
      x.set(embedding.subarray(id * dModel, (id + 1) * dModel), at * dModel);
      at++;
    }
  }
  const ends = [...starts.slice(1), T];
  const w = dtRank + 2 * dState;
  for (let i = 0; i < layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    const h = rmsNorm(x, T, dModel, weight(`backbone.layers.${i}.norm.weight`), eps);
    yield { weight: `${m}in_proj.weight`, k: dModel, rows: h };
    const xz = linear(h, T, dModel, weight(`${m}in_proj.weight`), 2 * dInner);
    // Depthwise causal conv over each sequence (zero history), then SiLU.
    const convW = weight(`${m}conv1d.weight`);
    const convB = weights(`${m}conv1d.bias`);
    const xc = new Float32Array(T * dInner);
    for (let s = 0; s < starts.length; s++) {
      for (let t = starts[s]; t < ends[s]; t++) {
        for (let d = 0; d < dInner; d++) {
          let v = convB ? convB[d] : 0;
          for (let j = 0; j < dConv; j++) {
            const src = t - (dConv - 1) + j;
            if (src >= starts[s]) v += convW[d * dConv + j] * xz[src * 2 * dInner + d];
          }
          xc[t * dInner + d] = silu(v);
        }
      }
    }
    yield { weight: `${m}x_proj.weight`, k: dInner, rows: xc };
    const dbl = linear(xc, T, dInner, weight(`${m}x_proj.weight`), w);
    const dtIn = new Float32Array(T * dtRank);
    for (let t = 0; t < T; t++) dtIn.set(dbl.subarray(t * w, t * w + dtRank), t * dtRank);
    yield { weight: `${m}dt_proj.weight`, k: dtRank, rows: dtIn };
    const dt = linear(
      dtIn,
      T,
      dtRank,
      weight(`${m}dt_proj.weight`),
      dInner,
      weight(`${m}dt_proj.bias`),
    );
    const aLog = weight(`${m}A_log`);
    const D = weight(`${m}D`);
    const y = new Float32Array(T * dInner);
    const state = new Float64Array(dInner * dState);
    for (let s = 0; s < starts.length; s++) {
      state.fill(0);
      for (let t = starts[s]; t < ends[s]; t++) {
        const B = dbl.subarray(t * w + dtRank, t * w + dtRank + dState);
        const C = dbl.subarray(t * w + dtRank + dState, (t + 1) * w);
        for (let d = 0; d < dInner; d++) {
          const raw = dt[t * dInner + d];
          const delta = raw > 20 ? raw : Math.log1p(Math.exp(raw));
          const u = xc[t * dInner + d];
          let out = 0;
          for (let n = 0; n < dState; n++) {
            const j = d * dState + n;
            state[j] = Math.exp(-delta * Math.exp(aLog[j])) * state[j] + delta * B[n] * u;
            out += state[j] * C[n];
          }
          y[t * dInner + d] = (out + D[d] * u) * silu(xz[t * 2 * dInner + dInner + d]);
        }
      }
    }
    yield { weight: `${m}out_proj.weight`, k: dInner, rows: y };
    const o = linear(y, T, dInner, weight(`${m}out_proj.weight`), dModel);
    for (let j = 0; j < x.length; j++) x[j] += o[j];
  }
  const hf = rmsNorm(x, T, dModel, weight("backbone.norm_f.weight"), eps);
  yield { weight: head, k: dModel, rows: hf };
  return linear(hf, T, dModel, weight(head), vocab);
}
