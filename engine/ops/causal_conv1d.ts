/**
 * Causal depthwise 1-D convolution over tokens with carried state: Mamba's `conv1d`
 * (PyTorch Conv1d with groups = channels, padding = K-1, output cut to the input length),
 * optionally fused with SiLU. Token-major: x is [L][D] (row stride free, so the x half of an
 * in_proj output needs no copy); the state is the last K-1 inputs, [K-1][D], oldest first.
 * One token (decode) and a whole prompt (prefill) run the same kernel; with K = 4 every
 * channel group keeps its taps and window in registers.
 *
 * Also the internal op "CausalConv1d" for graphs:
 * - inputs: x [L, D] or [batch, L, D]; w [D, K] or [D, 1, K] (PyTorch layout); bias [D]
 *   (optional); state [K-1, D] or [batch, K-1, D] (optional, zeros when absent).
 * - outputs: y (x's shape); state_out (the state's shape, optional).
 * - attribute `activation`: "none" (default) or "silu" (any parameterless name of
 *   kernels-as/activations.ts).
 *
 * @module
 */
import { type Activation, activationCode, ACTIVATIONS } from "../../kernels-as/activations.ts";
import { DTypeError, InvalidArgumentError, ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { formatDims, nodeLabel } from "./_node_params.ts";
import type { InputInfo, Op, OutputInfo } from "./op.ts";

/** Most taps the kernel takes. */
export const MAX_TAPS = 64;

/** Conv weights in the arena, tap-major as the kernel reads them. */
export interface CausalConv1dWeights {
  /** Byte offset of the [K][D] taps. */
  offset: number;
  /** Byte offset of D bias floats, or 0. */
  bias: number;
  /** Channels D. */
  channels: number;
  /** Taps K. */
  taps: number;
}

/**
 * Copies PyTorch-layout weights ([D][K], or [D][1][K]) and an optional bias into the arena in
 * the kernel's tap-major layout. Free with `releaseCausalConv1dWeights`.
 *
 * @example Pack Mamba's conv1d of one layer (d_inner 4, d_conv 4)
 * ```ts
 * import { loadKernels } from "../wasm/kernels.ts";
 * import { packCausalConv1dWeights } from "./causal_conv1d.ts";
 * const kr = await loadKernels();
 * const w = packCausalConv1dWeights(kr, new Float32Array(16).fill(0.25), 4, {
 *   bias: new Float32Array(4),
 * });
 * console.log(w.taps); // 4
 * ```
 */
export function packCausalConv1dWeights(
  kr: Kernels,
  w: Float32Array,
  channels: number,
  options: { bias?: Float32Array; name?: string } = {},
): CausalConv1dWeights {
  const taps = channels === 0 ? 0 : w.length / channels;
  if (!Number.isInteger(taps) || taps < 1 || taps > MAX_TAPS) {
    throw new InvalidArgumentError(
      `Conv1d weights "${options.name ?? "conv1d weights"}" of ${w.length} values do not ` +
        `split into ${channels} channels of 1..${MAX_TAPS} taps`,
    );
  }
  if (options.bias && options.bias.length !== channels) {
    throw new InvalidArgumentError(
      `The bias of conv1d weights "${options.name ?? "conv1d weights"}" has ` +
        `${options.bias.length} values, expected ${channels}`,
    );
  }
  const name = options.name ?? "conv1d weights";
  const offset = kr.arena.alloc(taps * channels * 4, name);
  const bias = options.bias ? kr.arena.alloc(channels * 4, `${name} bias`) : 0;
  const t = kr.arena.f32(offset, taps * channels);
  for (let d = 0; d < channels; d++) {
    for (let k = 0; k < taps; k++) t[k * channels + d] = w[d * taps + k];
  }
  if (options.bias) kr.arena.f32(bias, channels).set(options.bias);
  return { offset, bias, channels, taps };
}

/** Frees packed conv weights. */
export function releaseCausalConv1dWeights(kr: Kernels, w: CausalConv1dWeights): void {
  if (w.channels === 0) return;
  kr.arena.free(w.offset);
  if (w.bias) kr.arena.free(w.bias);
}

/** Arguments of `causalConv1d` (byte offsets into the arena). */
export interface CausalConv1dArgs {
  /** Tokens L (1 for a decode step). */
  tokens: number;
  /** Input rows. */
  x: number;
  /** Row stride of x in floats (default D). */
  ldx?: number;
  /** State [K-1][D], read and replaced by the last K-1 inputs. */
  state: number;
  /** Output rows; must not overlap x or the state. */
  y: number;
  /** Row stride of y in floats (default D). */
  ldy?: number;
  /** Fused activation (default "none"; Mamba uses "silu"). */
  activation?: Activation;
}

/**
 * y[t] = act(bias + Σ_k w[k] ⊙ s[t + k]) over the state rows followed by x, then the state
 * keeps the last K-1 inputs.
 */
export function causalConv1d(kr: Kernels, w: CausalConv1dWeights, args: CausalConv1dArgs): void {
  const D = w.channels;
  if (args.tokens === 0 || D === 0) return;
  kr.fn.f32_dwconv1d_causal_x4(
    args.tokens,
    D,
    w.taps,
    args.x,
    args.ldx ?? D,
    w.offset,
    w.bias,
    args.state,
    args.y,
    args.ldy ?? D,
    activationCode(args.activation ?? "none"),
  );
}

interface ConvState {
  packed?: CausalConv1dWeights;
}

function convShapes(
  node: Node,
  inputs: (InputInfo | { type: string; dims: number[] } | undefined)[],
) {
  const [x, w, b, s] = inputs;
  if (!x || !w) throw new ShapeError(`${nodeLabel(node)}: inputs x and w are required`);
  for (const [t, name] of [[x, "x"], [w, "w"], [b, "bias"], [s, "state"]] as const) {
    if (t && t.type !== "float32") {
      throw new DTypeError(
        `${nodeLabel(node)}: ${name} is "${t.type}", only "float32" is supported`,
      );
    }
  }
  if (x.dims.length !== 2 && x.dims.length !== 3) {
    throw new ShapeError(
      `${nodeLabel(node)}: x must be [L, D] or [batch, L, D], got ${formatDims(x.dims)}`,
    );
  }
  const D = x.dims[x.dims.length - 1];
  const batch = x.dims.length === 3 ? x.dims[0] : 1;
  const ok = (w.dims.length === 2 || (w.dims.length === 3 && w.dims[1] === 1)) && w.dims[0] === D;
  const K = w.dims[w.dims.length - 1];
  if (!ok || K < 1 || K > MAX_TAPS) {
    throw new ShapeError(
      `${nodeLabel(node)}: w must be [${D}, K] or [${D}, 1, K] with 1 <= K <= ${MAX_TAPS}, got ` +
        formatDims(w.dims),
    );
  }
  if (b && (b.dims.length !== 1 || b.dims[0] !== D)) {
    throw new ShapeError(`${nodeLabel(node)}: bias must be [${D}], got ${formatDims(b.dims)}`);
  }
  const stateDims = x.dims.length === 3 ? [batch, K - 1, D] : [K - 1, D];
  if (s && formatDims(s.dims) !== formatDims(stateDims)) {
    throw new ShapeError(
      `${nodeLabel(node)}: state must be ${formatDims(stateDims)}, got ${formatDims(s.dims)}`,
    );
  }
  return { D, K, batch, L: x.dims[x.dims.length - 2], stateDims };
}

const PARAMETERLESS = new Set([
  "none",
  "silu",
  "sigmoid",
  "tanh",
  "gelu_erf",
  "gelu_tanh",
  "hardswish",
  "softplus",
]);

const causalConv1dOp: Op<ConvState> = {
  type: "CausalConv1d",
  check(node) {
    const act = node.attributes.activation ?? "none";
    if (
      typeof act !== "string" || !(ACTIVATIONS as readonly string[]).includes(act) ||
      !PARAMETERLESS.has(act)
    ) {
      return [`activation "${act}" is not a parameterless kernel activation (e.g. "none", "silu")`];
    }
    return [];
  },
  inferShapes(node, inputs): OutputInfo[] {
    const { stateDims } = convShapes(node, inputs);
    const all = [[...inputs[0]!.dims], stateDims];
    return node.outputs.map((_, i) => ({ type: "float32" as const, dims: all[i] }));
  },
  prepare(ctx, node, inputs) {
    const [, w, b] = inputs;
    if (!w?.value || (b && !b.value)) return {};
    const { D } = convShapes(node, inputs);
    return {
      packed: packCausalConv1dWeights(ctx.kernels, w.value.data as Float32Array, D, {
        bias: b?.value?.data as Float32Array | undefined,
        name: `${node.name} w`,
      }),
    };
  },
  run(ctx, node, inputs, outputs, state) {
    const kr = ctx.kernels;
    const { D, K, batch, L } = convShapes(node, inputs);
    if (D === 0 || batch === 0) return;
    const [x, w, b, s0] = inputs;
    const packed = state.packed ?? packCausalConv1dWeights(
      kr,
      kr.arena.f32(w!.offset, D * K).slice(),
      D,
      { bias: b ? kr.arena.f32(b.offset, D).slice() : undefined, name: `${node.name} w` },
    );
    const hist = (K - 1) * D;
    // The kernel updates the state in place: work in state_out when asked for, else scratch.
    const sOut = node.outputs[1] ? outputs[1] : undefined;
    const scratch = sOut ? 0 : kr.arena.alloc(Math.max(hist, 1) * 4, `${node.name} state`);
    try {
      const act = (node.attributes.activation as Activation | undefined) ?? "none";
      for (let bi = 0; bi < batch; bi++) {
        const st = sOut ? sOut.offset + bi * hist * 4 : scratch;
        const sv = kr.arena.f32(st, hist);
        if (s0) sv.set(kr.arena.f32(s0.offset + bi * hist * 4, hist));
        else sv.fill(0);
        causalConv1d(kr, packed, {
          tokens: L,
          x: x!.offset + bi * L * D * 4,
          state: st,
          y: outputs[0].offset + bi * L * D * 4,
          activation: act,
        });
      }
    } finally {
      if (scratch) kr.arena.free(scratch);
      if (!state.packed) releaseCausalConv1dWeights(kr, packed);
    }
  },
  release(ctx, state) {
    if (state.packed) releaseCausalConv1dWeights(ctx.kernels, state.packed);
  },
};

/** The internal op CausalConv1d. */
export const ops: Op[] = [causalConv1dOp as Op];
