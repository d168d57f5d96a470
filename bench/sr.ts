/**
 * Super-resolution, one thread: ESRGAN-slim x2 in Quartet (TF.js import) vs TensorFlow.js's
 * own wasm backend on the same model and input, for a 128x128 image and a 320x240 frame.
 *
 *   deno run -A bench/sr.ts [--quick]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { startTfjs, tf } from "./_peers.ts";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { loadModel } from "../engine/model.ts";
import { Tensor } from "../engine/tensor.ts";
import { realModel } from "../tests/_models.ts";

const quick = Deno.args.includes("--quick");
const timing = quick
  ? { warmupMs: 300, budgetMs: 1500, minRuns: 3 }
  : { warmupMs: 1000, budgetMs: 5000, minRuns: 5 };
const path = await realModel("@upscalerjs/esrgan-slim", "x2");
await startTfjs(1);
const json = JSON.parse(await Deno.readTextFile(path));
const dir = path.replace(/model\.json$/, "");
const parts = json.weightsManifest.flatMap((g: { paths: string[] }) =>
  g.paths.map((p) => Deno.readFileSync(dir + p))
);
const weights = new Uint8Array(parts.reduce((s: number, b: Uint8Array) => s + b.length, 0));
let o = 0;
for (const b of parts) {
  weights.set(b, o);
  o += b.length;
}
const tfModel = await tfl.loadLayersModel(
  tf.io.fromMemory(
    json.modelTopology,
    json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
    weights.buffer,
  ),
);
const model = await loadModel(path);
const rows: BenchRow[] = [];
const pixels = new Map<string, number>();
for (const [w, h] of [[128, 128], [320, 240]]) {
  const name = `ESRGAN-slim x2, ${w}x${h} → ${2 * w}x${2 * h}`;
  pixels.set(name, 4 * w * h);
  const x = new Float32Array(w * h * 3).map((_, i) => (i * 37) % 256);
  rows.push({
    case: name,
    engine: "quartet",
    variant: model.summary().kernels.variant,
    threads: 1,
    ...(await measure(() => model.runSync({ LR: new Tensor("float32", x, [1, h, w, 3]) }), timing)),
  });
  const tx = tf.tensor4d(x, [1, h, w, 3]);
  rows.push({
    case: name,
    engine: "tfjs",
    variant: "wasm",
    threads: 1,
    ...(await measure(() => {
      const y = tfModel.predict(tx) as ReturnType<typeof tf.tensor>;
      y.dataSync();
      y.dispose();
    }, timing)),
  });
  tx.dispose();
  console.error(`  measured ${name}`);
}
const frame = rows.find((r) => r.case.includes("320x240") && r.engine === "quartet")!;
await report("sr", "Super-resolution, one thread (ms per image)", rows, { unit: "ms" }, [
  `320x240 → 640x480 frames per second (Quartet, one thread): ${
    (1000 / frame.median_ms).toFixed(2)
  }.`,
  "Both engines run the same TF.js layers model; TensorFlow.js uses its wasm backend (XNNPACK).",
]);
model.dispose();
