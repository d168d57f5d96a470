/**
 * What pruning did to each layer, and that report as Markdown. Kept apart from the pruner so
 * the public API can offer the report without loading the pruner.
 *
 * @module
 */

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
      } | ${l.skipped ?? l.note ?? ""} |`
    ),
  ].join("\n");
}
