/**
 * Installed packages are trusted only once npm has finished (the marker it leaves), so a
 * process never reads a model another process is still extracting.
 */
import { rejects, strictEqual } from "node:assert/strict";
import { ModelFormatError } from "../../../engine/errors.ts";
import { npmModelFile } from "../../../engine/models/model_store.ts";

Deno.test("a finished install is used as it is; a missing file in it is a typed error", async () => {
  const cache = await Deno.makeTempDir();
  try {
    // No such package exists on npm: any install attempt would fail.
    const prefix = `${cache}/_quartet-test_no-such-package@1.0.0`;
    await Deno.mkdir(`${prefix}/node_modules/@quartet-test/no-such-package`, { recursive: true });
    await Deno.writeTextFile(`${prefix}/node_modules/@quartet-test/no-such-package/m.onnx`, "x");
    await Deno.writeTextFile(`${prefix}/.installed`, "");
    strictEqual(
      await npmModelFile("@quartet-test/no-such-package", "1.0.0", "m.onnx", cache),
      `${prefix}/node_modules/@quartet-test/no-such-package/m.onnx`,
    );
    await rejects(
      npmModelFile("@quartet-test/no-such-package", "1.0.0", "other.onnx", cache),
      (e) => e instanceof ModelFormatError && /has no file "other.onnx"/.test(e.message),
    );
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
