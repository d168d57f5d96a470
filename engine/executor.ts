/**
 * Runs an IR graph on the kernels: checks every node up front (all unsupported nodes reported
 * at once), prepares weights on first use, infers shapes as values flow, and frees each
 * intermediate at its last use so the arena's first-fit allocator reuses memory.
 *
 * Control flow: `If` runs the chosen branch graph with the enclosing values in scope.
 *
 * @module
 */
import { DTypeError, ShapeError, type UnsupportedNode, UnsupportedOpError } from "./errors.ts";
import { capturedNames, type Graph, isGraph, type Node, subgraphs } from "./ir/graph.ts";
import { attributeProblems } from "./ops/attribute_kinds.ts";
import { inferenceReadsValue, nodeLabel } from "./ops/_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OpContext, OutputInfo } from "./ops/op.ts";
import { arrayTypeOf, bytesPerElement, checkDims, sizeOf, Tensor } from "./tensor.ts";
import type { Kernels } from "./wasm/kernels.ts";

/** A value during a run: where it lives and who owns its memory. */
export interface Value extends ArenaTensor {
  /** Shared buffer bookkeeping; undefined for memory the executor does not own. */
  buffer?: Buffer;
  /** Host copy, when known (constants, small integer tensors). */
  host?: Tensor;
  /** An initializer: fixed for the model's life, so `prepare` may pack it once. */
  constant?: boolean;
}

/** An arena block shared by values that alias it (Reshape and friends). */
export interface Buffer {
  offset: number;
  refs: number;
}

/** Per-node timing and facts from a profiled run. */
export interface NodeProfile {
  /** Node name. */
  node: string;
  /** Operator type. */
  op: string;
  /** Wall time, ms. */
  ms: number;
  /** Output dims. */
  outputs: number[][];
}

/** Watches a run so that it can be replayed without the executor (see run_plan.ts). */
export interface RunRecorder {
  /** An op is about to run: what it allocates until `step` is its scratch. */
  beginStep(): void;
  /**
   * An op ran on these values (after `prepare` made `state`); `used[i]`: shape inference
   * read input i's contents.
   */
  step(
    op: Op,
    node: Node,
    inputs: (Value | undefined)[],
    outputs: Value[],
    state: unknown,
    used: boolean[],
  ): void;
  /** `to` was filled with a copy of `from`. */
  copy(from: Value, to: Value): void;
  /** The run read `value`'s contents on the host, and what came next depends on them. */
  guard(value: Value, seen: Tensor): void;
  /** The run did something a replay cannot repeat. */
  refuse(reason: string): void;
}

/** Options shared by an executor and its subgraph executors. */
export interface ExecutorOptions {
  /** The kernels and arena. */
  kernels: Kernels;
  /** Operator implementations by type. */
  registry: ReadonlyMap<string, Op>;
  /** Default-domain opset of the model. */
  opset: number;
  /** Readies an If branch (folding, fusion) before it first runs. */
  prepareBranch?: (branch: Graph) => void;
}

/** Control-flow ops the executor runs itself. */
const CONTROL_FLOW = new Set(["If"]);

/** Every reason the graph (and its subgraphs) cannot run. */
export function findUnsupported(
  graph: Graph,
  registry: ReadonlyMap<string, Op>,
  opset: number,
): UnsupportedNode[] {
  const out: UnsupportedNode[] = [];
  for (const n of graph.nodes) {
    if (n.domain && n.domain !== "ai.onnx" && n.domain !== "quartet") {
      out.push({
        node: n.name,
        op: n.op,
        reason: `operator domain "${n.domain}" is not supported`,
      });
      continue;
    }
    if (CONTROL_FLOW.has(n.op)) {
      // If: both branches, each giving what the node outputs.
      for (const key of ["then_branch", "else_branch"]) {
        const g = n.attributes[key];
        const reason = !isGraph(g)
          ? `${key} is missing`
          : g.outputs.length !== n.outputs.length
          ? `${key} has ${g.outputs.length} outputs, the node ${n.outputs.length}`
          : undefined;
        if (reason) out.push({ node: n.name, op: n.op, reason });
      }
      for (const g of subgraphs(n)) out.push(...findUnsupported(g, registry, opset));
      continue;
    }
    const op = registry.get(n.op);
    if (!op) {
      out.push({ node: n.name, op: n.op, reason: "operator not implemented" });
      continue;
    }
    for (const reason of attributeProblems(n)) out.push({ node: n.name, op: n.op, reason });
    for (const reason of op.check?.(n, opset) ?? []) out.push({ node: n.name, op: n.op, reason });
  }
  return out;
}

/** Executes one graph; subgraphs get executors of their own. */
export class GraphExecutor {
  readonly graph: Graph;
  readonly #opt: ExecutorOptions;
  readonly #ctx: OpContext;
  /** Index of the last node reading each value (graph outputs never expire). */
  readonly #lastUse = new Map<string, number>();
  readonly #outputs: Set<string>;
  readonly #states = new Map<Node, { state: unknown }>();
  readonly #constants = new Map<string, Value>();
  readonly #branches = new Map<Graph, GraphExecutor>();
  readonly #shapes = new Map<Node, ShapeCache>();
  /** Per node: the values whose last reader it is, and its outputs nobody reads. */
  readonly #drops: string[][];
  /** Watches the current run, when it is being recorded. */
  #recorder: RunRecorder | undefined;

  /** Builds the executor; throws UnsupportedOpError listing every node that cannot run. */
  constructor(graph: Graph, options: ExecutorOptions, checked = false) {
    this.graph = graph;
    this.#opt = options;
    this.#ctx = { kernels: options.kernels };
    if (!checked) {
      const bad = findUnsupported(graph, options.registry, options.opset);
      if (bad.length) throw new UnsupportedOpError(bad);
    }
    this.#outputs = new Set(graph.outputs.map((o) => o.name));
    graph.nodes.forEach((n, i) => {
      for (const name of n.inputs) if (name) this.#lastUse.set(name, i);
      for (const g of subgraphs(n)) {
        for (const name of capturedNames(g)) this.#lastUse.set(name, i);
      }
    });
    this.#drops = graph.nodes.map((n, i) => {
      const names = new Set<string>();
      for (const name of n.inputs) if (name && this.#lastUse.get(name) === i) names.add(name);
      // Values an If branch reads from this scope die with the If when it is their last reader.
      for (const g of subgraphs(n)) {
        for (const name of capturedNames(g)) {
          if (this.#lastUse.get(name) === i) names.add(name);
        }
      }
      for (const name of n.outputs) if (name && !this.#lastUse.has(name)) names.add(name);
      return [...names];
    });
  }

  #constant(name: string): Value | undefined {
    const cached = this.#constants.get(name);
    if (cached) return cached;
    const t = this.graph.initializers.get(name);
    if (!t) return undefined;
    const arena = this.#opt.kernels.arena;
    const bytes = t.data.byteLength;
    const offset = arena.alloc(bytes, `initializer "${name}"`);
    arena.u8(offset, bytes).set(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
    const v: Value = { type: t.type, dims: [...t.dims], offset, host: t, constant: true };
    this.#constants.set(name, v);
    return v;
  }

  /**
   * What shape inference sees of a value. A small value's contents are read from the arena
   * only if inference asks for them (`used[i]` then says so), while the value is still live.
   */
  #info(v: Value, used: boolean[], i: number): InputInfo {
    if (v.host) {
      const host = v.host;
      return {
        type: v.type,
        dims: v.dims,
        get value() {
          used[i] = true;
          return host;
        },
      };
    }
    if (!inferenceReadsValue(v.type, sizeOf(v.dims))) return { type: v.type, dims: v.dims };
    const ctx = this.#ctx;
    return {
      type: v.type,
      dims: v.dims,
      get value() {
        used[i] = true;
        return (v.host ??= readHost(ctx, v));
      },
    };
  }

  /**
   * Runs the graph. `feeds` are values the caller owns (not freed here); `outer` resolves
   * names from enclosing graphs. Returns the graph outputs; their buffers pass to the caller
   * (free them with `release`). A `recorder` sees every op call, copy and host read.
   */
  run(
    feeds: Map<string, Value>,
    outer?: (name: string) => Value | undefined,
    profile?: NodeProfile[],
    recorder?: RunRecorder,
  ): Map<string, Value> {
    this.#recorder = recorder;
    try {
      return this.#run(feeds, outer, profile);
    } finally {
      this.#recorder = undefined;
    }
  }

  #run(
    feeds: Map<string, Value>,
    outer?: (name: string) => Value | undefined,
    profile?: NodeProfile[],
  ): Map<string, Value> {
    const env = new Map<string, Value>(feeds);
    const lookup = (name: string): Value | undefined =>
      env.get(name) ?? this.#constant(name) ?? outer?.(name);
    const drop = (name: string) => {
      const v = env.get(name);
      if (!v || feeds.has(name) || this.#outputs.has(name)) return;
      env.delete(name);
      release(this.#ctx, v);
    };
    try {
      const nodes = this.graph.nodes;
      for (let index = 0; index < nodes.length; index++) {
        const node = nodes[index];
        const t0 = profile ? performance.now() : 0;
        const inputs: (Value | undefined)[] = new Array(node.inputs.length);
        for (let i = 0; i < node.inputs.length; i++) {
          const name = node.inputs[i];
          if (!name) continue;
          const v = lookup(name);
          if (!v) throw new ShapeError(`${nodeLabel(node)}: input "${name}" has no value`);
          inputs[i] = v;
        }
        const produced = node.op === "If"
          ? this.#runIf(node, inputs, lookup, profile)
          : this.#runOp(node, inputs);
        for (let i = 0; i < produced.length; i++) {
          const name = node.outputs[i];
          const p = produced[i];
          if (!p) continue;
          if (name) env.set(name, p);
          else release(this.#ctx, p);
        }
        if (profile) {
          profile.push({
            node: node.name,
            op: node.op,
            ms: performance.now() - t0,
            outputs: produced.map((p) => p.dims),
          });
        }
        for (const name of this.#drops[index]) drop(name);
      }
      const out = new Map<string, Value>();
      for (const o of this.graph.outputs) {
        if (out.has(o.name)) continue; // listed twice: results are keyed by name
        const own = feeds.has(o.name) ? undefined : env.get(o.name);
        if (own?.buffer) {
          out.set(o.name, own);
          env.delete(o.name);
          continue;
        }
        // A feed, a constant or an enclosing graph's value is copied so the caller owns it.
        const v = lookup(o.name);
        if (!v) throw new ShapeError(`Graph "${this.graph.name}": output "${o.name}" has no value`);
        const copy = copyValue(this.#ctx, v, o.name);
        this.#recorder?.copy(v, copy);
        out.set(o.name, copy);
      }
      return out;
    } catch (e) {
      for (const [name, v] of env) if (!feeds.has(name)) release(this.#ctx, v);
      throw e;
    }
  }

  #runOp(node: Node, inputs: (Value | undefined)[]): Value[] {
    const op = this.#opt.registry.get(node.op)!;
    const used = new Array<boolean>(inputs.length).fill(false);
    const infos = inputs.map((v, i) => (v ? this.#info(v, used, i) : undefined));
    // Shapes depend only on input dims and the values of small inputs: reuse them while those
    // repeat (streaming models call the same shapes every run).
    const before = this.#shapes.get(node);
    // A recorded run computes known outputs again, so that the replay has the step.
    const reuse = before !== undefined && !DATA_DEPENDENT.has(node.op) &&
      !(before.known && this.#recorder) && sameInputs(before, infos);
    let cached: ShapeCache;
    if (reuse) cached = before;
    else {
      if (before?.known) { for (const v of before.known) release(this.#ctx, v); }
      const shapes = op.inferShapes(node, infos);
      // An absurd output (huge pads, scales, repeats) stops here with the node's name, before
      // any op sizes a buffer or a loop from it.
      for (const s of shapes) checkDims(s.dims, nodeLabel(node));
      cached = { inputs: infos as InputInfo[], used, shapes };
      this.#shapes.set(node, cached);
    }
    if (this.#recorder) this.#guardShapeValues(node, inputs, infos, cached.used);
    if (cached.known) {
      // Every output was known from the same inputs last time (shape arithmetic): reuse it.
      for (const v of cached.known) if (v.buffer) v.buffer.refs++;
      return cached.known;
    }
    const shapes = cached.shapes;
    let prepared = this.#states.get(node);
    if (!prepared) {
      // Only initializers are packed once: a small computed value is known this run, not fixed.
      const fixed = infos.map((info, i) =>
        info && !inputs[i]!.constant ? { type: info.type, dims: info.dims } : info
      );
      prepared = { state: op.prepare?.(this.#ctx, node, fixed) };
      this.#states.set(node, prepared);
    }
    const arena = this.#opt.kernels.arena;
    const alias = (op as { aliasesInput?: number }).aliasesInput;
    const outputs: Value[] = [];
    try {
      shapes.forEach((s, i) => {
        const src = i === 0 && alias !== undefined ? inputs[alias] : undefined;
        if (src && bytesPerElement(src.type) === bytesPerElement(s.type)) {
          // Views share the input's block; the block lives until every holder is gone.
          if (src.buffer) src.buffer.refs++;
          outputs.push({ type: s.type, dims: s.dims, offset: src.offset, buffer: src.buffer });
          return;
        }
        const bytes = sizeOf(s.dims) * bytesPerElement(s.type);
        const offset = arena.alloc(
          bytes,
          `output "${node.outputs[i]}" of node "${node.name}" (${node.op})`,
        );
        // A value the op already knew while inferring shapes spares reading it back later.
        const host = (s as { value?: Tensor }).value;
        outputs.push({ type: s.type, dims: s.dims, offset, buffer: { offset, refs: 1 }, host });
      });
      this.#recorder?.beginStep();
      op.run(this.#ctx, node, inputs, outputs, prepared.state);
      if (this.#recorder) {
        this.#recorder.step(op, node, inputs, outputs, prepared.state, cached.used);
        if (DATA_DEPENDENT.has(node.op)) {
          this.#recorder.refuse(`${nodeLabel(node)}: output dims depend on the data`);
        }
      }
      // A recorded run keeps nothing: its blocks become the plan's.
      const keep = !this.#recorder && !DATA_DEPENDENT.has(node.op);
      if (keep && outputs.length && outputs.every((o) => o.host)) {
        // Outputs fixed by the inputs' shapes and small values: keep them for the next runs.
        for (const o of outputs) if (o.buffer) o.buffer.refs++;
        cached.known = outputs;
      }
    } catch (e) {
      for (const o of outputs) release(this.#ctx, o);
      throw e;
    }
    return outputs;
  }

  /**
   * Guards (for a replay) the values this node's output dims may depend on: integer and bool
   * values inference read (shapes, axes, pads, counts), and the float parameters of the ops
   * whose output size they set. Other values inference read were only folded on the host,
   * and the replay computes them again.
   */
  #guardShapeValues(
    node: Node,
    inputs: (Value | undefined)[],
    infos: (InputInfo | undefined)[],
    used: boolean[],
  ): void {
    for (let i = 0; i < used.length; i++) {
      const v = inputs[i];
      if (!used[i] || !v || v.constant) continue;
      if (v.type.startsWith("float") && !FLOAT_SHAPE_PARAMETERS.has(node.op)) continue;
      this.#recorder!.guard(v, infos[i]!.value!);
    }
  }

  #runIf(
    node: Node,
    inputs: (Value | undefined)[],
    lookup: (name: string) => Value | undefined,
    profile?: NodeProfile[],
  ): Value[] {
    const cond = inputs[0];
    if (!cond || sizeOf(cond.dims) !== 1) {
      throw new ShapeError(`${nodeLabel(node)}: the condition must be a single value`);
    }
    if (cond.type !== "bool") {
      throw new DTypeError(`${nodeLabel(node)}: the condition is "${cond.type}", not "bool"`);
    }
    const flag = this.#opt.kernels.arena.u8(cond.offset, 1)[0] !== 0;
    this.#recorder?.guard(cond, readHost(this.#ctx, cond));
    const branch = node.attributes[flag ? "then_branch" : "else_branch"];
    if (!isGraph(branch)) {
      throw new ShapeError(`${nodeLabel(node)}: missing ${flag ? "then" : "else"}_branch`);
    }
    let exec = this.#branches.get(branch);
    if (!exec) {
      this.#opt.prepareBranch?.(branch);
      exec = new GraphExecutor(branch, this.#opt, true);
      this.#branches.set(branch, exec);
    }
    const results = exec.run(new Map(), lookup, profile, this.#recorder);
    // A value the branch outputs twice goes to two node outputs: each gets its own buffer.
    const given = new Set<string>();
    return branch.outputs.map((o) => {
      const v = results.get(o.name)!;
      if (!given.has(o.name)) {
        given.add(o.name);
        return v;
      }
      const copy = copyValue(this.#ctx, v, o.name);
      this.#recorder?.copy(v, copy);
      return copy;
    });
  }

  /** Frees prepared weights and uploaded constants. */
  dispose(): void {
    for (const [node, p] of this.#states) {
      this.#opt.registry.get(node.op)?.release?.(this.#ctx, p.state);
    }
    this.#states.clear();
    for (const c of this.#shapes.values()) for (const v of c.known ?? []) release(this.#ctx, v);
    this.#shapes.clear();
    for (const v of this.#constants.values()) this.#opt.kernels.arena.free(v.offset);
    this.#constants.clear();
    for (const b of this.#branches.values()) b.dispose();
    this.#branches.clear();
  }
}

/** Shape inference results of one node, for the inputs they were computed from. */
interface ShapeCache {
  inputs: InputInfo[];
  /** Which inputs' values inference read (the others only matter by type and dims). */
  used: boolean[];
  shapes: OutputInfo[];
  /**
   * Outputs whose values shape inference knew (shape arithmetic on small tensors): the same
   * inputs give the same values, so later runs reuse these buffers instead of running the op.
   */
  known?: Value[];
}

/** Ops whose output dims may depend on the values of float inputs (scales, ranges). */
const FLOAT_SHAPE_PARAMETERS = new Set(["Resize", "Upsample", "Range"]);

/** Ops whose output shape depends on the values of large inputs: never cached. */
const DATA_DEPENDENT = new Set(["NonZero"]);

/**
 * Whether shape inference would see the same inputs as last time: types, dims and the values
 * of known inputs (shape tensors and other small values read back from the arena).
 */
function sameInputs(cache: ShapeCache, now: readonly (InputInfo | undefined)[]): boolean {
  const before = cache.inputs;
  if (before.length !== now.length) return false;
  for (let i = 0; i < now.length; i++) {
    const a = before[i];
    const b = now[i];
    if (!a || !b) {
      if (a !== b) return false;
      continue;
    }
    if (a.type !== b.type || a.dims.length !== b.dims.length) return false;
    for (let d = 0; d < b.dims.length; d++) if (a.dims[d] !== b.dims[d]) return false;
    if (!cache.used[i]) continue;
    // Constants (weights) are the same host tensor every run; values read back from the arena
    // (small int tensors) are fresh and compared element by element.
    const av = a.value;
    const bv = b.value;
    if (av === bv) continue;
    if (!av || !bv) return false;
    if (av.size !== bv.size) return false;
    for (let k = 0; k < bv.size; k++) if (av.data[k] !== bv.data[k]) return false;
  }
  return true;
}

/** Drops one hold on a value's block, freeing it with the last one. */
export function release(ctx: OpContext, v: Value): void {
  if (!v.buffer) return;
  v.buffer.refs--;
  if (v.buffer.refs === 0) ctx.kernels.arena.free(v.buffer.offset);
}

function copyValue(ctx: OpContext, v: Value, name: string): Value {
  const bytes = sizeOf(v.dims) * bytesPerElement(v.type);
  const arena = ctx.kernels.arena;
  const offset = arena.alloc(bytes, `output "${name}"`);
  arena.u8(offset, bytes).set(arena.u8(v.offset, bytes));
  return { type: v.type, dims: v.dims, offset, buffer: { offset, refs: 1 } };
}

/** Copies a value out of the arena into a host tensor. */
export function readHost(ctx: OpContext, v: ArenaTensor): Tensor {
  const n = sizeOf(v.dims);
  const view = new (arrayTypeOf(v.type))(
    ctx.kernels.arena.memory.buffer as ArrayBuffer,
    v.offset,
    n,
  );
  return new Tensor(v.type, view.slice() as Tensor["data"], v.dims);
}
