/**
 * The operator support table, generated from the op files and the registry (so it cannot
 * drift): `deno run -A engine/ops/support_table.ts > docs/operators.md`; a test checks the
 * committed table is current.
 *
 * @module
 */
import type { Op } from "./op.ts";
import { loadAllOps } from "./registry.ts";

/** Ops whose kernels take a fused activation (and, for Conv, a residual) in the epilogue. */
const FUSED: Record<string, string> = {
  Conv: "activation, residual Add, BatchNormalization, per-channel Mul/Add",
  ConvTranspose: "activation, BatchNormalization, bias Add",
  Gemm: "activation",
  MatMul: "activation",
};

const MATMUL_SPARSE = "constant B: C4n (n = 2, 3) GEMV for up to 4 rows of A and a " +
  "several-input C4n kernel for more (C4,2 only when its first run has up to 4 rows: for more " +
  "it is no faster than dense); block column-row GEMV (up to 4 rows); when the cost model " +
  "predicts a gain";
const RNN_SPARSE = "input weights: C4n (n = 2, 3) or block column-row GEMV (one step at a " +
  "time; C4n also over a block of steps, C4,2 only if the first run's block has up to 4 " +
  "rows); when the cost model predicts a gain";

/** Ops that pick a sparse kernel when their constant weights have the structure. */
const SPARSE: Record<string, string> = {
  Conv: "C4n (n = 1, 2, 3); pattern (3x3, ≤ 4 taps per kernel, stride 1 or 2); when the cost " +
    "model predicts a gain",
  ConvTranspose: "C4n (n = 1, 2, 3) when the cost model predicts a gain",
  MatMul: MATMUL_SPARSE,
  Gemm: MATMUL_SPARSE,
  LSTM: RNN_SPARSE,
  GRU: RNN_SPARSE,
  RNN: RNN_SPARSE,
};

/** The Markdown table: op, file, fused epilogues, sparse kernels, notes. */
export async function supportTable(): Promise<string> {
  const registry = await loadAllOps();
  const dir = new URL("./", import.meta.url);
  const fileOf = new Map<string, string>();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => n.endsWith(".ts") && !n.startsWith("_")).sort();
  for (const name of names) {
    const mod = await import(new URL(name, dir).href);
    if (!Array.isArray(mod.ops)) continue;
    for (const op of mod.ops as Op[]) fileOf.set(op.type, `engine/ops/${name}`);
  }
  const rows = [...registry.values()].sort((a, b) => a.type.localeCompare(b.type)).map((op) => {
    const internal = !/^[A-Z]/.test(op.type) ||
      ["SelectiveScan", "CausalConv1d", "Silu"].includes(op.type);
    const view = (op as { aliasesInput?: number }).aliasesInput !== undefined
      ? "view (no copy)"
      : "";
    return `| ${op.type} | \`${fileOf.get(op.type) ?? "?"}\` | ${FUSED[op.type] ?? ""} | ${
      SPARSE[op.type] ?? ""
    } | ${[internal ? "Quartet-internal" : "", view].filter((s) => s).join("; ")} |`;
  });
  return [
    "# Supported operators",
    "",
    "Generated from the op registry by `engine/ops/support_table.ts`; do not edit by hand.",
    "Each op checks its attributes at load (`check`), and its input element types through its",
    "own shape inference, run at load from the declared inputs and the constants",
    "(`engine/check_types.ts`): unsupported attribute values and input types are reported for",
    "every node at once, with the node's name. Control flow: `If` (run by the executor).",
    "",
    `${registry.size + 1} operators.`,
    "",
    "| op | implemented in | fused at load | sparse kernels | notes |",
    "|---|---|---|---|---|",
    "| If | `engine/executor.ts` | | | branches run with the enclosing values in scope |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await supportTable());
