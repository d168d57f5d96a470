import { deepStrictEqual } from "node:assert/strict";
import { loadAllOps, loadOps, OP_TYPES } from "../../../engine/ops/registry.ts";
import type { Op } from "../../../engine/ops/op.ts";

const OPS_DIR = new URL("../../../engine/ops/", import.meta.url);

Deno.test("every op file is registered under the types it defines, and no type twice", async () => {
  const registry = await loadAllOps();
  const missing: string[] = [];
  let total = 0;
  for (const e of Deno.readDirSync(OPS_DIR)) {
    if (!e.name.endsWith(".ts") || e.name.startsWith("_")) continue;
    const mod = await import(new URL(e.name, OPS_DIR).href);
    if (!Array.isArray(mod.ops)) continue;
    for (const op of mod.ops as Op[]) {
      total++;
      // Loading just this type must load this very file.
      const alone = await loadOps([op.type]);
      if (registry.get(op.type) !== op || alone.get(op.type) !== op) {
        missing.push(`${op.type} (${e.name})`);
      }
    }
  }
  deepStrictEqual(missing, [], "list these types and files in engine/ops/registry.ts");
  deepStrictEqual(registry.size, total, "two files define the same op type");
  deepStrictEqual(OP_TYPES.length, total, "engine/ops/registry.ts lists a type no file defines");
});

Deno.test("loadOps loads only the files of the types asked for and skips unknown types", async () => {
  const ops = await loadOps(["Relu", "Conv", "NoSuchOp", "constructor"]);
  deepStrictEqual(ops.has("Relu") && ops.has("Conv") && ops.has("Sigmoid"), true);
  deepStrictEqual(ops.has("LSTM") || ops.has("NoSuchOp") || ops.has("constructor"), false);
});
