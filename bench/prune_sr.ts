/**
 * Pruned ESRGAN-slim x2 against dense: how far does each pruning scheme move the upscaled
 * image, and is it faster? The TF.js layers model is imported to the IR (`loadTfjsLayers`)
 * and pruned in memory (`pruneModel`) with C4,1, C4,2 and C4,3 on every conv, pattern sparsity
 * on the 3x3 convs (4 of 9 taps, and 30 % of the kernels removed; pattern:0 keeps every
 * kernel), and pattern on the 3x3 convs followed by C4,2 on the 1x1 and 5x5 convs; all with
 * activation-aware masks and the least-squares refit, plus C4,2 by magnitude alone as a
 * baseline. The first and the last conv stay dense (keepFirstLast).
 *
 * Images are generated, deterministic, at high resolution (HR) and reduced 2x by 2x2 averaging
 * to the model's input (LR): printed text, flat shapes with soft gradients, and fractal
 * noise textures, plus the repo's examples/images/demo.png. Calibration images come from
 * other seeds. Reported: PSNR (dB) of each model's output against dense's output, and of
 * each output and of a bicubic upscale against the HR original; median time per 128x128
 * input (interleaved rounds, one thread).
 *
 *   deno run -A bench/prune_sr.ts [--quick]
 */
import { type BenchRow, report, timingStats } from "./_harness.ts";
import { drawText, systemFonts } from "./_text_lines.ts";
import { loadTfjsLayers } from "../engine/formats/tfjs/layers.ts";
import type { Model as IrModel } from "../engine/ir/graph.ts";
import { loadModel, type Model } from "../engine/model.ts";
import { decodePng } from "../engine/models/sr/image.ts";
import { pruneModel } from "../engine/prune/prune.ts";
import {
  type LayerReport,
  meanPrunedSparsity,
  pruneReportMarkdown,
} from "../engine/prune/report.ts";
import { Tensor } from "../engine/tensor.ts";
import { Random } from "../tests/_random.ts";
import { realModel } from "../tests/_models.ts";

const quick = Deno.args.includes("--quick");

/** An RGB float image, 0–255, row-major interleaved [h][w][3]. */
interface Rgb {
  name: string;
  width: number;
  height: number;
  data: Float32Array;
}

/** Smooth random field in [0, 1): value noise, `octaves` octaves from cell size `cell`. */
function valueNoise(rng: Random, w: number, h: number, cell: number, octaves: number) {
  const out = new Float32Array(w * h);
  let amp = 1;
  let sum = 0;
  for (let o = 0; o < octaves; o++, cell /= 2, amp /= 2) {
    const cw = Math.ceil(w / cell) + 2;
    const lattice = Float32Array.from({ length: cw * (Math.ceil(h / cell) + 2) }, () => rng.next());
    const smooth = (t: number) => t * t * (3 - 2 * t);
    for (let y = 0; y < h; y++) {
      const gy = y / cell;
      const y0 = Math.floor(gy);
      const ty = smooth(gy - y0);
      for (let x = 0; x < w; x++) {
        const gx = x / cell;
        const x0 = Math.floor(gx);
        const tx = smooth(gx - x0);
        const at = (i: number, j: number) => lattice[(y0 + j) * cw + x0 + i];
        const top = at(0, 0) + (at(1, 0) - at(0, 0)) * tx;
        const bottom = at(0, 1) + (at(1, 1) - at(0, 1)) * tx;
        out[y * w + x] += amp * (top + (bottom - top) * ty);
      }
    }
    sum += amp;
  }
  return out.map((v) => v / sum);
}

/** Fractal noise in three channels: a texture with detail at every scale. */
function texture(seed: number, w: number, h: number): Rgb {
  const rng = new Random(seed);
  const ch = [0, 1, 2].map(() => valueNoise(rng, w, h, 48, 6));
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) {
      data[i * 3 + c] = 255 * Math.min(1, Math.max(0, 1.6 * ch[c][i] - 0.3));
    }
  }
  return { name: `texture ${seed}`, width: w, height: h, data };
}

/** Anti-aliased discs, boxes and stripes over a soft gradient. */
function shapes(seed: number, w: number, h: number): Rgb {
  const rng = new Random(seed);
  const colour = () => [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
  const [c0, c1] = [colour(), colour()];
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x + y) / (w + h);
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = c0[c] + (c1[c] - c0[c]) * t;
    }
  }
  for (let s = 0; s < 14; s++) {
    const kind = rng.int(0, 2);
    const [cx, cy] = [rng.uniform(0, w), rng.uniform(0, h)];
    const r = rng.uniform(6, Math.min(w, h) / 3);
    const angle = rng.uniform(0, Math.PI);
    const col = colour();
    const inside = (x: number, y: number) => {
      const [dx, dy] = [x - cx, y - cy];
      if (kind === 0) return dx * dx + dy * dy < r * r;
      const u = dx * Math.cos(angle) + dy * Math.sin(angle);
      const v = -dx * Math.sin(angle) + dy * Math.cos(angle);
      return kind === 1 ? Math.abs(u) < r && Math.abs(v) < r / 2 : Math.abs(u % 12) < 3;
    };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let cover = 0;
        for (let sy = 0; sy < 4; sy++) {
          for (let sx = 0; sx < 4; sx++) {
            cover += inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4) ? 1 : 0;
          }
        }
        if (kind === 2 && (x - cx) ** 2 + (y - cy) ** 2 > r * r) cover = 0;
        for (let c = 0; c < 3; c++) {
          const i = (y * w + x) * 3 + c;
          data[i] += (col[c] - data[i]) * (cover / 16);
        }
      }
    }
  }
  return { name: `shapes ${seed}`, width: w, height: h, data };
}

/** Lines of printed text in several fonts and sizes, dark on a light tint. */
async function text(seed: number, w: number, h: number): Promise<Rgb> {
  const fonts = await systemFonts();
  const rng = new Random(seed);
  const words = "Quartet runs pruned networks fast at the edge with WebAssembly SIMD 0123456789"
    .split(" ");
  const ink = new Float32Array(w * h);
  let y = 2;
  while (y < h - 8) {
    const font = fonts[rng.int(0, fonts.length - 1)];
    const px = rng.uniform(10, 22);
    const line = Array.from({ length: 8 }, () => words[rng.int(0, words.length - 1)]).join(" ");
    const cov = drawText(font, line, {
      px,
      width: w,
      height: h,
      x0: rng.uniform(0, 6),
      baseline: y + px * 0.8,
    });
    for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, ink[i] + cov[i]);
    y += px * 1.25;
  }
  const paper = [rng.uniform(200, 255), rng.uniform(200, 255), rng.uniform(200, 255)];
  const dark = [rng.uniform(0, 80), rng.uniform(0, 80), rng.uniform(0, 80)];
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) data[i * 3 + c] = paper[c] + (dark[c] - paper[c]) * ink[i];
  }
  return { name: `text ${seed}`, width: w, height: h, data };
}

/** The repo's demo image (RGB). */
async function demo(): Promise<Rgb> {
  const img = decodePng(
    await Deno.readFile(new URL("../examples/images/demo.png", import.meta.url)),
  );
  const data = new Float32Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) {
    for (let c = 0; c < 3; c++) {
      data[i * 3 + c] = img.data[i * img.channels + (img.channels < 3 ? 0 : c)];
    }
  }
  return { name: "demo.png", width: img.width, height: img.height, data };
}

/** 2x reduction by 2x2 averaging. */
function halve(img: Rgb): Rgb {
  const [w, h] = [img.width >> 1, img.height >> 1];
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (dy: number, dx: number) =>
          img.data[((2 * y + dy) * img.width + 2 * x + dx) * 3 + c];
        data[(y * w + x) * 3 + c] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
      }
    }
  }
  return { ...img, width: w, height: h, data };
}

/** 2x bicubic upscale (Keys, a = −0.5, pixel centres aligned, edges clamped). */
function bicubic2x(img: Rgb): Float32Array {
  const [w, h] = [img.width, img.height];
  const k = (t: number) => {
    const a = -0.5;
    t = Math.abs(t);
    return t <= 1
      ? (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
      : t < 2
      ? a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
      : 0;
  };
  const out = new Float32Array(4 * w * h * 3);
  for (let y = 0; y < 2 * h; y++) {
    const sy = (y + 0.5) / 2 - 0.5;
    const y0 = Math.floor(sy);
    for (let x = 0; x < 2 * w; x++) {
      const sx = (x + 0.5) / 2 - 0.5;
      const x0 = Math.floor(sx);
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = -1; j <= 2; j++) {
          const yy = Math.min(h - 1, Math.max(0, y0 + j));
          for (let i = -1; i <= 2; i++) {
            const xx = Math.min(w - 1, Math.max(0, x0 + i));
            s += k(sy - (y0 + j)) * k(sx - (x0 + i)) * img.data[(yy * w + xx) * 3 + c];
          }
        }
        out[(y * 2 * w + x) * 3 + c] = s;
      }
    }
  }
  return out;
}

/** PSNR (dB, peak 255) of a against b, both clamped to 0–255 as an image would be. */
function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  const clamp = (v: number) => Math.min(255, Math.max(0, v));
  for (let i = 0; i < a.length; i++) se += (clamp(a[i]) - clamp(b[i])) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(se / a.length, 1e-12));
}

const input = (img: Rgb) => ({
  LR: new Tensor("float32", img.data, [1, img.height, img.width, 3]),
});

// ---- images ----
const [HW, HH] = quick ? [128, 96] : [192, 128];
const hr = [
  await text(11, HW, HH),
  shapes(12, HW, HH),
  texture(13, HW, HH),
  ...(quick ? [] : [await text(14, HW, HH), shapes(15, HW, HH), texture(16, HW, HH)]),
  await demo(),
];
const lr = hr.map(halve);
const calib = [
  await text(21, 128, 128),
  shapes(22, 128, 128),
  texture(23, 128, 128),
  shapes(24, 128, 128),
]
  .slice(0, quick ? 3 : 4).map(halve).map(input);

// ---- pruning ----
const dense = await loadTfjsLayers(await realModel("@upscalerjs/esrgan-slim", "x2"));
interface Variant {
  label: string;
  model: IrModel;
  layers?: LayerReport[];
  seconds?: number;
}
const variants: Variant[] = [{ label: "dense", model: dense }];
const prune = async (
  label: string,
  steps: { scheme: string; layers?: string; calibrated?: boolean }[],
) => {
  const t0 = performance.now();
  let model = dense;
  const layers: LayerReport[] = [];
  for (const s of steps) {
    const r = await pruneModel(model, {
      scheme: s.scheme,
      layers: s.layers,
      calibration: s.calibrated === false ? undefined : calib,
    });
    model = r.model;
    // A later step reports the layers an earlier one pruned as "not selected": keep the first.
    for (const l of r.layers) {
      const i = layers.findIndex((x) => x.node === l.node);
      if (i < 0) layers.push(l);
      else if (l.scheme) layers[i] = l;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.error(`  pruned ${label} in ${seconds.toFixed(1)} s`);
  variants.push({ label, model, layers, seconds });
};
await prune("c4n:1 refit", [{ scheme: "c4n:1" }]);
await prune("c4n:2 refit", [{ scheme: "c4n:2" }]);
await prune("c4n:2 magnitude", [{ scheme: "c4n:2", calibrated: false }]);
if (!quick) await prune("c4n:3 refit", [{ scheme: "c4n:3" }]);
await prune("pattern refit", [{ scheme: "pattern" }]);
await prune("pattern:0 refit", [{ scheme: "pattern:0" }]);
await prune("pattern + c4n:2 refit", [
  { scheme: "pattern" },
  { scheme: "c4n:2", layers: "^(LFF_\\d+|GFF_1|UPN1)$" },
]);

// ---- quality ----
const models: Model[] = [];
for (const v of variants) models.push(await loadModel(v.model));
const outputs = models.map((m) =>
  lr.map((img) => Object.values(m.runSync(input(img)))[0].data as Float32Array)
);
const bicubic = lr.map(bicubic2x);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// ---- speed: a 128x128 input, interleaved rounds, round 0 warms up ----
const speedInput = input(halve(texture(31, 256, 256)));
const rounds = quick ? 3 : 7;
const times: number[][] = models.map(() => []);
for (let r = 0; r < rounds + 1; r++) {
  models.forEach((m, i) => {
    for (let k = 0; k < 2; k++) {
      const t0 = performance.now();
      m.runSync(speedInput);
      if (r > 0) times[i].push(performance.now() - t0);
    }
  });
}

const rows: (BenchRow & Record<string, unknown>)[] = [];
const table = [
  `| model | sparsity of pruned layers | PSNR vs dense, mean (min) | PSNR vs HR original, mean | prune time |`,
  "|---|---|---|---|---|",
];
const vsHr = (out: Float32Array[]) => mean(out.map((o, i) => psnr(o, hr[i].data)));
variants.forEach((v, i) => {
  const sparsity = meanPrunedSparsity(v.layers);
  const vsDense = outputs[i].map((o, k) => psnr(o, outputs[0][k]));
  rows.push({
    case: "ESRGAN-slim x2, 128x128 → 256x256 (ms)",
    engine: "quartet",
    variant: v.label,
    threads: 1,
    ...timingStats(times[i]),
    psnr_vs_dense_db: i === 0 ? null : mean(vsDense),
    psnr_vs_hr_db: vsHr(outputs[i]),
    sparsity,
  });
  table.push(
    `| ${v.label} | ${(100 * sparsity).toFixed(1)} % | ${
      i === 0 ? "—" : `${mean(vsDense).toFixed(1)} dB (${Math.min(...vsDense).toFixed(1)})`
    } | ${vsHr(outputs[i]).toFixed(2)} dB | ${
      v.seconds === undefined ? "—" : `${v.seconds.toFixed(1)} s`
    } |`,
  );
});
const bicubicVsDense = bicubic.map((b, k) => psnr(b, outputs[0][k]));
table.push(
  `| bicubic (no network) | — | ${mean(bicubicVsDense).toFixed(1)} dB (${
    Math.min(...bicubicVsDense).toFixed(1)
  }) | ${vsHr(bicubic).toFixed(2)} dB | — |`,
);
const perImage = [
  `| image | ${variants.slice(1).map((v) => v.label).join(" | ")} | bicubic |`,
  `|---|${variants.slice(1).map(() => "---").join("|")}|---|`,
  ...lr.map((img, k) =>
    `| ${img.name} (${img.width}x${img.height}) | ${
      variants.slice(1).map((_, i) => `${psnr(outputs[i + 1][k], outputs[0][k]).toFixed(1)}`).join(
        " | ",
      )
    } | ${bicubicVsDense[k].toFixed(1)} |`
  ),
];
const dms = rows[0].median_ms;
const notes = [
  `Test images (HR ${HW}x${HH}, model input ${HW / 2}x${HH / 2}): ${
    hr.map((h) => h.name).join(", ")
  }; demo.png is used as its own HR (96x64 → 48x32). Calibration: ${calib.length} other generated 64x64 inputs. The images are synthetic (text, flat shapes, fractal noise): no photographs ship with the repo, so the figures show how far pruning moves the output on these contents, not the quality on photos. "PSNR vs dense" is the figure of merit for pruning (higher: closer to the dense model; bicubic's PSNR vs dense is the scale: a pruned model below it changes the image more than dropping the network would). "PSNR vs HR" compares with the original before the 2x reduction (ESRGAN was not trained on 2x2-average reductions, so bicubic may beat it there).`,
  table.join("\n"),
  "PSNR vs dense per image (dB):",
  perImage.join("\n"),
  rows.slice(1).map((r) => `${r.variant}: ${(dms / r.median_ms).toFixed(2)}× dense`).join("; ") +
  ".",
  ...models.slice(1).map((m, i) => {
    const c = m.summary().kernelChoices.filter((k) => k.format !== "dense");
    return `${variants[i + 1].label}: ${c.length} weight(s) on sparse kernels${
      c.length ? ` (${c.map((k) => `${k.name.split("/")[0]}: ${k.format}`).join(", ")})` : ""
    }.`;
  }),
  "pattern + c4n:2 refit prunes in two passes (pattern on the 3x3 convs, then C4,2 on LFF_1, LFF_2, GFF_1 and UPN1): the second pass refits towards the pattern-pruned model's outputs, not the dense model's, as the pruner takes one scheme per call.",
  ...variants.slice(1).filter((v) => v.layers?.some((l) => l.errorRefit !== undefined)).map((v) =>
    `Per-layer errors, ${v.label} (‖Δy‖ / ‖y‖ of each layer's output on the calibration inputs; "magnitude" = masks only, before the refit):\n\n${
      pruneReportMarkdown(v.layers!)
    }`
  ),
];
for (const m of models) m.dispose();
await report(
  "prune_sr",
  "ESRGAN-slim x2 pruned vs dense, one thread (median ms per 128x128 input)",
  rows,
  { unit: "ms" },
  notes,
);
