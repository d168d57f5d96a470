import { deepStrictEqual } from "node:assert/strict";
import { REGISTRY } from "../../../engine/ops/registry.ts";
import type { Op } from "../../../engine/ops/op.ts";

const OPS_DIR = new URL("../../../engine/ops/", import.meta.url);

Deno.test("every op file is registered, and no op type is registered twice", async () => {
  const missing: string[] = [];
  let total = 0;
  for (const e of Deno.readDirSync(OPS_DIR)) {
    if (!e.name.endsWith(".ts") || e.name.startsWith("_")) continue;
    const mod = await import(new URL(e.name, OPS_DIR).href);
    if (!Array.isArray(mod.ops)) continue;
    for (const op of mod.ops as Op[]) {
      total++;
      if (REGISTRY.get(op.type) !== op) missing.push(`${op.type} (${e.name})`);
    }
  }
  deepStrictEqual(missing, [], `add these files to engine/ops/registry.ts`);
  deepStrictEqual(REGISTRY.size, total, "two files register the same op type");
});
