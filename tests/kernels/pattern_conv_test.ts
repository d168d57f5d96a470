import { throws } from "node:assert/strict";
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
  unpackPattern3x3,
  validatePattern3x3,
} from "../../engine/weights/pattern3x3.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
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
  s: number;
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  /** Chance a kernel is removed. */
  removed: number;
  relu?: boolean;
  residual?: boolean;
}

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

for (const variant of VARIANTS) {
  Deno.test(`f32_conv3x3_pattern_w16 equals the dense conv of the same weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    for (const t of CASES) {
      const w = patternWeights(rng, t.m, t.c, 6, t.removed);
      const bias = rng.floats(t.m);
      const x = rng.floats(t.n * t.c * t.h * t.w);
      const shape = shapeOf(t);
      const size = shape.dims.reduce((a, b) => a * b, 1);
      const residual = t.residual ? rng.floats(size) : undefined;
      // Forced sparse: the test is about the kernel, not the cost model.
      const p = packPatternConv(kr, w, bias, t.m, t.c, "w", t.s as 1 | 2, 0)!;
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
      assertClose(download(kr, py, size), want, tolerance(t.c * 9), JSON.stringify(t));
      releasePatternConv(kr, p);
      for (const o of [px, pr, py]) if (o) kr.arena.free(o);
    }
  });
}

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
  bad((q) => (q.runs[1] += 1)); // counts disagree with the filter table
  bad((q) => (q.patterns[1] = 9)); // tap outside the 3x3 window
  bad((q) => (q.patterns[1] = q.patterns[0])); // repeated tap
  bad((q) => (q.filters = q.filters.slice(0, 4)));
  bad((q) => (q.kernels = q.kernels.slice(0, 5)));
});

Deno.test("the pattern cost model keeps layers dense when too many taps are kept", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(2);
  for (const [removed, stride] of [[0, 1], [0.5, 1], [0.3, 2], [0.6, 2]] as const) {
    const w = patternWeights(rng, 8, 8, 4, removed);
    // The kernel runs 4 taps per kept (not all-zero) kernel.
    let kept = 0;
    for (let k = 0; k < 64; k++) if (w.subarray(9 * k, 9 * k + 9).some((v) => v !== 0)) kept++;
    const taps = (4 * kept) / (9 * 64);
    const p = packPatternConv(kr, w, undefined, 8, 8, `w${removed}/${stride}`, stride);
    const sparse = taps * PATTERN_CONV_COST[stride] < 1;
    if ((p !== null) !== sparse) {
      throw new Error(`removed ${removed} stride ${stride}: ${p !== null}`);
    }
    const choice = kr.choices.find((c) => c.name === `w${removed}/${stride}`);
    if ((choice?.format === "pattern3x3") !== sparse) throw new Error(JSON.stringify(choice));
    if (p) releasePatternConv(kr, p);
  }
});
