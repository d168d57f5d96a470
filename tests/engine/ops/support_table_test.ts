import { deepStrictEqual } from "node:assert/strict";
import { supportTable } from "../../../engine/ops/support_table.ts";

Deno.test("docs/operators.md is the table the registry generates (regenerate when ops change)", async () => {
  const committed = await Deno.readTextFile(new URL("../../../docs/operators.md", import.meta.url));
  deepStrictEqual(
    committed.trim(),
    (await supportTable()).trim(),
    "run: deno run -A engine/ops/support_table.ts > docs/operators.md",
  );
});
