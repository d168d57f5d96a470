/**
 * The esbuild bundle: size within budget, and it runs under Node (no Deno, no relaxed SIMD
 * without a flag) with the same numbers as Deno.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { buildBundle } from "../../bundle/build.ts";
import { loadModel, Tensor } from "../../mod.ts";
import { realModel } from "../_models.ts";

const budget = JSON.parse(
  await Deno.readTextFile(new URL("../../bundle/budget.json", import.meta.url)),
) as { maxBytesPerBuild: number };

Deno.test("the bundle stays within its size budget for one kernel build", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-bundle-" });
  try {
    const { files } = await buildBundle(dir);
    // What a host downloads to run an ONNX model: the entry, the shared chunks, the ONNX
    // importer and one kernel build. Optional lazy chunks (TF.js import, the tokenizer) only
    // load when used.
    const needed = (v: string) =>
      files.filter((f) =>
        f.name === "quartet.mjs" || f.name.startsWith(`quartet_${v}-`) ||
        f.entryPoint?.endsWith("formats/onnx/mod.ts") ||
        (!f.entryPoint && f.name.startsWith("chunk-"))
      );
    for (const v of ["scalar", "simd", "relaxed"]) {
      const total = needed(v).reduce((s, f) => s + f.bytes, 0);
      ok(
        total <= budget.maxBytesPerBuild,
        `${v}: ${total} bytes > budget ${budget.maxBytesPerBuild}`,
      );
    }
    ok(files.some((f) => f.name === "quartet.mjs"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Node runs the bundle: falls back to SIMD, matches Deno's results", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-node-" });
  try {
    await buildBundle(dir);
    const vad = await realModel("@ricky0123/vad-web", "silero_vad_legacy.onnx");
    const example = new URL("../../examples/node/run.mjs", import.meta.url).pathname;
    const out = await new Deno.Command("node", { args: [example, `${dir}/quartet.mjs`, vad] })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    ok(out.code === 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text.trim().split("\n").pop()!);
    const nodeMajor = Number(
      new TextDecoder().decode(
        (await new Deno.Command("node", { args: ["-p", "process.versions.node"] }).output()).stdout,
      )
        .split(".")[0],
    );
    // Node 20 has no relaxed SIMD unless flagged: the engine must pick plain SIMD and say why.
    if (nodeMajor < 22) deepStrictEqual(r.variant, "simd");
    // [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]] by hand.
    deepStrictEqual(r.matmul, [4, 5, 10, 11]);
    // The same chunks through Deno.
    const model = await loadModel(vad, { kernels: r.variant });
    let h = new Tensor("float32", new Float32Array(128), [2, 1, 64]);
    let c = new Tensor("float32", new Float32Array(128), [2, 1, 64]);
    const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
    for (let chunk = 0; chunk < 10; chunk++) {
      const x = new Float32Array(512).map((_, i) => 0.3 * Math.sin((chunk * 512 + i) * 0.05));
      const o = await model.run({ input: new Tensor("float32", x, [1, 512]), sr, h, c });
      ok(Math.abs((o.output.data as Float32Array)[0] - r.speech[chunk]) < 1e-6, `chunk ${chunk}`);
      h = o.hn as Tensor<"float32">;
      c = o.cn as Tensor<"float32">;
    }
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
