import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { ModelFormatError } from "../../engine/errors.ts";
import type { ConvShape } from "../../engine/ops/conv.ts";
import { windowAxis } from "../../engine/ops/conv.ts";
import {
  packPatternConv,
  PATTERN_CONV_COST,
  releasePatternConv,
  runPatternConv,
} from "../../engine/ops/conv_pattern.ts";
import {
  detectPattern3x3,
  packPattern3x3,
  patternStrips,
  patternTapOffsets,
  unpackPattern3x3,
  validatePattern3x3,
} from "../../engine/weights/pattern3x3.ts";
import type { Kernels } from "../../engine/wasm/kernels.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS, withKernels } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference } from "../reference/activations.ts";
import { convReference } from "../reference/conv.ts";
import { patternWeights } from "../reference/sparse.ts";

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  s: 1 | 2;
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  /** Chance a kernel is removed. */
  removed: number;
  relu?: boolean;
  residual?: boolean;
}

// Awkward on purpose: one channel, primes, widths around the 8-column tile and heights around
// the 4-row tile, a layer with every kernel pruned, both strides, odd pads.
const CASES: Case[] = [
  { n: 1, c: 1, h: 1, w: 1, m: 1, s: 1, pads: [1, 1, 1, 1], removed: 0 },
  { n: 1, c: 3, h: 7, w: 5, m: 2, s: 1, pads: [1, 1, 1, 1], removed: 0.3 },
  { n: 2, c: 5, h: 11, w: 13, m: 7, s: 2, pads: [1, 1, 1, 1], removed: 0.3, relu: true },
  { n: 1, c: 4, h: 6, w: 6, m: 3, s: 2, pads: [0, 0, 1, 1], removed: 0.2 },
  { n: 1, c: 8, h: 9, w: 17, m: 5, s: 1, pads: [0, 0, 0, 0], removed: 0.5, residual: true },
  { n: 1, c: 6, h: 4, w: 33, m: 4, s: 2, pads: [1, 1, 0, 0], removed: 0.3, residual: true },
  { n: 1, c: 16, h: 23, w: 37, m: 11, s: 1, pads: [1, 1, 1, 1], removed: 0.3, relu: true },
  { n: 1, c: 4, h: 5, w: 19, m: 3, s: 1, pads: [1, 1, 1, 1], removed: 1 },
  { n: 1, c: 32, h: 30, w: 50, m: 16, s: 1, pads: [1, 1, 1, 1], removed: 0.3 },
  { n: 1, c: 13, h: 31, w: 29, m: 9, s: 2, pads: [1, 1, 1, 1], removed: 0.7, residual: true },
  { n: 1, c: 2, h: 8, w: 8, m: 3, s: 1, pads: [1, 1, 1, 1], removed: 0 },
  { n: 1, c: 3, h: 3, w: 9, m: 2, s: 2, pads: [1, 1, 1, 1], removed: 0, relu: true },
  { n: 1, c: 7, h: 17, w: 16, m: 6, s: 2, pads: [0, 1, 1, 0], removed: 0.4 },
  { n: 1, c: 5, h: 12, w: 3, m: 4, s: 1, pads: [2, 2, 2, 2], removed: 0.1 },
];

function shapeOf(t: Case): ConvShape {
  const y = windowAxis(t.h, 3, t.s, 1, t.pads[0], t.pads[2], "NOTSET");
  const x = windowAxis(t.w, 3, t.s, 1, t.pads[1], t.pads[3], "NOTSET");
  return {
    n: t.n,
    c: t.c,
    m: t.m,
    group: 1,
    window: { y, x, rank: 2 },
    dims: [t.n, t.m, y.out, x.out],
  };
}

/**
 * m x c x 3 x 3 weights whose kernels take any 4-tap shape (with or without the centre), some
 * with fewer non-zeros.
 */
function anyShapeWeights(rng: Random, m: number, c: number, shapes: number[]): Float32Array {
  const w = new Float32Array(m * c * 9);
  for (let k = 0; k < m * c; k++) {
    const mask = shapes[k % shapes.length];
    for (let t = 0; t < 9; t++) if (mask & (1 << t)) w[9 * k + t] = rng.uniform(0.1, 1);
    // Every 5th kernel loses a tap: a shape from the library must cover it.
    if (k % 5 === 4) w[9 * k + [...Array(9).keys()].find((t) => mask & (1 << t))!] = 0;
  }
  return w;
}

/** Every 4-tap mask of the 3x3 window (126). */
const ALL_SHAPES = [...Array(512).keys()].filter((m) => {
  let bits = 0;
  for (let t = 0; t < 9; t++) bits += (m >> t) & 1;
  return bits === 4;
});

/** Runs the pattern path and the float64 reference on one case; asserts they agree. */
function check(kr: Kernels, t: Case, w: Float32Array, rng: Random, what: string): Float32Array {
  const bias = rng.floats(t.m);
  const x = rng.floats(t.n * t.c * t.h * t.w);
  const shape = shapeOf(t);
  const size = shape.dims.reduce((a, b) => a * b, 1);
  const residual = t.residual ? rng.floats(size) : undefined;
  // Forced sparse: the test is about the kernel, not the cost model.
  const p = packPatternConv(kr, w, bias, t.m, t.c, "w", t.s, 0)!;
  const px = upload(kr, x);
  const pr = residual ? upload(kr, residual) : 0;
  const py = kr.arena.alloc(size * 4);
  const epilogue = t.relu ? { activation: "clamp" as const, p0: 0, p1: 6 } : {};
  runPatternConv(kr, shape, px, p, py, pr, epilogue);
  const ref = convReference(x, [t.n, t.c, t.h, t.w], w, [t.m, t.c, 3, 3], bias, {
    strides: [t.s, t.s],
    pads: t.pads,
  });
  let want = ref.data;
  if (residual) want = want.map((v, i) => v + residual[i]);
  if (t.relu) want = want.map(activationReference("clamp", 0, 6));
  const got = download(kr, py, size);
  assertClose(got, want, tolerance(t.c * 9), `${what} ${JSON.stringify(t)}`);
  releasePatternConv(kr, p);
  for (const o of [px, pr, py]) if (o) kr.arena.free(o);
  return got;
}

for (const variant of VARIANTS) {
  Deno.test(`f32_conv3x3_pattern_4x8 equals the dense conv of the same weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    for (const t of CASES) check(kr, t, patternWeights(rng, t.m, t.c, 6, t.removed), rng, variant);
  });

  Deno.test(`every 4-tap shape runs right at both strides: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(77);
    for (const s of [1, 2] as const) {
      // 14 x 9 kernels: each of the 126 shapes once, in a library of 126 patterns.
      const t: Case = { n: 1, c: 9, h: 13, w: 21, m: 14, s, pads: [1, 1, 1, 1], removed: 0 };
      check(kr, t, anyShapeWeights(rng, t.m, t.c, ALL_SHAPES), rng, `${variant} all shapes`);
    }
  });
}

Deno.test("x32_pad_pattern cuts the strips the kernels read", async () => {
  const rng = new Random(3);
  for (const variant of VARIANTS) {
    const kr = await kernelsFor(variant);
    for (
      const [c, h, w, pt, pl, s] of [[2, 5, 7, 1, 1, 1], [3, 9, 30, 0, 2, 2], [1, 4, 17, 2, 0, 2]]
    ) {
      const oh = Math.floor((h + 2 * pt - 3) / s) + 1;
      const ow = Math.floor((w + 2 * pl - 3) / s) + 1;
      const g = patternStrips(oh, ow, s as 1 | 2);
      const x = rng.floats(c * h * w);
      const px = upload(kr, x);
      const lineWords = kr.fn.x32_pad_pattern_line_words(w, pl, s, g.strips);
      const out = kr.arena.alloc((c * g.planeWords + lineWords) * 4);
      kr.arena.f32(out, c * g.planeWords).fill(NaN);
      kr.fn.x32_pad_pattern(
        c,
        px,
        h,
        w,
        pt,
        pl,
        s,
        g.strips,
        g.rows,
        out,
        out + c * g.planeWords * 4,
      );
      const got = download(kr, out, c * g.planeWords);
      const want = new Float32Array(c * g.planeWords);
      for (let ci = 0; ci < c; ci++) {
        for (let j = 0; j < g.strips; j++) {
          for (let r = 0; r < g.rows; r++) {
            for (let k = 0; k < g.rowWords; k++) {
              const col = s === 1
                ? (k < 12 ? 8 * j + k : -99)
                : k < 12
                ? 16 * j + 2 * k
                : 16 * j + 2 * (k - 12) + 1;
              const [iy, ix] = [r - pt, col - pl];
              want[ci * g.planeWords + (j * g.rows + r) * g.rowWords + k] =
                iy >= 0 && iy < h && ix >= 0 && ix < w ? x[(ci * h + iy) * w + ix] : 0;
            }
          }
        }
      }
      deepStrictEqual(got, want, `${variant} ${[c, h, w, pt, pl, s]}`);
      kr.arena.free(px);
      kr.arena.free(out);
    }
  }
});

Deno.test("the pattern kernels give the same numbers on 1 and 3 threads", async () => {
  const rng = new Random(12);
  const w = patternWeights(rng, 24, 32, 8, 0.3);
  const x = rng.floats(32 * 73 * 62);
  for (const s of [1, 2] as const) {
    const t: Case = { n: 1, c: 32, h: 73, w: 62, m: 24, s, pads: [1, 1, 1, 1], removed: 0.3 };
    const shape = shapeOf(t);
    const size = shape.dims.reduce((a, b) => a * b, 1);
    const outs: Float32Array[] = [];
    for (const threads of [1, 3]) {
      await withKernels(threads, (kr, split) => {
        const p = packPatternConv(kr, w, undefined, t.m, t.c, "w", s, 0)!;
        const px = upload(kr, x);
        const py = kr.arena.alloc(size * 4);
        runPatternConv(kr, shape, px, p, py, 0, {});
        outs.push(download(kr, py, size));
        ok(threads === 1 || split(), `stride ${s} was not split on ${threads} threads`);
      });
    }
    deepStrictEqual(outs[1], outs[0], `stride ${s}`);
  }
});

Deno.test("pattern packing round-trips exactly and covers kernels with fewer taps", () => {
  const rng = new Random(5);
  for (const [m, c, removed] of [[1, 1, 0], [7, 5, 0.3], [16, 13, 0.9], [3, 4, 1]]) {
    const w = patternWeights(rng, m, c, 8, removed);
    const p = packPattern3x3(w, m, c);
    validatePattern3x3(p);
    const back = unpackPattern3x3(p);
    for (let i = 0; i < w.length; i++) {
      if (back[i] !== w[i]) throw new Error(`weight ${i}: ${back[i]} !== ${w[i]}`);
    }
    // Kernels sorted by pattern within each filter: one run per pattern at most.
    for (let o = 0; o < m; o++) {
      const ids = [];
      for (let r = p.filters[2 * o]; r < p.filters[2 * o + 2]; r++) ids.push(p.runs[2 * r]);
      if (new Set(ids).size !== ids.length) throw new Error(`filter ${o} repeats a pattern run`);
    }
  }
  const dense = new Float32Array(9).fill(1);
  if (detectPattern3x3(dense, 1, 1) !== null) throw new Error("a dense kernel was accepted");
  throws(() => packPattern3x3(dense, 1, 1), RangeError);
});

Deno.test("pattern tap offsets address the strips: rows down, even then odd columns", () => {
  // Taps (0,0), (0,1), (0,2), (1,0) and (2,2), (1,1) …: byte offsets in a strip row block.
  const patterns = Uint8Array.from([0, 1, 2, 3, 4, 5, 7, 8]);
  const row1 = 4 * patternStrips(4, 8, 1).rowWords;
  deepStrictEqual([...patternTapOffsets(patterns, 1)], [
    0,
    4,
    8,
    row1,
    row1 + 4,
    row1 + 8,
    2 * row1 + 4,
    2 * row1 + 8,
  ]);
  const row2 = 4 * patternStrips(4, 8, 2).rowWords;
  deepStrictEqual([...patternTapOffsets(patterns, 2)], [
    0,
    48,
    4,
    row2,
    row2 + 48,
    row2 + 4,
    2 * row2 + 48,
    2 * row2 + 4,
  ]);
});

Deno.test("pattern validation rejects out-of-range metadata", () => {
  const rng = new Random(9);
  const p = packPattern3x3(patternWeights(rng, 4, 6, 4, 0.2), 4, 6);
  const bad = (change: (q: typeof p) => void) => {
    const q = {
      ...p,
      patterns: p.patterns.slice(),
      filters: p.filters.slice(),
      runs: p.runs.slice(),
      kernels: p.kernels.slice(),
    };
    change(q);
    throws(() => validatePattern3x3(q), ModelFormatError);
  };
  bad((q) => (q.kernels[0] = 6)); // input channel out of range
  bad((q) => (q.kernels[5] = -1));
  bad((q) => (q.runs[0] = 99)); // unknown pattern
  bad((q) => (q.runs[0] = -1));
  bad((q) => (q.runs[1] += 1)); // counts disagree with the filter table
  bad((q) => (q.runs[1] = -1)); // negative run
  bad((q) => (q.patterns[1] = 9)); // tap outside the 3x3 window
  bad((q) => (q.patterns[1] = q.patterns[0])); // repeated tap
  bad((q) => (q.patterns = q.patterns.slice(0, 3))); // not 4 taps per pattern
  bad((q) => (q.filters = q.filters.slice(0, 4)));
  bad((q) => (q.filters[0] = 1)); // does not start at 0
  bad((q) => (q.kernels = q.kernels.slice(0, 5)));
  bad((q) => (q.runs = q.runs.slice(0, 2)));
});

Deno.test("the pattern cost model keeps layers dense when too many taps are kept", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(2);
  for (const [removed, stride] of [[0, 1], [0.5, 1], [0.3, 2], [0.6, 2], [0.9, 2]] as const) {
    const w = patternWeights(rng, 8, 8, 4, removed);
    // The kernel runs 4 taps per kept (not all-zero) kernel.
    let kept = 0;
    for (let k = 0; k < 64; k++) if (w.subarray(9 * k, 9 * k + 9).some((v) => v !== 0)) kept++;
    const taps = (4 * kept) / (9 * 64);
    const name = `w${removed}/${stride}`;
    const p = packPatternConv(kr, w, undefined, 8, 8, name, stride);
    const sparse = taps * PATTERN_CONV_COST[stride] < 1;
    if ((p !== null) !== sparse) throw new Error(`${name}: ${p !== null}`);
    const choice = kr.choices.find((c) => c.name === name);
    if ((choice?.format === "pattern3x3") !== sparse) throw new Error(JSON.stringify(choice));
    if (p) releasePatternConv(kr, p);
  }
});
