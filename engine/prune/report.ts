/**
 * What pruning did to each layer, and that report as Markdown and SVG. Kept apart from the pruner so
 * the public API can offer the report without loading the pruner.
 *
 * @module
 */
import { escapeXml } from "../escape_xml.ts";

/** What pruning did to one layer. */
export interface LayerReport {
  /** Node name. */
  node: string;
  /** Operator. */
  op: string;
  /** Weight constant name(s) (LSTM: "W + R"). */
  weight: string;
  /** C4n: zeros per group; 0 for the other schemes and when kept dense. */
  n: number;
  /** The scheme applied ("c4n:2", "pattern:0.3", "block:0.25"), absent when kept dense. */
  scheme?: string;
  /** Why a layer was skipped. */
  skipped?: string;
  /** Anything else worth knowing (e.g. magnitude only: not on the calibration path). */
  note?: string;
  /** Fraction of zero weights after pruning. */
  sparsity: number;
  /** ‖y_pruned − y_dense‖ / ‖y_dense‖ on calibration data with the masks only (no refit). */
  errorMagnitude?: number;
  /** The same after the least-squares refit. */
  errorRefit?: number;
  /** Dense time / sparse time the kernels' cost models predict (1 thread; 1: runs dense). */
  predictedSpeedup?: number;
  /** The kernel that prediction is for, or why the layer would run dense. */
  kernel?: string;
}

/**
 * The mean share of zeros over the layers a pruner changed (0 when it changed none).
 *
 * @example
 * ```ts
 * import { meanPrunedSparsity } from "./report.ts";
 * console.log(meanPrunedSparsity([])); // 0
 * ```
 */
export function meanPrunedSparsity(layers: readonly LayerReport[] | undefined): number {
  const pruned = layers?.filter((l) => l.scheme) ?? [];
  return pruned.length ? pruned.reduce((s, l) => s + l.sparsity, 0) / pruned.length : 0;
}

/** The report as a Markdown table. */
export function pruneReportMarkdown(layers: readonly LayerReport[]): string {
  const pct = (x?: number) => (x === undefined ? "—" : `${(x * 100).toFixed(2)} %`);
  return [
    "| layer | op | scheme | sparsity | output error, magnitude | output error, refit | " +
    "predicted speedup | note |",
    "|---|---|---|---|---|---|---|---|",
    ...layers.map((l) =>
      `| ${l.node} | ${l.op} | ${l.n ? `C4,${l.n}` : l.scheme ?? "dense"} | ${
        (l.sparsity * 100).toFixed(1)
      } % | ${pct(l.errorMagnitude)} | ${pct(l.errorRefit)} | ${
        l.predictedSpeedup === undefined ? "—" : `${l.predictedSpeedup.toFixed(2)}× (${l.kernel})`
      } | ${[l.skipped, l.note].filter((x) => x).join("; ")} |`
    ),
  ].join("\n");
}

/**
 * The report as an SVG chart: per pruned layer, its output error with the masks alone and
 * after the refit (bars), and the predicted speedup.
 *
 * @example
 * ```ts
 * import { pruneReportSvg } from "./report.ts";
 * const svg = pruneReportSvg([
 *   { node: "conv1", op: "Conv", weight: "w1", n: 2, scheme: "c4n:2", sparsity: 0.5,
 *     errorMagnitude: 0.2, errorRefit: 0.04, predictedSpeedup: 1.18, kernel: "C4n SpMM" },
 * ], "model.onnx, c4n:2");
 * console.log(svg.startsWith("<svg"));
 * ```
 */
export function pruneReportSvg(layers: readonly LayerReport[], title: string): string {
  const rows = layers.filter((l) => l.scheme);
  const width = 900;
  const left = 300;
  const span = width - left - 190;
  const max = Math.max(1e-9, ...rows.flatMap((l) => [l.errorMagnitude ?? 0, l.errorRefit ?? 0]));
  const parts: string[] = [];
  let y = 60;
  for (const l of rows) {
    const label = `${l.node} (${l.op}, ${l.scheme})`;
    parts.push(
      `<text x="${left - 8}" y="${y + 14}" font-size="11" text-anchor="end">${
        escapeXml(label.length > 46 ? label.slice(0, 45) + "…" : label)
      }</text>`,
    );
    const bars: [number | undefined, string, string][] = [
      [l.errorMagnitude, "#d95f02", "masks only"],
      [l.errorRefit, "#1b9e77", "refit"],
    ];
    for (const [i, [e, color, what]] of bars.entries()) {
      if (e === undefined) continue;
      const w = Math.max(1, (e / max) * span);
      const by = y + i * 10;
      parts.push(
        `<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="9" fill="${color}">` +
          `<title>${what}: ${(e * 100).toFixed(2)} %</title></rect>`,
      );
      if (i === 1 || l.errorRefit === undefined) {
        parts.push(
          `<text x="${left + w + 6}" y="${by + 8}" font-size="10">${(e * 100).toFixed(1)} %</text>`,
        );
      }
    }
    if (l.predictedSpeedup !== undefined) {
      parts.push(
        `<text x="${width - 10}" y="${y + 14}" font-size="11" text-anchor="end">${
          l.predictedSpeedup.toFixed(2)
        }×</text>`,
      );
    }
    y += 26;
  }
  if (!rows.length) {
    parts.push(`<text x="10" y="${y}" font-size="12">No layer was pruned.</text>`);
    y += 20;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" ` +
    `font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="24" font-size="16" font-weight="bold">Pruning: ${escapeXml(title)}</text>` +
    `<text x="10" y="44" font-size="11">Relative output error per layer on the calibration ` +
    `data: <tspan fill="#d95f02">masks only</tspan>, <tspan fill="#1b9e77">after the ` +
    `refit</tspan>; right: predicted speedup (1 thread)</text>${parts.join("")}</svg>\n`;
}
