/**
 * The one bench harness: warm-up, many timed runs, medians; a Markdown table with peers side
 * by side and ratios in the last columns; the same as SVG and JSON under bench/results/.
 */
import { escapeXml } from "../engine/escape_xml.ts";

/** One measured row; the JSON every bench writes is a list of these. */
export interface BenchRow {
  /** What was measured, e.g. "MatMul 512x512x512". */
  case: string;
  /** "quartet", "onnxruntime-web", "tfjs-wasm", … */
  engine: string;
  /** Kernel build or backend flavour ("relaxed", "simd", "wasm"…). */
  variant: string;
  /** Threads used. */
  threads: number;
  /** Median time of one run, ms. */
  median_ms: number;
  /** Fastest run, ms. */
  min_ms: number;
  /** Timed runs. */
  runs: number;
}

/** What one candidate's timing gives: median and fastest time per call (ms), calls timed. */
export type Timing = Pick<BenchRow, "median_ms" | "min_ms" | "runs">;

/** Options of `measure`. */
export interface MeasureOptions {
  /** Warm-up time before timing, ms (default 500). */
  warmupMs?: number;
  /** Time budget for the timed runs, ms (default 2000). */
  budgetMs?: number;
  /** At least this many timed runs (default 15). */
  minRuns?: number;
  /** At most this many timed runs (default 1000). */
  maxRuns?: number;
}

/** Times `fn` after warm-up; returns median, min and run count. */
export async function measure(
  fn: () => unknown,
  options: MeasureOptions = {},
): Promise<Timing> {
  const warmup = options.warmupMs ?? 500;
  const budget = options.budgetMs ?? 2000;
  const minRuns = options.minRuns ?? 15;
  const maxRuns = options.maxRuns ?? 1000;
  const t0 = performance.now();
  do await fn(); while (performance.now() - t0 < warmup);
  const times: number[] = [];
  const t1 = performance.now();
  while (times.length < maxRuns && (times.length < minRuns || performance.now() - t1 < budget)) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return { median_ms: times[Math.floor(times.length / 2)], min_ms: times[0], runs: times.length };
}

/** How a column turns a median time into a figure ("GFLOP/s", "GB/s", "ms"). */
export interface Metric {
  /** Column unit. */
  unit: string;
  /** Work per case (FLOPs or bytes); the figure is work / time. Absent: time in ms. */
  work?: (caseName: string) => number;
}

function figure(row: BenchRow, metric: Metric): number {
  if (!metric.work) return row.median_ms;
  return metric.work(row.case) / (row.median_ms * 1e6);
}

function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A column per engine/variant: its label. */
function label(r: BenchRow): string {
  return `${r.engine} ${r.variant} ${r.threads}T`;
}

/**
 * Builds the Markdown table: one row per case, one column per engine; then the ratio of our
 * best to each peer (time ratio: > 1 means Quartet is faster).
 */
export function markdownTable(title: string, rows: BenchRow[], metric: Metric): string {
  const cases = [...new Set(rows.map((r) => r.case))];
  const cols = [...new Set(rows.map(label))];
  const peers = [...new Set(rows.filter((r) => r.engine !== "quartet").map(label))];
  const head = ["case", ...cols.map((c) => `${c} (${metric.unit})`), ...peers.map((p) => `× ${p}`)];
  const lines = [
    `### ${title}`,
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
  ];
  for (const c of cases) {
    const inCase = rows.filter((r) => r.case === c);
    const ours = inCase.filter((r) => r.engine === "quartet");
    const best = ours.length ? Math.min(...ours.map((r) => r.median_ms)) : NaN;
    const cells = cols.map((col) => {
      const r = inCase.find((x) => label(x) === col);
      return r ? fmt(figure(r, metric)) : "—";
    });
    const ratios = peers.map((p) => {
      const r = inCase.find((x) => label(x) === p);
      return r && Number.isFinite(best) ? `${(r.median_ms / best).toFixed(2)}×` : "—";
    });
    lines.push(`| ${[c, ...cells, ...ratios].join(" | ")} |`);
  }
  lines.push(
    "",
    `Ratios: peer median time / Quartet's best median time in the same run (> 1: Quartet faster).`,
  );
  return lines.join("\n");
}

/** A grouped horizontal bar chart (one group per case, one bar per engine) as SVG. */
export function svgChart(title: string, rows: BenchRow[], metric: Metric): string {
  const cases = [...new Set(rows.map((r) => r.case))];
  const cols = [...new Set(rows.map(label))];
  const palette = ["#1b9e77", "#66a61e", "#7570b3", "#d95f02", "#e7298a", "#e6ab02", "#a6761d"];
  const bar = 16;
  const gap = 14;
  const left = 260;
  const width = 900;
  const chartW = width - left - 90;
  const values = rows.map((r) => figure(r, metric));
  const max = Math.max(...values, 1e-9);
  let y = 50;
  const parts: string[] = [];
  for (const c of cases) {
    const inCase = rows.filter((r) => r.case === c);
    parts.push(
      `<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${escapeXml(c)}</text>`,
    );
    for (const r of inCase) {
      const v = figure(r, metric);
      const w = Math.max(1, (v / max) * chartW);
      const color = palette[cols.indexOf(label(r)) % palette.length];
      parts.push(
        `<text x="${left - 8}" y="${y + 12}" font-size="11" text-anchor="end">${
          escapeXml(label(r))
        }</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${color}"/>`,
        `<text x="${left + w + 6}" y="${y + 12}" font-size="11">${fmt(v)} ${metric.unit}</text>`,
      );
      y += bar + 4;
    }
    y += gap;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" ` +
    `font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="28" font-size="16" font-weight="bold">${escapeXml(title)}</text>` +
    `<text x="${width - 10}" y="28" font-size="11" text-anchor="end">${
      metric.work ? "higher is better" : "lower is better"
    }</text>${parts.join("")}</svg>\n`;
}

/** Prints the table and (unless `write` is false) writes bench/results/<name>.{md,svg,json}. */
export async function report(
  name: string,
  title: string,
  rows: BenchRow[],
  metric: Metric,
  notes: string[] = [],
  { write = true }: { write?: boolean } = {},
): Promise<void> {
  const md = [markdownTable(title, rows, metric), ...notes.map((n) => `\n${n}`)].join("\n") + "\n";
  console.log("\n" + md);
  if (!write) return;
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(new URL(`${name}.md`, dir), md);
  await Deno.writeTextFile(new URL(`${name}.svg`, dir), svgChart(title, rows, metric));
  await Deno.writeTextFile(new URL(`${name}.json`, dir), JSON.stringify(rows, null, 2) + "\n");
}

/** Options of `interleaved`. */
export interface InterleavedOptions {
  /** Rounds; each times every candidate `batches` times. */
  rounds: number;
  /** Warm-up per candidate, which also sizes its batches (default 300 ms). */
  warmupMs?: number;
  /** Target length of one timed batch (default 1 ms). */
  batchMs?: number;
  /** Batches per candidate per round (default 5). */
  batches?: number;
}

/**
 * Median and fastest time per call (ms) of each candidate, timed in interleaved rounds, so a
 * noisy spell of the machine hits every candidate alike.
 */
export function interleaved(
  fns: (() => void)[],
  { rounds, warmupMs = 300, batchMs = 1, batches = 5 }: InterleavedOptions,
): Timing[] {
  const reps = fns.map((fn) => {
    const t0 = performance.now();
    let n = 0;
    do {
      fn();
      n++;
    } while (performance.now() - t0 < warmupMs);
    return Math.max(1, Math.round((n * batchMs) / warmupMs));
  });
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      for (let b = 0; b < batches; b++) {
        const t0 = performance.now();
        for (let n = 0; n < reps[i]; n++) fn();
        samples[i].push((performance.now() - t0) / reps[i]);
      }
    });
  }
  return summarize(samples);
}

/**
 * `interleaved` for candidates that return promises (a peer's async `run`), awaited in turn.
 * The event loop turns after each candidate's batches, as it does between an app's
 * inferences, so background work (auto threads moving a model to an unshared arena) can
 * finish.
 */
export async function interleavedAsync(
  fns: (() => unknown)[],
  { rounds, warmupMs = 300, batchMs = 1, batches = 5 }: InterleavedOptions,
): Promise<Timing[]> {
  const reps: number[] = [];
  for (const fn of fns) {
    const t0 = performance.now();
    let n = 0;
    do {
      await fn();
      n++;
    } while (performance.now() - t0 < warmupMs);
    reps.push(Math.max(1, Math.round((n * batchMs) / warmupMs)));
  }
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fns.length; i++) {
      for (let b = 0; b < batches; b++) {
        const t0 = performance.now();
        for (let n = 0; n < reps[i]; n++) await fns[i]();
        samples[i].push((performance.now() - t0) / reps[i]);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return summarize(samples);
}

function summarize(samples: number[][]): Timing[] {
  return samples.map(timingStats);
}

/** Median, fastest and count of a list of times per call (ms). */
export function timingStats(times: readonly number[]): Timing {
  const t = [...times].sort((a, b) => a - b);
  return { median_ms: t[Math.floor(t.length / 2)], min_ms: t[0], runs: t.length };
}

/**
 * One timing from instances of the same computation in different memory (the same weights
 * copied twice, in mirrored order: A B B A), so that where memory lands does not favour one
 * side: here the same weights ran slower in memory allocated earlier (3–10 % for a GEMV's
 * copies in one arena, up to 20 % for Mamba models in separate arenas). The mean of the
 * instances' medians, the least minimum, every run.
 */
export function instancesTiming(timings: readonly Timing[]): Timing {
  return {
    median_ms: timings.reduce((a, t) => a + t.median_ms, 0) / timings.length,
    min_ms: Math.min(...timings.map((t) => t.min_ms)),
    runs: timings.reduce((a, t) => a + t.runs, 0),
  };
}

/** How far apart the instances' medians were: largest / smallest − 1. */
export function instancesSpread(timings: readonly Timing[]): number {
  const medians = timings.map((t) => t.median_ms);
  return Math.max(...medians) / Math.min(...medians) - 1;
}
