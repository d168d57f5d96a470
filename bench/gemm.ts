/**
 * Dense GEMM and GEMV: Quartet (each kernel build) vs onnxruntime-web and TensorFlow.js wasm,
 * one thread, same process, same inputs. Weights are constants (prepacked by every engine);
 * each timed run copies the activations in and the result out, as a model run would.
 *
 *   deno run -A bench/gemm.ts [--quick]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { measureOrt, ort, ortSession, startTfjs, tf } from "./_peers.ts";
import { gemm, packGemmWeights } from "../engine/ops/gemm.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";
import { Tensor } from "../engine/tensor.ts";
import { buildModel } from "../tests/_onnx_builder.ts";

/** MatMul(a [m,k], b [k,n] constant) as a one-node ONNX model. */
function matmulModel(m: number, k: number, n: number, b: Float32Array): Uint8Array {
  return buildModel({
    nodes: [{ op: "MatMul", inputs: ["a", "b"], outputs: ["c"] }],
    inputs: [{ name: "a", dims: [m, k] }],
    outputs: [{ name: "c", dims: [m, n] }],
    initializers: { b: new Tensor("float32", b, [k, n]) },
  });
}

/** The benchmark's cases: m x k x n. */
export const GEMM_CASES: { name: string; m: number; k: number; n: number }[] = [
  { name: "MatMul 512x512x512", m: 512, k: 512, n: 512 },
  { name: "MatMul 3136x576x64 (conv 3x3 as GEMM)", m: 3136, k: 576, n: 64 },
  { name: "GEMV 1x1024x1024", m: 1, k: 1024, n: 1024 },
  { name: "GEMV 1x4096x4096", m: 1, k: 4096, n: 4096 },
];

function flops(caseName: string): number {
  const c = GEMM_CASES.find((x) => x.name === caseName)!;
  return 2 * c.m * c.k * c.n;
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) a[i] = ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  return a;
}

async function quartet(
  variant: KernelVariant,
  m: number,
  k: number,
  n: number,
  a: Float32Array,
  b: Float32Array,
) {
  const kr = await loadKernels({ kernels: variant });
  const pb = kr.arena.alloc(k * n * 4);
  kr.arena.f32(pb, k * n).set(b);
  const w = packGemmWeights(kr, pb, k, n);
  const pa = kr.arena.alloc(m * k * 4);
  const pc = kr.arena.alloc(m * n * 4);
  const out = new Float32Array(m * n);
  return () => {
    kr.arena.f32(pa, m * k).set(a);
    gemm(kr, m, pa, k, w, pc, n);
    out.set(kr.arena.f32(pc, m * n));
  };
}

/** Measures the 128-bit multiply-add ceiling of one core in GFLOP/s (relaxed build). */
export async function measureCeiling(): Promise<number> {
  const kr = await loadKernels({ kernels: "auto" });
  const steps = 2_000_000;
  const r = await measure(() => kr.fn.f32_fma_peak(steps, 0.999999, 0.000001), {
    warmupMs: 200,
    budgetMs: 800,
  });
  return (steps * 12 * 8) / (r.min_ms * 1e6);
}

/**
 * Runs the GEMM / GEMV cases against the peers and prints the table; writes
 * bench/results/gemm.* unless `write` is false (the demo only shows it).
 */
export async function runGemmBench(
  options: { quick?: boolean; write?: boolean } = {},
): Promise<BenchRow[]> {
  const timing = options.quick ? { warmupMs: 150, budgetMs: 500, minRuns: 10 } : {};
  const rows: BenchRow[] = [];
  await startTfjs(1);
  const variants: KernelVariant[] = ["relaxed", "simd"];
  for (const c of GEMM_CASES) {
    const a = random(c.m * c.k, 1);
    const b = random(c.k * c.n, 2);
    for (const variant of variants) {
      const run = await quartet(variant, c.m, c.k, c.n, a, b);
      rows.push({
        case: c.name,
        engine: "quartet",
        variant,
        threads: 1,
        ...(await measure(run, timing)),
      });
    }
    const session = await ortSession(matmulModel(c.m, c.k, c.n, b), 1);
    const feeds = { a: new ort.Tensor("float32", a, [c.m, c.k]) };
    rows.push({
      case: c.name,
      engine: "onnxruntime-web",
      variant: "wasm",
      threads: 1,
      ...(await measureOrt(session, feeds, "c", timing)),
    });
    await session.release();
    const ta = tf.tensor2d(a, [c.m, c.k]);
    const tb = tf.tensor2d(b, [c.k, c.n]);
    rows.push({
      case: c.name,
      engine: "tfjs",
      variant: "wasm",
      threads: 1,
      ...(await measure(() => {
        const tc = tf.matMul(ta, tb);
        tc.dataSync();
        tc.dispose();
      }, timing)),
    });
    ta.dispose();
    tb.dispose();
    console.error(`  measured ${c.name}`);
  }
  const ceiling = await measureCeiling();
  await report("gemm", "Dense GEMM / GEMV, one thread (GFLOP/s)", rows, {
    unit: "GFLOP/s",
    work: flops,
  }, [
    `Measured 128-bit multiply-add ceiling of one core in this run: ${ceiling.toFixed(1)} GFLOP/s.`,
    `GEMV is memory-bound: 1x4096x4096 streams 64 MiB of weights per run ` +
    `(GB/s = GFLOP/s × 2, f32 weights).`,
    `Machine: ${navigator.hardwareConcurrency} logical cores; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}.`,
  ], { write: options.write });
  return rows;
}

if (import.meta.main) {
  await runGemmBench({ quick: Deno.args.includes("--quick") });
}
