/**
 * Data-movement ops: Quartet's Transpose, Resize, DepthToSpace and Concat (each kernel
 * build) vs onnxruntime-web and TensorFlow.js wasm, one thread, same process. Every engine
 * copies inputs in and outputs out on each run, as a one-node model run would; the figure is
 * bytes read + written per second. Quartet and onnxruntime-web run NCHW; TensorFlow.js runs
 * its native NHWC where the op depends on the layout (resize, depthToSpace).
 *
 *   deno run -A bench/ops_data.ts [--quick] [--only <substring of a case name>]
 */
import { type BenchRow, measure, report } from "./_harness.ts";
import { measureOrt, ort, ortSession, startTfjs, tf } from "./_peers.ts";
import type { Node } from "../engine/ir/graph.ts";
import { concatOp } from "../engine/ops/concat.ts";
import { depthToSpaceOp } from "../engine/ops/depth_to_space.ts";
import type { ArenaTensor, InputInfo, Op } from "../engine/ops/op.ts";
import { resizeOpImpl } from "../engine/ops/resize.ts";
import { transposeOp } from "../engine/ops/transpose.ts";
import { Tensor } from "../engine/tensor.ts";
import { type KernelVariant, loadKernels } from "../engine/wasm/kernels.ts";

/** A one-node case: its op, inputs (data first, float32 constants after) and attributes. */
interface DataCase {
  name: string;
  op: Op;
  /** Shapes of the runtime float32 inputs. */
  inputs: number[][];
  /** Constant (initializer) inputs after the runtime ones; "" leaves an input out. */
  constants?: ({ name: string; data: Float32Array; dims: number[] } | "")[];
  attributes: Record<string, number | string | number[]>;
  /** The same computation in TensorFlow.js on NHWC or NCHW data, when it has the op. */
  tfjs?: (xs: tf.Tensor[]) => tf.Tensor;
  /** Layout TensorFlow.js inputs are built in. */
  tfjsInputs?: number[][];
}

const CASES: DataCase[] = [
  {
    name: "Transpose NCHW→NHWC 1x64x112x112",
    op: transposeOp,
    inputs: [[1, 64, 112, 112]],
    attributes: { perm: [0, 2, 3, 1] },
    tfjs: ([x]) => tf.transpose(x, [0, 2, 3, 1]),
  },
  {
    name: "Resize nearest 2x 1x32x128x128",
    op: resizeOpImpl,
    inputs: [[1, 32, 128, 128]],
    constants: ["", { name: "scales", data: new Float32Array([1, 1, 2, 2]), dims: [4] }],
    attributes: {
      mode: "nearest",
      coordinate_transformation_mode: "asymmetric",
      nearest_mode: "floor",
    },
    tfjsInputs: [[1, 128, 128, 32]],
    tfjs: ([x]) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [256, 256]),
  },
  {
    name: "Resize bilinear 2x 1x32x128x128",
    op: resizeOpImpl,
    inputs: [[1, 32, 128, 128]],
    constants: ["", { name: "scales", data: new Float32Array([1, 1, 2, 2]), dims: [4] }],
    attributes: { mode: "linear", coordinate_transformation_mode: "half_pixel" },
    tfjsInputs: [[1, 128, 128, 32]],
    tfjs: ([x]) => tf.image.resizeBilinear(x as tf.Tensor4D, [256, 256], false, true),
  },
  {
    name: "DepthToSpace CRD b2 1x64x128x128",
    op: depthToSpaceOp,
    inputs: [[1, 64, 128, 128]],
    attributes: { blocksize: 2, mode: "CRD" },
    // tfjs only has the NHWC (DCR-ordered) form.
    tfjsInputs: [[1, 128, 128, 64]],
    tfjs: ([x]) => tf.depthToSpace(x as tf.Tensor4D, 2, "NHWC"),
  },
  {
    name: "Concat 4x 1x32x56x56 on channels",
    op: concatOp,
    inputs: [[1, 32, 56, 56], [1, 32, 56, 56], [1, 32, 56, 56], [1, 32, 56, 56]],
    attributes: { axis: 1 },
    tfjs: (xs) => tf.concat(xs, 1),
  },
];

function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) a[i] = (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
  return a;
}

function node(c: DataCase): Node {
  const n = c.inputs.length + (c.constants?.length ?? 0);
  return {
    name: "bench",
    op: c.op.type,
    domain: "",
    inputs: Array.from({ length: n }, (_, i) => {
      const k = c.constants?.[i - c.inputs.length];
      return k === "" ? "" : `in${i}`;
    }),
    outputs: ["out"],
    attributes: c.attributes,
  };
}

function infos(c: DataCase): (InputInfo | undefined)[] {
  return [
    ...c.inputs.map((dims) => ({ type: "float32" as const, dims })),
    ...(c.constants ?? []).map((k) =>
      k === "" ? undefined : {
        type: "float32" as const,
        dims: k.dims,
        value: new Tensor("float32", k.data, k.dims),
      }
    ),
  ];
}

/** Output dims of a case, from Quartet's shape inference. */
function outputDims(c: DataCase): number[] {
  return c.op.inferShapes(node(c), infos(c))[0].dims;
}

// ---- A one-node ONNX model in protobuf wire format (field numbers are the ONNX IR's). ----

function varint(v: number | bigint): number[] {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (n > 127n) {
    out.push(Number(n & 127n) | 128);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

function bytesField(num: number, payload: Uint8Array | number[] | string): number[] {
  const b = typeof payload === "string" ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...varint((num << 3) | 2), ...varint(b.length), ...b];
}

function varintField(num: number, v: number): number[] {
  return [...varint(num << 3), ...varint(v)];
}

function attribute(name: string, v: number | string | number[]): number[] {
  const head = bytesField(1, name);
  if (typeof v === "string") return [...head, ...bytesField(4, v), ...varintField(20, 3)];
  if (Array.isArray(v)) {
    return [
      ...head,
      ...v.flatMap((x) => varintField(8, x)),
      ...varintField(20, 7),
    ];
  }
  return [...head, ...varintField(3, v), ...varintField(20, 2)];
}

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytesField(1, varintField(1, d)));
  const tensorType = [...varintField(1, 1), ...bytesField(2, shape)];
  return [...bytesField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

function encodeModel(c: DataCase): Uint8Array {
  const n = node(c);
  const nodeBytes = [
    ...n.inputs.flatMap((i) => bytesField(1, i)),
    ...bytesField(2, "out"),
    ...bytesField(4, c.op.type),
    ...Object.entries(c.attributes).flatMap(([k, v]) => bytesField(5, attribute(k, v))),
  ];
  const inits = (c.constants ?? []).flatMap((k, j) => {
    if (k === "") return [];
    const t = [
      ...k.dims.flatMap((d) => varintField(1, d)),
      ...varintField(2, 1),
      ...bytesField(8, `in${c.inputs.length + j}`),
      ...bytesField(9, new Uint8Array(k.data.buffer, k.data.byteOffset, k.data.byteLength)),
    ];
    return bytesField(5, t);
  });
  const graph = [
    ...bytesField(1, nodeBytes),
    ...bytesField(2, "data_op"),
    ...inits,
    ...c.inputs.flatMap((d, i) => bytesField(11, valueInfo(`in${i}`, d))),
    ...bytesField(12, valueInfo("out", outputDims(c))),
  ];
  return new Uint8Array([
    ...varintField(1, 8),
    ...bytesField(8, varintField(2, 18)),
    ...bytesField(7, graph),
  ]);
}

// ---- Runners ----

async function quartet(variant: KernelVariant, c: DataCase, xs: Float32Array[]) {
  const kr = await loadKernels({ kernels: variant });
  const nd = node(c);
  const inf = infos(c);
  const out = outputDims(c);
  const state = c.op.prepare?.({ kernels: kr }, nd, inf);
  const inputs: (ArenaTensor | undefined)[] = inf.map((info, i) => {
    if (!info) return undefined;
    const off = kr.arena.alloc(size(info.dims) * 4);
    if (info.value) kr.arena.f32(off, size(info.dims)).set(info.value.data as Float32Array);
    else void i;
    return { type: "float32", dims: info.dims, offset: off };
  });
  const py = kr.arena.alloc(size(out) * 4);
  const outputs: ArenaTensor[] = [{ type: "float32", dims: out, offset: py }];
  const result = new Float32Array(size(out));
  const run = () => {
    xs.forEach((x, i) => kr.arena.f32(inputs[i]!.offset, x.length).set(x));
    c.op.run({ kernels: kr }, nd, inputs, outputs, state);
    result.set(kr.arena.f32(py, result.length));
  };
  return { run, result };
}

/** Bytes each case reads and writes once. */
function traffic(c: DataCase): number {
  return 4 * (c.inputs.reduce((a, d) => a + size(d), 0) + size(outputDims(c)));
}

/** Runs the benchmark, prints the table and writes bench/results/ops_data.*. */
export async function runDataBench(
  options: { quick?: boolean; only?: string } = {},
): Promise<BenchRow[]> {
  const timing = options.quick ? { warmupMs: 150, budgetMs: 500, minRuns: 10 } : {};
  const rows: BenchRow[] = [];
  await startTfjs(1);
  const cases = CASES.filter((c) => !options.only || c.name.includes(options.only));
  for (const c of cases) {
    const xs = c.inputs.map((d, i) => random(size(d), i + 1));
    let reference: Float32Array | undefined;
    for (const variant of ["relaxed", "simd", "scalar"] as KernelVariant[]) {
      const q = await quartet(variant, c, xs);
      q.run();
      reference ??= q.result.slice();
      rows.push({
        case: c.name,
        engine: "quartet",
        variant,
        threads: 1,
        ...(await measure(q.run, timing)),
      });
    }
    const session = await ortSession(encodeModel(c), 1);
    const feeds = Object.fromEntries(
      xs.map((x, i) => [`in${i}`, new ort.Tensor("float32", x, c.inputs[i])]),
    );
    const check = await session.run(feeds);
    const got = (await check.out.getData()) as Float32Array;
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - reference![i]));
    if (got.length !== reference!.length || worst > 1e-5) {
      throw new Error(`${c.name}: Quartet and onnxruntime-web differ (max abs error ${worst})`);
    }
    rows.push({
      case: c.name,
      engine: "onnxruntime-web",
      variant: "wasm",
      threads: 1,
      ...(await measureOrt(session, feeds, "out", timing)),
    });
    await session.release();
    if (c.tfjs) {
      const shapes = c.tfjsInputs ?? c.inputs;
      const data = shapes.map((d, i) => random(size(d), i + 1));
      rows.push({
        case: c.name,
        engine: "tfjs",
        variant: "wasm",
        threads: 1,
        ...(await measure(() => {
          const ts = data.map((d, i) => tf.tensor(d, shapes[i]));
          const y = c.tfjs!(ts);
          y.dataSync();
          ts.forEach((t) => t.dispose());
          y.dispose();
        }, timing)),
      });
    }
    console.error(`  measured ${c.name}`);
  }
  await report("ops_data", "Data movement, one thread (GB/s moved)", rows, {
    unit: "GB/s",
    work: (name) => traffic(CASES.find((c) => c.name === name)!),
  }, [
    "GB/s = (input + output bytes) / median time. Every engine copies inputs in and outputs out on " +
    "each run. Quartet's outputs are checked against onnxruntime-web's before timing.",
    "Quartet and onnxruntime-web run NCHW; TensorFlow.js runs NHWC for resize and depthToSpace " +
    "(its only layout; depthToSpace in its DCR order).",
    `Machine: ${navigator.hardwareConcurrency} logical cores, shared and noisy; ` +
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}.`,
  ]);
  return rows;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--only");
  await runDataBench({
    quick: Deno.args.includes("--quick"),
    only: i >= 0 ? Deno.args[i + 1] : undefined,
  });
}
