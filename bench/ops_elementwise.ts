/**
 * Elementwise, softmax and normalisation ops: Quartet (each kernel build) vs onnxruntime-web
 * and TensorFlow.js wasm where it has the op, one thread, same process. Every engine copies
 * its inputs in and its output out on each run, as a one-node model run would. Quartet's
 * outputs are checked against onnxruntime-web's before timing. Models come from
 * tests/_onnx_builder.ts.
 *
 *   deno run -A bench/ops_elementwise.ts [--quick] [--only <substring of a case name>]
 */
import { buildModel } from "../tests/_onnx_builder.ts";
import { type BenchRow, measure, report } from "./_harness.ts";
import { measureOrt, ort, ortSession, startTfjs, tf } from "./_peers.ts";
import type { Node } from "../engine/ir/graph.ts";
import { ops as binaryOps } from "../engine/ops/binary.ts";
import { ops as layerNormOps } from "../engine/ops/layer_normalization.ts";
import type { ArenaTensor, InputInfo, Op } from "../engine/ops/op.ts";
import { ops as softmaxOps } from "../engine/ops/softmax.ts";
import { ops as unaryOps } from "../engine/ops/unary.ts";
import { Tensor } from "../engine/tensor.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";

const OPS = new Map(
  [...binaryOps, ...layerNormOps, ...softmaxOps, ...unaryOps].map((o) => [o.type, o]),
);

type Attr = number | string;

/** One single-node case: runtime inputs, then float32 constants. */
interface Case {
  name: string;
  op: string;
  /** ONNX opset of the model given to onnxruntime-web. */
  opset: number;
  inputs: number[][];
  constants?: { dims: number[]; data: Float32Array }[];
  attributes?: Record<string, Attr>;
  /** Which attributes are floats (ONNX keeps ints and floats apart). */
  floats?: string[];
  tfjs?: (x: tf.Tensor, constants: tf.Tensor[]) => tf.Tensor;
}

function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function random(n: number, seed: number, lo = -4, hi = 4): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * ((s = (s * 48271) % 2147483647) / 2147483647);
  return a;
}

const CASES: Case[] = [
  {
    name: "LayerNorm 128x768",
    op: "LayerNormalization",
    opset: 17,
    inputs: [[128, 768]],
    constants: [
      { dims: [768], data: random(768, 7, 0.5, 1.5) },
      { dims: [768], data: random(768, 8) },
    ],
    attributes: { axis: -1, epsilon: 1e-5 },
    floats: ["epsilon"],
  },
  {
    name: "Softmax 1x50000",
    op: "Softmax",
    opset: 13,
    inputs: [[1, 50000]],
    attributes: { axis: -1 },
    tfjs: (x) => tf.softmax(x),
  },
  {
    name: "Softmax 8x50000",
    op: "Softmax",
    opset: 13,
    inputs: [[8, 50000]],
    attributes: { axis: -1 },
    tfjs: (x) => tf.softmax(x),
  },
  {
    name: "Add 1x64x56x56 + [64,1,1]",
    op: "Add",
    opset: 13,
    inputs: [[1, 64, 56, 56]],
    constants: [{ dims: [64, 1, 1], data: random(64, 11) }],
    tfjs: (x, [b]) => tf.add(x, b),
  },
  {
    name: "Mul 1x64x56x56 * [64,1,1]",
    op: "Mul",
    opset: 13,
    inputs: [[1, 64, 56, 56]],
    constants: [{ dims: [64, 1, 1], data: random(64, 12) }],
    tfjs: (x, [b]) => tf.mul(x, b),
  },
  {
    name: "Sigmoid 1M",
    op: "Sigmoid",
    opset: 13,
    inputs: [[1000, 1000]],
    tfjs: (x) => tf.sigmoid(x),
  },
  {
    name: "GELU (erf) 1M",
    op: "Gelu",
    opset: 20,
    inputs: [[1000, 1000]],
  },
  {
    name: "GELU (tanh) 1M",
    op: "Gelu",
    opset: 20,
    inputs: [[1000, 1000]],
    attributes: { approximate: "tanh" },
  },
];

function inputNames(c: Case): string[] {
  return [...c.inputs, ...(c.constants ?? [])].map((_, i) => `in${i}`);
}

function node(c: Case): Node {
  return {
    name: "bench",
    op: c.op,
    domain: "",
    inputs: inputNames(c),
    outputs: ["out"],
    attributes: { ...c.attributes },
  };
}

function infos(c: Case): InputInfo[] {
  return [
    ...c.inputs.map((dims) => ({ type: "float32" as const, dims })),
    ...(c.constants ?? []).map((k) => ({
      type: "float32" as const,
      dims: k.dims,
      value: new Tensor("float32", k.data, k.dims),
    })),
  ];
}

function opOf(c: Case): Op {
  const op = OPS.get(c.op);
  if (!op) throw new Error(`No Quartet op "${c.op}"`);
  return op;
}

/** The case as an ONNX model: runtime inputs in0.., constants as initializers, output "out". */
function onnxModel(c: Case, outDims: number[]): Uint8Array {
  const names = inputNames(c);
  const attributes = Object.fromEntries(
    Object.entries(c.attributes ?? {}).map((
      [k, v],
    ) => [k, c.floats?.includes(k) ? { float: v as number } : v]),
  );
  const initializers = Object.fromEntries(
    (c.constants ?? []).map((
      k,
      j,
    ) => [names[c.inputs.length + j], new Tensor("float32", k.data, k.dims)]),
  );
  return buildModel({
    nodes: [{ op: c.op, inputs: names, outputs: ["out"], attributes }],
    inputs: c.inputs.map((dims, i) => ({ name: names[i], dims })),
    outputs: [{ name: "out", dims: outDims }],
    initializers,
  }, c.opset);
}

// ---- Runners ----

async function quartetRunner(variant: KernelVariant, c: Case, xs: Float32Array[]) {
  const kr = await loadKernels({ kernels: variant });
  const op = opOf(c);
  const nd = node(c);
  const inf = infos(c);
  op.check?.(nd, c.opset);
  const [out] = op.inferShapes(nd, inf);
  const state = op.prepare?.({ kernels: kr }, nd, inf);
  const inputs: ArenaTensor[] = inf.map((info) => {
    const offset = kr.arena.alloc(4 * size(info.dims));
    if (info.value) kr.arena.f32(offset, size(info.dims)).set(info.value.data as Float32Array);
    return { type: "float32", dims: info.dims, offset };
  });
  const outputs: ArenaTensor[] = [{
    type: "float32",
    dims: out.dims,
    offset: kr.arena.alloc(4 * size(out.dims)),
  }];
  const result = new Float32Array(size(out.dims));
  const run = () => {
    xs.forEach((x, i) => kr.arena.f32(inputs[i].offset, x.length).set(x));
    op.run({ kernels: kr }, nd, inputs, outputs, state);
    result.set(kr.arena.f32(outputs[0].offset, result.length));
  };
  return { run, result, outDims: out.dims };
}

/** Runs the benchmark, prints the table and writes bench/results/ops_elementwise.*. */
export async function runElementwiseBench(
  options: { quick?: boolean; only?: string } = {},
): Promise<BenchRow[]> {
  const timing = options.quick ? { warmupMs: 150, budgetMs: 500, minRuns: 10 } : {};
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  await startTfjs(1);
  for (const c of CASES.filter((k) => !options.only || k.name.includes(options.only))) {
    const xs = c.inputs.map((d, i) => random(size(d), 101 + i));
    let reference: Float32Array | undefined;
    let outDims: number[] = [];
    for (const variant of ["relaxed", "simd", "scalar"] as KernelVariant[]) {
      const q = await quartetRunner(variant, c, xs);
      q.run();
      reference ??= q.result.slice();
      outDims = q.outDims;
      rows.push({
        case: c.name,
        engine: "quartet",
        variant,
        threads: 1,
        ...(await measure(q.run, timing)),
      });
    }
    const session = await ortSession(onnxModel(c, outDims), 1);
    const feeds = Object.fromEntries(
      xs.map((x, i) => [`in${i}`, new ort.Tensor("float32", x, c.inputs[i])]),
    );
    const got = (await (await session.run(feeds)).out.getData()) as Float32Array;
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - reference![i]));
    if (got.length !== reference!.length || !(worst < 1e-4)) {
      throw new Error(`${c.name}: Quartet and onnxruntime-web differ (max abs error ${worst})`);
    }
    notes.push(`${c.name}: max |Quartet − onnxruntime-web| = ${worst.toExponential(1)}`);
    rows.push({
      case: c.name,
      engine: "onnxruntime-web",
      variant: "wasm",
      threads: 1,
      ...(await measureOrt(session, feeds, "out", timing)),
    });
    await session.release();
    if (c.tfjs) {
      const consts = (c.constants ?? []).map((k) => tf.tensor(k.data, k.dims));
      rows.push({
        case: c.name,
        engine: "tfjs",
        variant: "wasm",
        threads: 1,
        ...(await measure(() => {
          const x = tf.tensor(xs[0], c.inputs[0]);
          const y = c.tfjs!(x, consts);
          y.dataSync();
          x.dispose();
          y.dispose();
        }, timing)),
      });
      consts.forEach((t) => t.dispose());
    }
    console.error(`  measured ${c.name}`);
  }
  await report("ops_elementwise", "Elementwise, softmax and normalisation, one thread (ms)", rows, {
    unit: "ms",
  }, [
    "Median ms per run, lower is better. Every engine copies inputs in and the output out on " +
    "each run (onnxruntime-web also pays its ≈10 µs session.run overhead). TensorFlow.js has no " +
    "LayerNorm or GELU op; its columns show — there.",
    notes.join("; ") + ".",
    `Machine: ${navigator.hardwareConcurrency} logical cores, shared and noisy; ` +
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}.`,
  ]);
  return rows;
}

if (import.meta.main) {
  const only = Deno.args.indexOf("--only");
  await runElementwiseBench({
    quick: Deno.args.includes("--quick"),
    only: only >= 0 ? Deno.args[only + 1] : undefined,
  });
}
