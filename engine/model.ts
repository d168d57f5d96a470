/**
 * A loaded model: `loadModel` reads a file, checks every node, fuses what it can, and returns
 * a `Model` whose `run` takes and returns tensors by name, like onnxruntime-web's session.
 *
 * @module
 */
import { findTypeProblems } from "./check_types.ts";
import {
  DTypeError,
  InvalidArgumentError,
  ModelFormatError,
  QuartetError,
  ShapeError,
  UnsupportedOpError,
} from "./errors.ts";
import {
  findUnsupported,
  GraphExecutor,
  type NodeProfile,
  readHost,
  release,
  type Value,
} from "./executor.ts";
import { checkOptions } from "./options.ts";
import {
  forEachGraph,
  type Graph,
  type Model as IrModel,
  type Node,
  type ValueInfo,
} from "./ir/graph.ts";
import { loadOps } from "./ops/registry.ts";
import { AutoThreads } from "./threads/auto_threads.ts";
import { type RunPlan, RunRecording } from "./run_plan.ts";
import type { Op } from "./ops/op.ts";
import { fuseActivations } from "./passes/fuse_activations.ts";
import { factorGatedResiduals } from "./passes/factor_gated_residuals.ts";
import { checkBesideName, readSource, siblingSource } from "./formats/read_source.ts";
import { isSparsePackage } from "./formats/sparse_package/format.ts";
import { foldBatchNorms, foldBiasAdds, fuseResidualAdds } from "./passes/fuse_conv.ts";
import {
  type ConstantScope,
  foldConstantNodes,
  foldConstantSubgraphs,
} from "./passes/fold_constants.ts";
import { bytesPerElement, type DType, sizeOf, Tensor } from "./tensor.ts";
import {
  disposeKernels,
  type KernelChoice,
  type Kernels,
  type KernelVariant,
  loadKernels,
  type ThreadInfo,
} from "./wasm/kernels.ts";
import { checkFloat16Weights, modelWeightBytes, setGemvWeights } from "./weights/f16_gemv.ts";
import { hasSparseWeights, loadSparsePackers } from "./weights/sparse_packers.ts";

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /**
   * Kernel build: "auto" (default) picks relaxed SIMD where its multiply-add is fused, then
   * SIMD, then scalar.
   */
  kernels?: KernelVariant | "auto";
  /** A precompiled kernel module (hosts that forbid compiling Wasm at run time). */
  module?: WebAssembly.Module;
  /** Most bytes the arena may grow to (default 4 GiB). */
  maxMemoryBytes?: number;
  /** Fuse activations into kernel epilogues (default true). */
  fuse?: boolean;
  /**
   * Sparse kernels: "auto" (default) runs a layer sparse when its constant weights have C4n
   * structure (1x1 and lowered convs), pattern structure (3x3 convs whose kernels keep ≤ 4
   * taps) or block column-row structure (MatMul/Gemm/RNN/Mamba GEMVs) and the cost model
   * predicts a gain; "off" runs everything dense. `summary().kernelChoices` says what each
   * layer got and why. A layer's choice is made once, on the first run that reaches it, for
   * that run's shapes (a conv's pixel count weighs on it): give a model with free input dims
   * a first run of a representative size, not a tiny warm-up input. Sparse kernels skip pruned zeros instead of multiplying by them, as
   * sparse libraries do: an infinite or NaN input that meets only pruned weights leaves the
   * output finite, where a dense product makes it NaN (0 × ∞); for finite inputs the two agree
   * to rounding.
   */
  sparse?: "auto" | "off";
  /**
   * Worker threads for the big kernels: 1 (default), a count, or "auto" (the host's cores, up
   * to 4; the first runs then time the model on the pool and on one thread, alternately, and
   * keep the faster, stopping the workers when one thread is as fast). Needs
   * SharedArrayBuffer (in browsers a cross-origin isolated page); otherwise the model runs on
   * one thread and `summary().threads` says why. Call `dispose()` to stop the workers.
   */
  threads?: number | "auto";
  /**
   * Storage of the constant weights of MatMul, Gemm and RNN input layers for products of 1 to
   * 4 rows (GEMVs: token-by-token decode, batch-1 layers), which stream every weight once per
   * call. "auto" (default) keeps the MatMul and Gemm weights a model stores as float16 as IEEE
   * halves: half the bytes, no loss. "f16" also rounds float32 weights to f16 (nearest even):
   * lossy, the layer then computes with the rounded weights for every product. "f32" keeps
   * all as f32. A layer goes f16 only where the f16 kernel is predicted faster (SIMD builds,
   * weights that do not stay in cache between runs) and no sparse format was chosen for it;
   * `summary().kernelChoices` says what each layer got. NaN or infinite float16 weights of a
   * matrix product are a ModelFormatError at load; float32 weights rounded under "f16" are
   * checked when their layer is first prepared.
   */
  gemvWeights?: "auto" | "f16" | "f32";
  /**
   * Replay runs from a recording (default true): once a run has been recorded, later runs with
   * the same input dims (and the same values wherever the model reads inputs on the host, such
   * as a sample rate or an `If` condition) skip shape inference and memory bookkeeping and
   * only call the kernels, on a static memory plan. False runs every call through the graph
   * executor. `summary().runPlan` tells whether a plan is in use.
   */
  replay?: boolean;
}

const LOAD_MODEL_OPTIONS = [
  "kernels",
  "module",
  "maxMemoryBytes",
  "fuse",
  "sparse",
  "threads",
  "gemvWeights",
  "replay",
];

/** Options of `Model.run`. */
export interface RunOptions {
  /** Measure each node; the result's `profile` lists them. */
  profile?: boolean;
}

/** Name, element type and shape (symbolic dims as names) of a model input or output. */
export interface TensorInfo {
  /** The name to feed or read. */
  name: string;
  /** Element type. */
  type: DType;
  /** Dimensions; a string is a symbolic dimension fixed at run time. */
  dims: (number | string)[];
}

/** One row of `Model.summary()`. */
export interface LayerSummary {
  /** Node name. */
  node: string;
  /** Operator type. */
  op: string;
  /** The activation fused into it, if any. */
  fused?: string;
  /** Its weight initializer (input 1 of Conv, MatMul, Gemm, LSTM…), if it has one. */
  weights?: string;
  /** Fraction of zeros in those weights. */
  sparsity?: number;
}

/** What a model contains and how it will run. */
export interface ModelSummary {
  /** Kernel build in use and why. */
  kernels: { variant: KernelVariant; reason: string };
  /** Threads the kernels run on and why. */
  threads: ThreadInfo;
  /** Node count by operator type. */
  ops: Record<string, number>;
  /** Parameters (elements of all initializers). */
  parameters: number;
  /**
   * Activations fused into producers at load. This and the three counts below cover the
   * main graph and the If branches runs have taken so far (a branch is readied when first
   * taken).
   */
  fusedActivations: number;
  /** Nodes replaced by constants (see `fusedActivations`). */
  foldedConstants: number;
  /** BatchNormalizations folded into convs (see `fusedActivations`). */
  foldedBatchNorms: number;
  /**
   * Residual Adds fused into convs, or moved onto a gate (x + x · g run as x · (1 + g)); see
   * `fusedActivations`.
   */
  fusedResiduals: number;
  /** The nodes, in execution order. */
  layers: LayerSummary[];
  /** Kernel chosen for each weight-carrying layer and why (after the first run). */
  kernelChoices: KernelChoice[];
  /** Highest arena use so far in bytes (weights + activations), after at least one run. */
  peakMemoryBytes: number;
  /**
   * The static memory plan runs replay while the input dims stay the same (see the `replay`
   * option): `bytes` the arena blocks it holds (the recorded run's values and its kernels'
   * scratch, where they were), `lowerBoundBytes` the most bytes of values live at any one
   * step, `replays` the runs it served. A `reason` instead when there is no plan.
   */
  runPlan: { bytes: number; lowerBoundBytes: number; replays: number } | { reason: string };
}

/**
 * Runs in a row that could not be planned or replayed (feed dims or a guarded value changed,
 * or the run kept memory) before the model stops recording.
 */
const MAX_PLAN_MISSES = 4;

/** Runs one node on constant inputs with the real op, for constant folding; never throws. */
function evaluateNode(
  node: Node,
  inputs: (Tensor | undefined)[],
  kernels: Kernels,
  registry: ReadonlyMap<string, Op>,
  opset: number,
): Tensor[] | undefined {
  const op = registry.get(node.op);
  if (!op || node.domain || (op.check?.(node, opset) ?? []).length) return undefined;
  // Data-movement and shape ops compute small outputs while inferring shapes: no kernel run.
  try {
    const infos = inputs.map((
      t,
    ) => (t ? { type: t.type, dims: [...t.dims], value: t } : undefined));
    const shapes = op.inferShapes(node, infos);
    const values = shapes.map((s) => (s as { value?: Tensor }).value);
    if (values.length && values.every((v) => v)) return values as Tensor[];
  } catch {
    return undefined;
  }
  const names = inputs.map((_, i) => `in${i}`);
  const graph = {
    name: `fold ${node.name}`,
    nodes: [{ ...node, inputs: node.inputs.map((n, i) => (n ? names[i] : "")) }],
    inputs: [],
    outputs: node.outputs.map((o) => ({ name: o, type: "float32" as const })),
    initializers: new Map(inputs.flatMap((t, i) => (t ? [[names[i], t] as const] : []))),
    valueInfo: new Map(),
  };
  let exec: GraphExecutor | undefined;
  try {
    exec = new GraphExecutor(graph, { kernels, registry, opset }, true);
    const out = exec.run(new Map());
    const ctx = { kernels };
    const tensors = node.outputs.map((o) => readHost(ctx, out.get(o)!));
    for (const v of out.values()) release(ctx, v);
    return tensors;
  } catch {
    return undefined;
  } finally {
    exec?.dispose();
  }
}

function infoOf(v: ValueInfo): TensorInfo {
  return { name: v.name, type: v.type, dims: v.dims ? [...v.dims] : [] };
}

/** A model ready to run. Create with `loadModel`. */
export class Model {
  readonly #kernels: Kernels;
  readonly #ir: IrModel;
  readonly #sparsity = new Map<string, number>();
  #exec: GraphExecutor | undefined;
  readonly #autoThreads: AutoThreads | undefined;
  /** What load (and, for If branches, their first run) folded and fused. */
  readonly #fused = { constants: 0, activations: 0, batchNorms: 0, residuals: 0 };
  /** Inputs declared as scalars (`dims` [] in `inputs` also stands for "no shape given"). */
  readonly #scalarInputs: ReadonlySet<string>;
  /** Inputs the caller feeds. */
  readonly inputs: readonly TensorInfo[];
  /** Outputs `run` returns. */
  readonly outputs: readonly TensorInfo[];
  /** Profile of the last run made with `{ profile: true }`. */
  lastProfile: NodeProfile[] | undefined;
  /** The recorded run that replays while feeds keep its dims (see run_plan.ts). */
  #plan: RunPlan | undefined;
  #replays = 0;
  /** Runs in a row that could not be planned or replayed; planning stops after a few. */
  #planMisses = 0;
  #planRefused: string | undefined;
  readonly #replay: boolean;

  /** Use `loadModel` (`ops` holds the implementation of every op type in the model). */
  constructor(
    ir: IrModel,
    kernels: Kernels,
    options: LoadModelOptions,
    ops: ReadonlyMap<string, Op>,
  ) {
    this.#kernels = kernels;
    this.#ir = ir;
    this.#replay = options.replay !== false;
    const fuse = options.fuse !== false;
    const opset = ir.opsets[""] ?? ir.opsets["ai.onnx"] ?? 13;
    const evaluate = (node: Node, inputs: (Tensor | undefined)[]) =>
      evaluateNode(node, inputs, kernels, ops, opset);
    // Each graph is folded and fused once, If branches when first taken: a branch no run
    // takes (silero VAD's 8 kHz model when fed 16 kHz audio) costs nothing at load.
    // Every node is checked before the passes read it (a fused activation's attributes are
    // read by the fuser, not the op): unsupported ops, attributes of the wrong kind and input
    // types an op does not take, at once.
    const bad = findUnsupported(ir.graph, ops, opset);
    bad.push(...findTypeProblems(ir.graph, ops, new Set(bad.map((b) => b.node))));
    if (bad.length) throw new UnsupportedOpError(bad);
    const deferred = new Map<Graph, ConstantScope>();
    const prepare = (graph: Graph, outer?: ConstantScope) => {
      this.#fused.constants += foldConstantNodes(graph, false) +
        foldConstantSubgraphs(graph, evaluate, outer, (g, scope) => deferred.set(g, scope));
      if (!fuse) return;
      // Order matters: BN folds into the bare conv, the residual joins before the activation.
      // A bias Add folded into a conv can bring a BatchNormalization next to it: again.
      for (let n = 1; n > 0;) {
        n = foldBatchNorms(graph) + foldBiasAdds(graph);
        this.#fused.batchNorms += n;
      }
      this.#fused.residuals += factorGatedResiduals(graph) + fuseResidualAdds(graph);
      this.#fused.activations += fuseActivations(graph);
    };
    prepare(ir.graph);
    const prepareBranch = (branch: Graph) => {
      const outer = deferred.get(branch);
      if (!outer) return;
      deferred.delete(branch);
      prepare(branch, outer);
    };
    this.#exec = new GraphExecutor(ir.graph, { kernels, registry: ops, opset, prepareBranch });
    this.#autoThreads = kernels.threads.requested === "auto" && kernels.pool
      ? new AutoThreads(kernels)
      : undefined;
    this.inputs = ir.graph.inputs.map(infoOf);
    this.#scalarInputs = new Set(
      ir.graph.inputs.filter((v) => v.dims?.length === 0).map((v) => v.name),
    );
    this.outputs = ir.graph.outputs.map(infoOf);
  }

  /** Names of the inputs. */
  get inputNames(): string[] {
    return this.inputs.map((i) => i.name);
  }

  /** Names of the outputs. */
  get outputNames(): string[] {
    return this.outputs.map((o) => o.name);
  }

  #checkFeed(info: TensorInfo, t: Tensor | undefined, symbols: Map<string, number>): Tensor {
    if (!t) {
      throw new InvalidArgumentError(`Missing input "${info.name}": pass a tensor for it to run()`);
    }
    if (!(t instanceof Tensor)) {
      throw new InvalidArgumentError(`Input "${info.name}" is not a Tensor`);
    }
    if (t.type !== info.type) {
      throw new DTypeError(
        `Input "${info.name}" must be "${info.type}", got "${t.type}": feed a ${info.type} tensor`,
      );
    }
    // A declared rank is checked, rank 0 (a scalar) too; an input without a shape takes any.
    if (
      (info.dims.length || this.#scalarInputs.has(info.name)) && t.dims.length !== info.dims.length
    ) {
      throw new ShapeError(
        `Input "${info.name}" must have rank ${info.dims.length} ([${info.dims.join(", ")}]), ` +
          `got [${t.dims.join(", ")}]`,
      );
    }
    info.dims.forEach((d, i) => {
      if (typeof d === "number" && d !== t.dims[i]) {
        throw new ShapeError(
          `Input "${info.name}" must have dims [${info.dims.join(", ")}], got [${
            t.dims.join(", ")
          }]`,
        );
      }
      if (typeof d === "string" && !d.startsWith("?")) {
        const seen = symbols.get(d);
        if (seen !== undefined && seen !== t.dims[i]) {
          throw new ShapeError(
            `Input "${info.name}": dimension "${d}" is ${t.dims[i]} here but ${seen} elsewhere`,
          );
        }
        symbols.set(d, t.dims[i]);
      }
    });
    return t;
  }

  /**
   * Runs the model. Feeds and results are keyed by input / output name.
   *
   * @example
   * ```ts ignore
   * const out = await model.run({ input: new Tensor("float32", data, [1, 3, 224, 224]) });
   * console.log(out[model.outputNames[0]].dims);
   * ```
   */
  run(feeds: Record<string, Tensor>, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    try {
      return Promise.resolve(this.runSync(feeds, options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `run` without the promise, for tight loops (streaming models). */
  runSync(feeds: Record<string, Tensor>, options: RunOptions = {}): Record<string, Tensor> {
    const exec = this.#exec;
    if (!exec) throw new QuartetError("This model was disposed: load it again to run it");
    checkOptions(options, ["profile"], "run()", { profile: [true, false] });
    if (typeof feeds !== "object" || feeds === null) {
      throw new InvalidArgumentError(
        "The feeds of run() must be an object of tensors keyed by input name",
      );
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.some((i) => i.name === name)) {
        throw new InvalidArgumentError(
          `Unknown input "${name}": the model's inputs are ${
            this.inputNames.map((n) => `"${n}"`).join(", ")
          }`,
        );
      }
    }
    const symbols = new Map<string, number>();
    for (const info of this.inputs) this.#checkFeed(info, feeds[info.name], symbols);
    // "auto" kept one thread: move to the unshared arena once it is ready.
    this.#kernels.unshare?.();
    const profile = options.profile ? [] as NodeProfile[] : undefined;
    const plan = this.#plan;
    if (plan && !profile) {
      const out = plan.fits(feeds) ? plan.replay(feeds) : undefined;
      if (out) {
        this.#replays++;
        this.#planMisses = 0;
        return out;
      }
      this.#dropPlan();
      this.#planMisses++;
    } else if (plan) this.#dropPlan();
    const arena = this.#kernels.arena;
    const values = new Map<string, Value>();
    const ctx = { kernels: this.#kernels };
    const recording =
      this.#replay && !profile && this.#planMisses < MAX_PLAN_MISSES && !this.#planRefused &&
        (!this.#autoThreads || this.#autoThreads.decided)
        ? new RunRecording()
        : undefined;
    let results: Map<string, Value> | undefined;
    let done = false;
    if (recording) arena.watch(recording);
    try {
      for (const info of this.inputs) {
        const t = feeds[info.name];
        const bytes = sizeOf(t.dims) * bytesPerElement(t.type);
        const offset = arena.alloc(bytes, `input "${info.name}"`);
        arena.u8(offset, bytes).set(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
        const value: Value = {
          type: t.type,
          dims: [...t.dims],
          offset,
          buffer: { offset, refs: 1 },
        };
        values.set(info.name, value);
        recording?.feed(info.name, value);
      }
      if (this.#autoThreads && !this.#autoThreads.decided && !profile) {
        const shapes = [...values.values()].map((v) => v.dims.join("x")).join(",");
        results = this.#autoThreads.run(shapes, () => exec.run(values));
      } else {
        results = exec.run(values, undefined, profile, recording);
      }
      this.lastProfile = profile;
      const out: Record<string, Tensor> = {};
      for (const [name, v] of results) out[name] = readHost(ctx, v);
      done = true;
      return out;
    } finally {
      for (const v of values.values()) release(ctx, v);
      for (const v of results?.values() ?? []) release(ctx, v);
      // Planned once the run's own blocks are free: the plan takes them back.
      if (recording) {
        arena.watch(undefined);
        if (done && results) {
          this.#plan = recording.plan(ctx, results);
          this.#planRefused = recording.refused;
          if (!this.#plan) this.#planMisses++;
        }
      }
    }
  }

  #noPlanReason(): string {
    if (!this.#replay) return "replay is off (loadModel option replay: false)";
    if (this.#planRefused) return `runs cannot be replayed: ${this.#planRefused}`;
    if (this.#planMisses >= MAX_PLAN_MISSES) {
      return `no plan after ${this.#planMisses} tries in a row: input dims or host-read values ` +
        "kept changing, or runs kept allocating memory they hold on to";
    }
    return "not recorded yet: a plan comes from a run that keeps no new memory " +
      "(usually the second run with the same input dims)";
  }

  #dropPlan(): void {
    this.#plan?.dispose();
    this.#plan = undefined;
  }

  /** Ops, parameters, fusions, kernel build and memory. */
  summary(): ModelSummary {
    const ops: Record<string, number> = {};
    for (const n of this.#ir.graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
    let parameters = 0;
    for (const t of this.#ir.graph.initializers.values()) parameters += t.size;
    return {
      kernels: { variant: this.#kernels.variant, reason: this.#kernels.reason },
      threads: { ...this.#kernels.threads },
      ops,
      parameters,
      fusedActivations: this.#fused.activations,
      foldedConstants: this.#fused.constants,
      foldedBatchNorms: this.#fused.batchNorms,
      fusedResiduals: this.#fused.residuals,
      layers: this.#ir.graph.nodes.map((n) => ({
        node: n.name,
        op: n.op,
        ...(n.attributes.fused_activation ? { fused: String(n.attributes.fused_activation) } : {}),
        ...this.#weightsOf(n),
      })),
      kernelChoices: [...this.#kernels.choices],
      peakMemoryBytes: this.#kernels.arena.peakBytes,
      runPlan: this.#plan
        ? {
          bytes: this.#plan.bytes,
          lowerBoundBytes: this.#plan.liveBytes,
          replays: this.#replays,
        }
        : { reason: this.#noPlanReason() },
    };
  }

  /** A node's float weight initializer (input 1) and its share of zeros, computed once. */
  #weightsOf(n: Node): { weights?: string; sparsity?: number } {
    const name = n.inputs[1];
    const w = name ? this.#ir.graph.initializers.get(name) : undefined;
    if (!w || w.type !== "float32" || w.size < 16) return {};
    let sparsity = this.#sparsity.get(name);
    if (sparsity === undefined) {
      let zeros = 0;
      for (const v of w.data as Float32Array) if (v === 0) zeros++;
      sparsity = zeros / w.size;
      this.#sparsity.set(name, sparsity);
    }
    return { weights: name, sparsity };
  }

  /** Frees the model's memory. The model cannot run afterwards. */
  dispose(): void {
    this.#dropPlan();
    this.#exec?.dispose();
    this.#exec = undefined;
    this.#kernels.arena.reset();
    disposeKernels(this.#kernels);
  }
}

/**
 * A model source: bytes (ONNX or a Quartet sparse package), a file path, a URL, or an already
 * decoded IR model.
 */
export type ModelSource = Uint8Array | ArrayBuffer | string | URL | IrModel;

/**
 * Loads a model: ONNX bytes, a path or URL of an `.onnx` file, of a Quartet sparse package
 * (`.qsp`, see `packSparseModel`; recognised by its first bytes) or of a TF.js layers
 * `model.json`, or a decoded IR model.
 *
 * @example
 * ```ts ignore
 * import { loadModel, Tensor } from "../mod.ts";
 * const model = await loadModel("silero_vad.onnx");
 * console.log(model.inputNames, model.outputNames);
 * ```
 */
export async function loadModel(
  source: ModelSource,
  options: LoadModelOptions = {},
): Promise<Model> {
  checkOptions(options, LOAD_MODEL_OPTIONS, "loadModel()", {
    fuse: [true, false],
    replay: [true, false],
    sparse: ["auto", "off"],
  });
  // The kernels compile (off the main thread) while the model is read and decoded.
  const loadingKernels = loadKernels(options);
  // Its error (a bad option) surfaces where it is awaited below, not as an unhandled rejection.
  loadingKernels.catch(() => {});
  let ir: IrModel;
  let ops: Map<string, Op>;
  try {
    ir = await decodeSource(source);
    // The op files the model runs load while the kernels finish compiling.
    const types = new Set<string>();
    forEachGraph(ir.graph, (g) => g.nodes.forEach((n) => types.add(n.op)));
    [ops] = await Promise.all([
      loadOps(types),
      options.sparse !== "off" && hasSparseWeights(ir) ? loadSparsePackers() : undefined,
    ]);
  } catch (e) {
    loadingKernels.then(disposeKernels, () => {});
    throw e;
  }
  const kernels = await loadingKernels;
  try {
    // A bad float16 weight is reported at load, not at the first run.
    checkFloat16Weights(ir);
    setGemvWeights(kernels, options.gemvWeights, modelWeightBytes(ir));
    return new Model(ir, kernels, options, ops);
  } catch (e) {
    disposeKernels(kernels);
    throw e;
  }
}

/** Reads and decodes a model source into the IR (see `ModelSource`). */
async function decodeSource(source: ModelSource): Promise<IrModel> {
  // A TF.js model.json, also as a URL with a query or fragment (model.json?v=2).
  if (
    (typeof source === "string" || source instanceof URL) &&
    /\.json$/i.test(String(source).replace(/[?#].*$/, ""))
  ) {
    // A TensorFlow.js layers model (model.json + weight shards beside it).
    const { loadTfjsLayers } = await import("./formats/tfjs/layers.ts");
    return await loadTfjsLayers(source);
  }
  if (
    !(source instanceof Uint8Array || source instanceof ArrayBuffer ||
      typeof source === "string" || source instanceof URL)
  ) {
    if (typeof source !== "object" || source === null || typeof source.graph !== "object") {
      throw new InvalidArgumentError(
        `Cannot load a model from ${
          source === null ? "null" : typeof source
        }: loadModel() takes model bytes, a path or URL, or a decoded model`,
      );
    }
    return source;
  }
  const isPath = typeof source === "string" || source instanceof URL;
  // The file is read while the ONNX importer loads.
  const [bytes, onnx] = await Promise.all([
    source instanceof Uint8Array
      ? source
      : source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : readSource(source),
    import("./formats/onnx/mod.ts"),
  ]);
  const name = isPath ? String(source) : "model";
  if (isSparsePackage(bytes)) {
    const { unpackSparsePackage } = await import("./formats/sparse_package/unpack.ts");
    return await unpackSparsePackage(bytes, name);
  }
  return await onnx.decodeOnnx(bytes, {
    name,
    loadExternal: isPath ? externalReader(source) : undefined,
  });
}

/**
 * Reads byte ranges of files that sit next to the model (ONNX external data), each file once
 * however many tensors it holds.
 */
function externalReader(model: string | URL) {
  const files = new Map<string, Promise<Uint8Array>>();
  return async (location: string, offset: number, length: number | undefined) => {
    checkBesideName(location, "External data location");
    let file = files.get(location);
    if (!file) {
      file = readSource(siblingSource(model, location), "external data");
      files.set(location, file);
    }
    const bytes = await file;
    const end = length === undefined ? bytes.length : offset + length;
    if (end > bytes.length) {
      throw new ModelFormatError(
        `External data "${location}" has ${bytes.length} bytes, the model asks for ${offset}..${end}: ` +
          "check the file is complete",
      );
    }
    return bytes.subarray(offset, end);
  };
}
