/**
 * Import by URL: the repo served over HTTP on 127.0.0.1, a fresh Deno process imports mod.ts
 * from it (relative imports and pinned npm: specifiers only) and runs a matmul and an ONNX
 * model.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { buildModel } from "../_onnx_builder.ts";
import { Tensor } from "../../engine/tensor.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("mod.ts works when imported by URL", async () => {
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    served.push(path);
    if (path.includes("..")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, ROOT));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const dir = await Deno.makeTempDir({ prefix: "quartet-url-" });
  try {
    const port = server.addr.port;
    // A model: y = x · W with W = [[1, 2], [3, 4]], so [1, 1] → [4, 6].
    const model = buildModel({
      nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      inputs: [{ name: "x", dims: [1, 2] }],
      outputs: [{ name: "y", dims: [1, 2] }],
      initializers: { w: new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]) },
    });
    await Deno.writeFile(`${dir}/model.onnx`, model);
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { init, loadModel, Tensor } from "http://127.0.0.1:${port}/mod.ts";
const q = await init();
const a = new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]);
const mm = [...q.matmul(a, a).data];
const m = await loadModel(new URL("./model.onnx", import.meta.url));
const y = await m.run({ x: new Tensor("float32", new Float32Array([1, 1]), [1, 2]) });
console.log(JSON.stringify({ variant: q.info.variant, mm, y: [...y.y.data] }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      // --reload for this server's URLs: Deno caches remote modules by URL, so a port a
      // previous run happened to get would serve that run's mod.ts from the cache.
      args: [
        "run",
        "-A",
        "--no-config",
        "--no-lock",
        `--reload=http://127.0.0.1:${port}`,
        `${dir}/main.ts`,
      ],
      cwd: dir,
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    ok(out.code === 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    deepStrictEqual(r.mm, [7, 10, 15, 22]); // [[1,2],[3,4]]² by hand
    deepStrictEqual(r.y, [4, 6]);
    ok(served.includes("/mod.ts"));
    ok(served.some((p) => p.startsWith("/kernels-as/build/quartet_")), "kernels fetched lazily");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model URL that 404s or is cut off gives a typed error naming the URL", async () => {
  const { loadModel } = await import("../../mod.ts");
  const { ModelFormatError } = await import("../../engine/errors.ts");
  const full = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [1, 2] }],
    outputs: [{ name: "y" }],
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/cut.onnx") return new Response(full.slice(0, full.length - 5));
    return new Response("missing", { status: 404 });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    let error: unknown;
    try {
      await loadModel(`${base}/missing.onnx`);
    } catch (e) {
      error = e;
    }
    ok(
      error instanceof ModelFormatError && /missing\.onnx.*HTTP 404/.test(error.message),
      String(error),
    );
    error = undefined;
    try {
      await loadModel(`${base}/cut.onnx`);
    } catch (e) {
      error = e;
    }
    ok(error instanceof ModelFormatError && /cut\.onnx/.test(error.message), String(error));
  } finally {
    await server.shutdown();
  }
});
