/**
 * The pattern-sparse path of Conv: 3x3 kernels with at most 4 non-zeros each (and whole
 * kernels removed) run `f32_conv3x3_pattern_4x8` over zero-padded input strips
 * (`x32_pad_pattern`) instead of im2col + GEMM. Chosen at load time from the weights
 * by a measured cost model.
 *
 * @module
 */
import { activationCode } from "../../kernels-as/activations.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { itemsFor, noScratch, runQueued, splitRange, threadsFor } from "../threads/split.ts";
import {
  detectPattern3x3,
  packPattern3x3,
  patternStrips,
  patternTapOffsets,
  validatePattern3x3,
} from "../weights/pattern3x3.ts";
import {
  PATTERN_CONV_NAME,
  PATTERN_TILE_ROWS,
} from "../../kernels-as/conv/f32_conv3x3_pattern.tmpl.ts";
import type { ConvShape } from "./conv.ts";
import { C4N_SPMM_COST, type Epilogue } from "./gemm.ts";
import { c4nSurvivors, detectC4n } from "../weights/c4n.ts";

/**
 * Measured time of the pattern kernel per kept tap relative to the im2col + GEMM convolution
 * per dense tap, by stride, on the relaxed build (the case of bench/sparse.ts, both paths
 * timed in turns on one thread, 30 % of kernels removed, 8 patterns). Stride 1: 1.7–1.9 at
 * 32–64 channels on 56x56, 2.3 at 128 on 28x28, 2.5 at 256 on 14x14. Stride 2: 2.1–2.4 at
 * 32–64 channels, 2.4–2.9 above (partial 4 x 8 tiles on small outputs, inputs past L1 with
 * many channels). A layer goes sparse when (kept taps / dense taps) × this < 1.
 */
export const PATTERN_CONV_COST: Readonly<Record<1 | 2, number>> = { 1: 2.3, 2: 2.7 };

/** Pattern-sparse weights in the arena. */
export interface PatternConvWeights {
  /** Output and input channels. */
  m: number;
  c: number;
  /** Kept kernels. */
  kept: number;
  /** The pattern library (4 tap positions each). */
  patterns: Uint8Array;
  /** Stride the kernel was packed for. */
  stride: 1 | 2;
  /** Arena offsets: filters, runs, kernels, tap byte offsets (4 per pattern), bias (or 0). */
  filters: number;
  runs: number;
  kernels: number;
  taps: number;
  bias: number;
}

/** Whether Conv attributes allow the pattern path: 2-D 3x3, group 1, dilation 1, stride 1 or 2. */
export function patternConvApplies(
  wDims: readonly number[],
  group: number,
  strides: readonly number[] | undefined,
  dilations: readonly number[] | undefined,
): boolean {
  const s = strides ?? [1, 1];
  return wDims.length === 4 && wDims[2] === 3 && wDims[3] === 3 && group === 1 &&
    (dilations ?? [1, 1]).every((d) => d === 1) && s.length === 2 && s[0] === s[1] &&
    (s[0] === 1 || s[0] === 2);
}

/**
 * Packs W (m x c x 3 x 3) pattern-sparse when it has the structure and the cost model
 * predicts a gain over both the dense and the C4n GEMM paths, and logs the choice in
 * `kr.choices`. Returns null (nothing logged) for the GEMM path. `cost` overrides the
 * measured cost factor (0 forces the pattern path, for tests and benchmarks).
 */
export function packPatternConv(
  kr: Kernels,
  w: Float32Array,
  bias: Float32Array | undefined,
  m: number,
  c: number,
  name: string,
  stride: 1 | 2,
  cost = PATTERN_CONV_COST[stride],
): PatternConvWeights | null {
  if (kr.sparse === "off" || m * c === 0) return null;
  const structure = detectPattern3x3(w, m, c);
  if (!structure) return null;
  const kept = structure.kept / (m * c);
  const predicted = (4 * structure.kept) / (9 * m * c) * cost;
  const what = `every 3x3 kernel has ≤ 4 non-zeros, ${(kept * 100).toFixed(0)} % of kernels kept`;
  // The GEMM path decides (and logs) when the pattern kernel would not win, or when the
  // same weights also have C4n structure that its cost model rates faster.
  if (predicted >= 1) return null;
  const n = detectC4n(w, m, 9 * c);
  if (n > 0 && (c4nSurvivors(9 * c, n) / (9 * c)) * C4N_SPMM_COST < predicted) return null;
  const p = packPattern3x3(w, m, c);
  validatePattern3x3(p, `pattern weights "${name}"`);
  const up = (words: Int32Array | Float32Array, part: string) => {
    const off = kr.arena.alloc(Math.max(words.byteLength, 4), `${name} ${part}`);
    new Int32Array(kr.arena.memory.buffer, off, words.length).set(
      new Int32Array(words.buffer, words.byteOffset, words.length),
    );
    return off;
  };
  const weights: PatternConvWeights = {
    m,
    c,
    kept: structure.kept,
    patterns: p.patterns,
    stride,
    filters: up(p.filters, "filters"),
    runs: up(p.runs, "runs"),
    kernels: up(p.kernels, "kernels"),
    taps: up(patternTapOffsets(p.patterns, stride), "taps"),
    bias: bias ? up(bias, "bias") : 0,
  };
  kr.choices.push({
    name,
    format: "pattern3x3",
    reason: `${what}, ${p.patterns.length / 4} patterns; predicted ` +
      `${(predicted * 100).toFixed(0)} % of dense time`,
  });
  return weights;
}

/** Frees pattern weights. */
export function releasePatternConv(kr: Kernels, p: PatternConvWeights): void {
  for (const off of [p.filters, p.runs, p.kernels, p.taps, p.bias]) if (off) kr.arena.free(off);
}

/**
 * Runs a resolved 3x3 Conv (see `patternConvApplies`) on arena offsets: x (n x c x h x w),
 * y, residual (like y, or 0), with the fused activation. Threads split the output rows.
 */
export function runPatternConv(
  kr: Kernels,
  shape: ConvShape,
  x: number,
  p: PatternConvWeights,
  y: number,
  residual: number,
  epilogue: Epilogue,
): void {
  const { n, c, m, window } = shape;
  const { y: ay, x: ax } = window;
  const s = ax.s as 1 | 2;
  if (s !== p.stride || ay.s !== s) {
    throw new RangeError(`Pattern conv weights were packed for stride ${p.stride}, not ${s}`);
  }
  const ohw = ay.out * ax.out;
  if (n * m * ohw === 0) return;
  const strips = patternStrips(ay.out, ax.out, s);
  const act = activationCode(epilogue.activation ?? "none");
  const p0 = epilogue.p0 ?? 0;
  const p1 = epilogue.p1 ?? 0;
  const lineWords = kr.fn.x32_pad_pattern_line_words(ax.input, ax.begin, s, strips.strips);
  const padded = kr.arena.alloc(c * strips.planeWords * 4 + lineWords * 4, "pattern strips");
  const line = padded + c * strips.planeWords * 4;
  try {
    const flops = 8 * p.kept * ohw * n;
    const threads = threadsFor(kr, flops);
    for (let i = 0; i < n; i++) {
      const xi = x + i * c * ay.input * ax.input * 4;
      const yi = y + i * m * ohw * 4;
      const ri = residual ? residual + i * m * ohw * 4 : 0;
      kr.fn.x32_pad_pattern(
        c,
        xi,
        ay.input,
        ax.input,
        ay.begin,
        ax.begin,
        s,
        strips.strips,
        strips.rows,
        padded,
        line,
      );
      runQueued(
        kr,
        splitRange(ay.out, PATTERN_TILE_ROWS, itemsFor(threads, flops / n)).map(([oy, rows]) => [{
          fn: PATTERN_CONV_NAME,
          args: [
            0,
            m,
            oy,
            oy + rows,
            p.filters,
            p.runs,
            p.kernels,
            p.taps,
            padded,
            strips.planeWords * 4,
            strips.rows * strips.rowWords * 4,
            s * strips.rowWords * 4,
            ay.out,
            ax.out,
            p.bias,
            ri,
            yi,
            act,
            p0,
            p1,
          ],
        }]),
        noScratch(threads),
      );
    }
  } finally {
    kr.arena.free(padded);
  }
}
