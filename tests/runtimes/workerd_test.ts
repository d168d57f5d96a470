/**
 * Cloudflare workerd: the example worker, the bundle and the kernel build bound as a Wasm
 * module, served on 127.0.0.1; a request runs a matmul and a posted ONNX model, another a Mamba
 * checkpoint the worker fetches by URL.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { buildBundle } from "../../bundle/build.ts";
import { npmInstallOnce } from "../../engine/models/model_store.ts";
import { buildModel } from "../_onnx_builder.ts";
import { Tensor } from "../../engine/tensor.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const VERSION = "1.20261117.1";

/** The workerd binary, installed on first use from npm (the package ships it). */
async function workerdBinary(): Promise<string> {
  const prefix = `${ROOT}.cache/workerd@${VERSION}`;
  await npmInstallOnce(prefix, [`workerd@${VERSION}`], `${ROOT}.cache`);
  return `${prefix}/node_modules/.bin/workerd`;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("the example worker runs Quartet in workerd with the kernels bound as a module", async () => {
  const bin = await workerdBinary();
  const dir = await Deno.makeTempDir({ prefix: "quartet-workerd-" });
  const { files } = await buildBundle(dir);
  await Deno.copyFile(`${ROOT}examples/workerd/worker.mjs`, `${dir}/worker.mjs`);
  await Deno.copyFile(`${ROOT}kernels-as/build/quartet_simd.wasm`, `${dir}/quartet_simd.wasm`);
  const port = freePort();
  const modules = files.filter((f) => f.name.endsWith(".mjs"))
    .map((f) => `    (name = "${f.name}", esModule = embed "${f.name}"),`).join("\n");
  const config = (await Deno.readTextFile(`${ROOT}examples/workerd/config.capnp.tmpl`))
    .replace("{{PORT}}", String(port)).replace("{{MODULES}}", modules);
  await Deno.writeTextFile(`${dir}/config.capnp`, config);
  const child = new Deno.Command(bin, {
    args: ["serve", `${dir}/config.capnp`],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let res: Response | undefined;
    for (let i = 0; i < 100 && !res; i++) {
      try {
        res = await fetch(`http://127.0.0.1:${port}/`);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    ok(res, "workerd did not answer within 10 s");
    const body = await res.json();
    // The bound module is the simd build; the engine reads its variant from the module.
    deepStrictEqual([body.variant, body.reason], ["simd", "precompiled module given"]);
    deepStrictEqual(body.matmul, [4, 5, 10, 11]); // [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]]
    // y = x · W with W = [[1, 2], [3, 4]] on x = [1, 1]: [4, 6].
    const model = buildModel({
      nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      inputs: [{ name: "x", dims: [1, 2] }],
      outputs: [{ name: "y", dims: [1, 2] }],
      initializers: { w: new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]) },
    });
    const posted = await (await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      body: model as Uint8Array<ArrayBuffer>,
    }))
      .json();
    deepStrictEqual(posted.outputs.y, [4, 6]);
    const bad = await fetch(`http://127.0.0.1:${port}/?bytes`);
    const err = await bad.json();
    deepStrictEqual([bad.status, err.error], [500, "KernelLoadError"]);
    ok(/WebAssembly\.Module/.test(err.message) && /workerd/.test(err.message), err.message);
    // Mamba at the edge: the worker fetches the fixture checkpoint (tokenizer.json included)
    // from a server here and generates the PyTorch fixture's greedy tokens on the bound module.
    const fixture = new URL("../fixtures/mamba/", import.meta.url);
    const expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", fixture))) as {
      prompt: number[];
      greedy: number[];
    };
    const files = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      try {
        return new Response(
          await Deno.readFile(new URL(new URL(req.url).pathname.slice(1), fixture)),
        );
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    try {
      const text = new TextDecoder().decode(new Uint8Array(expected.prompt));
      const query = new URLSearchParams({
        mamba: `http://127.0.0.1:${files.addr.port}/`,
        prompt: text,
      });
      const res = await fetch(`http://127.0.0.1:${port}/?${query}`);
      const r = await res.json();
      ok(res.ok, JSON.stringify(r));
      deepStrictEqual(r.mamba.variant, "simd");
      deepStrictEqual(r.mamba.prompt, expected.prompt);
      deepStrictEqual(r.mamba.tokens, expected.greedy.slice(0, 8));
    } finally {
      await files.shutdown();
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
