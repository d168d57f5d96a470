/**
 * Half-precision (IEEE f16) weights for the GEMV kernel `f32_gemv_f16w_4x8`
 * (kernels-as/gemm/f32_gemv_f16w_4x8.ts documents the layout): packing from f32 Wᵀ, which
 * validates (the kernel assumes finite halves), unpacking, the load policy, the mark on
 * initializers that a model stored as float16, and the check at load that those feeding
 * matrix products are finite.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError } from "../errors.ts";
import { float16ToFloat32, float32ToFloat16, HostFloat16 } from "../formats/float16.ts";
import { forEachGraph, type Model, type Node } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";

/** Outputs per packed panel. */
export const F16_GEMV_NR = 8;

/** Position of panel output j (0-7) in its 8-half record: even halves 0-3, odd ones 4-7. */
function slot(j: number): number {
  return j < 4 ? 2 * j : 2 * (j - 4) + 1;
}

/** Bytes of packed f16 GEMV weights for n outputs and k inputs. */
export function f16GemvBytes(n: number, k: number): number {
  return Math.ceil(n / F16_GEMV_NR) * k * 16;
}

/**
 * Packs Wᵀ (n outputs x k inputs, row-major f32) as halves rounded to nearest even. NaN and
 * infinite weights are a ModelFormatError naming `what`; returns null when a finite weight
 * lies beyond the f16 range (it would round to infinity).
 */
export function packF16Gemv(
  wt: Float32Array,
  n: number,
  k: number,
  what: string,
): Uint16Array | null {
  const src = wt.subarray(0, n * k);
  const bits = HostFloat16 ? new Uint16Array(HostFloat16.from(src).buffer) : float32ToFloat16(src);
  const out = new Uint16Array(f16GemvBytes(n, k) / 2);
  for (let i = 0; i < n; i++) {
    const base = Math.floor(i / F16_GEMV_NR) * k * 8 + slot(i % F16_GEMV_NR);
    for (let j = 0; j < k; j++) {
      const h = bits[i * k + j];
      if ((h & 0x7c00) === 0x7c00) {
        const v = src[i * k + j];
        if (Number.isFinite(v)) return null;
        throw new ModelFormatError(
          `${what}: the weight of output ${i}, input ${j} is ${v}; f16 weights must be finite`,
        );
      }
      out[base + j * 8] = h;
    }
  }
  return out;
}

/** Wᵀ (n x k f32, row-major) of packed halves: the exact values the kernel multiplies by. */
export function unpackF16Gemv(packed: Uint16Array, n: number, k: number): Float32Array {
  const bits = new Uint16Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = Math.floor(i / F16_GEMV_NR) * k * 8 + slot(i % F16_GEMV_NR);
    for (let j = 0; j < k; j++) bits[i * k + j] = packed[base + j * 8];
  }
  return float16ToFloat32(bits);
}

/**
 * Which dense GEMV weights are kept as f16 (`loadModel`'s `gemvWeights`): "auto" those a
 * model stores as float16 (ONNX and safetensors float16 tensors, also behind a folded Cast to
 * float, and the values of a float16 sparse package), "f16" every constant MatMul / Gemm /
 * RNN input weight, "f32" none. The cost model decides in each case whether the f16 kernel
 * is faster for the layer.
 */
export type GemvWeights = "auto" | "f16" | "f32";

/** The policy of a model's kernels and the bytes of all its weights (what a run streams). */
export interface GemvSetting {
  policy: GemvWeights;
  modelBytes: number;
}

const SETTINGS = new WeakMap<Kernels, GemvSetting>();

/**
 * Sets the policy of the weights packed with these kernels (checking the option's value) and
 * the model's weight bytes; an undefined argument keeps the current value.
 */
export function setGemvWeights(kr: Kernels, policy?: GemvWeights, modelBytes?: number): void {
  if (policy !== undefined && policy !== "auto" && policy !== "f16" && policy !== "f32") {
    throw new InvalidArgumentError(
      `Unknown gemvWeights option ${JSON.stringify(policy)}: use "auto", "f16" or "f32"`,
    );
  }
  const s = gemvWeightsOf(kr);
  SETTINGS.set(kr, { policy: policy ?? s.policy, modelBytes: modelBytes ?? s.modelBytes });
}

/** The setting of these kernels ("auto", no weights known, unless set). */
export function gemvWeightsOf(kr: Kernels): GemvSetting {
  return SETTINGS.get(kr) ?? { policy: "auto", modelBytes: 0 };
}

/** Bytes of all initializers of a model, subgraphs included. */
export function modelWeightBytes(model: Model): number {
  let bytes = 0;
  forEachGraph(model.graph, (g) => {
    for (const t of g.initializers.values()) bytes += t.data.byteLength;
  });
  return bytes;
}

/** Ops whose input 1, when constant, is a weight the f16 GEMV may keep (`packGemmWeights`). */
const GEMV_WEIGHT_OPS = new Set(["MatMul", "Gemm", "LSTM", "GRU", "RNN"]);

/** Whether a node passes input 0's values on (a Cast to float32, ONNX code 1, keeps halves). */
function keepsValues(p: Node): boolean {
  return p.op === "Identity" || p.op === "CastLike" || (p.op === "Cast" && p.attributes.to === 1);
}

/**
 * Throws a ModelFormatError when a weight a model stores as float16 (`isFloat16Origin`) holds
 * a NaN or an infinity and is the B of a MatMul / Gemm or the W of an LSTM / GRU / RNN,
 * directly or through Identity, CastLike or Cast to float (which constant folding removes),
 * in any graph.
 *
 * Only those weights: they are the ones the f16 GEMV may keep as halves, and its kernel
 * needs finite ones. Every other float16 initializer decodes exactly like its float32 twin,
 * infinities included (an attention mask of -inf is a legitimate constant), so it is left
 * alone. The check does not depend on `gemvWeights` or on the cost model: a product with a
 * non-finite weight gives non-finite outputs on any kernel, and a model either loads on every
 * host or on none. (Under `gemvWeights: "f16"` a float32 weight is rounded to halves only
 * when the cost model keeps it as f16, at its op's preparation: `packF16Gemv` checks it then.)
 *
 * @example
 * ```ts ignore
 * import { checkFloat16Weights } from "./f16_gemv.ts";
 * import { decodeOnnx } from "../formats/onnx/mod.ts";
 * const model = await decodeOnnx(await Deno.readFile("model_fp16.onnx"));
 * checkFloat16Weights(model); // throws ModelFormatError on a NaN or infinite f16 weight
 * ```
 */
export function checkFloat16Weights(model: Model): void {
  let halves = false;
  forEachGraph(model.graph, (g) => {
    for (const t of g.initializers.values()) halves ||= isFloat16Origin(t);
    for (const n of g.nodes) {
      const v = n.attributes.value;
      halves ||= n.op === "Constant" && v instanceof Tensor && isFloat16Origin(v);
    }
  });
  if (!halves) return; // most models: nothing stored as float16
  // Value names are unique across a model and its subgraphs (ONNX's SSA rule).
  const constants = new Map<string, Tensor>();
  const producer = new Map<string, Node>();
  const uses: Node[] = [];
  forEachGraph(model.graph, (g) => {
    for (const [name, t] of g.initializers) constants.set(name, t);
    for (const n of g.nodes) {
      for (const o of n.outputs) producer.set(o, n);
      const v = n.attributes.value;
      if (n.op === "Constant" && v instanceof Tensor) constants.set(n.outputs[0], v);
      if (GEMV_WEIGHT_OPS.has(n.op) && !n.domain) uses.push(n);
    }
  });
  for (const n of uses) {
    let name = n.inputs[1] ?? "";
    // The bound stops at a malformed graph's cycle.
    for (let hops = 0, p = producer.get(name); p && keepsValues(p) && hops < 16; hops++) {
      name = p.inputs[0];
      p = producer.get(name);
    }
    const t = constants.get(name);
    if (!isFloat16Origin(t)) continue;
    const data = t!.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      // NaN and ±Infinity are the values for which v - v is not 0.
      if (data[i] - data[i] === 0) continue;
      throw new ModelFormatError(
        `Node "${n.name}" (${n.op}): float16 weight "${name}" holds ${data[i]} at element ${i}; ` +
          "the weights of a matrix product must be finite (a value beyond the float16 range, " +
          "or a damaged file: export the model again, keeping this weight in float32)",
      );
    }
  }
}

const FROM_FLOAT16 = new WeakSet<Tensor>();

/** Marks a float32 tensor whose values a model stored as float16 (so they are exact halves). */
export function markFloat16Origin<T extends Tensor>(t: T): T {
  FROM_FLOAT16.add(t);
  return t;
}

/** Whether a tensor was expanded from float16 (`markFloat16Origin`). */
export function isFloat16Origin(t: Tensor | undefined): boolean {
  return t !== undefined && FROM_FLOAT16.has(t);
}
