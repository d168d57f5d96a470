/**
 * Record a run once, replay it many times: the static memory plan of a model for one set of
 * input dims.
 *
 * The executor works out every node's shapes, allocates each value, and frees it at its last
 * use. On a streaming model (a VAD chunk every 32 ms) that bookkeeping costs more than the
 * arithmetic. So one run is recorded: the op calls in order with their arena offsets, the
 * copies, every block the run allocated (values and the ops' scratch), and every value whose
 * contents decided a shape or a branch (a fed sample rate, a Reshape's shape, an `If`
 * condition). The plan then takes those blocks back from the arena where they were, so the
 * offsets stay valid and the arena's peak does not move, and a replay only writes the feeds,
 * calls the ops (their scratch allocations get the recorded blocks in order) and reads the
 * outputs.
 *
 * A replay is only valid when the run would go the same way: the feeds have the recorded
 * dims, and every guarded value holds the recorded contents. Each guard sits right after the
 * step producing its value, before anyone reads it; when one fails, the replay stops and the
 * model runs the executor instead (the steps so far only wrote the plan's own blocks).
 *
 * @module
 */
import { type Buffer, readHost, type RunRecorder, type Value } from "./executor.ts";
import type { Node } from "./ir/graph.ts";
import type { ArenaTensor, Op, OpContext } from "./ops/op.ts";
import { type ArenaWatcher, blockBytes } from "./wasm/arena.ts";
import { arrayTypeOf, bytesPerElement, sizeOf, type Tensor } from "./tensor.ts";

type Recorded =
  | {
    kind: "step";
    op: Op;
    node: Node;
    inputs: (Value | undefined)[];
    outputs: Value[];
    state: unknown;
    used: boolean[];
    /** The outputs' values when shape inference computed them (read later is not the same). */
    known: (Tensor | undefined)[];
  }
  | { kind: "copy"; from: Value; to: Value }
  | { kind: "guard"; value: Value; seen: Tensor };

type Action =
  | {
    kind: "step";
    op: Op;
    node: Node;
    inputs: (ArenaTensor | undefined)[];
    outputs: ArenaTensor[];
    state: unknown;
  }
  | { kind: "copy"; from: number; to: number; bytes: number }
  | { kind: "write"; to: number; bytes: Uint8Array }
  | { kind: "guard"; at: ArenaTensor; seen: Tensor };

/**
 * Collects what one executor run did (see `GraphExecutor.run`), and, watching the arena,
 * every block the run allocated: its values and its ops' scratch.
 */
export class RunRecording implements RunRecorder, ArenaWatcher {
  readonly #events: Recorded[] = [];
  readonly #feeds = new Map<string, Value>();
  #refused: string | undefined;
  /** Every block allocated during the run, and those not freed yet. */
  readonly #blocks: [number, number][] = [];
  readonly #held = new Map<number, number>();
  /** Blocks ops allocated while running, in order: `[offset, size, …]`. */
  readonly #scratch: number[] = [];
  #inStep = false;

  alloc(offset: number, bytes: number): void {
    this.#blocks.push([offset, bytes]);
    this.#held.set(offset, bytes);
    if (this.#inStep) this.#scratch.push(offset, bytes);
  }

  free(offset: number): void {
    this.#held.delete(offset);
  }

  beginStep(): void {
    this.#inStep = true;
  }

  /** A fed input, written before the run. */
  feed(name: string, value: Value): void {
    this.#feeds.set(name, value);
  }

  step(
    op: Op,
    node: Node,
    inputs: (Value | undefined)[],
    outputs: Value[],
    state: unknown,
    used: boolean[],
  ): void {
    this.#inStep = false;
    this.#events.push({
      kind: "step",
      op,
      node,
      inputs: [...inputs],
      outputs: [...outputs],
      state,
      used: [...used],
      known: outputs.map((o) => o.host),
    });
  }

  copy(from: Value, to: Value): void {
    this.#events.push({ kind: "copy", from, to });
  }

  guard(value: Value, seen: Tensor): void {
    this.#events.push({ kind: "guard", value, seen });
  }

  refuse(reason: string): void {
    this.#refused ??= reason;
  }

  /** Why the run cannot be replayed, if it cannot. */
  get refused(): string | undefined {
    return this.#refused;
  }

  /**
   * Builds the plan over the run's `outputs` (as the executor returned them), once the run's
   * blocks are free: the plan takes them back from the arena, so its values and its ops'
   * scratch keep the places they had and the arena's peak does not move. Undefined when the
   * run cannot be replayed, or when it kept a block (a first run packs weights as it goes:
   * the next run can be planned).
   */
  plan(ctx: OpContext, outputs: ReadonlyMap<string, Value>): RunPlan | undefined {
    if (this.#refused || this.#held.size) return undefined;
    // The run's own blocks (feeds, op outputs, copies) and the steps each is live in: feeds
    // at step 0, event i at step i + 1, the outputs read at the end.
    const lives = new Map<Buffer, { bytes: number; first: number; last: number }>();
    const producer = new Map<Value, number>();
    const own = (v: Value, at: number) => {
      if (!v.buffer || lives.has(v.buffer)) return;
      const bytes = blockBytes(sizeOf(v.dims) * bytesPerElement(v.type));
      lives.set(v.buffer, { bytes, first: at, last: at });
    };
    const use = (v: Value | undefined, at: number) => {
      const life = v?.buffer && lives.get(v.buffer);
      if (life) life.last = Math.max(life.last, at);
    };
    for (const v of this.#feeds.values()) {
      own(v, 0);
      producer.set(v, 0);
    }
    this.#events.forEach((e, i) => {
      const at = i + 1;
      if (e.kind === "step") {
        for (const v of e.inputs) use(v, at);
        const read = new Set(e.inputs.map((v) => v?.buffer));
        for (const o of e.outputs) {
          // An output sharing an input's block is a view living in that block; a view of a
          // block from an earlier run (a cached value) stays where it is.
          if (o.buffer && !read.has(o.buffer)) own(o, at);
          use(o, at);
          producer.set(o, at);
        }
      } else if (e.kind === "copy") {
        use(e.from, at);
        own(e.to, at);
        producer.set(e.to, at);
      }
    });
    const end = this.#events.length + 1;
    for (const v of outputs.values()) use(v, end);

    const blocks = claimBlocks(ctx, this.#blocks);
    if (!blocks) return undefined;
    const at = (v: Value): ArenaTensor => ({ type: v.type, dims: v.dims, offset: v.offset });

    // Guards move up to right after the step producing the value; values from earlier runs
    // (constants, cached shape values) never change while the plan lives.
    const guardsAfter = new Map<number, Action[]>();
    for (const e of this.#events) {
      if (e.kind !== "guard") continue;
      const p = producer.get(e.value);
      if (p === undefined) continue;
      const list = guardsAfter.get(p) ?? [];
      list.push({ kind: "guard", at: at(e.value), seen: e.seen });
      guardsAfter.set(p, list);
    }
    // Shape arithmetic (Shape, Gather on dims, Concat of them…) gives the same values in every
    // valid replay: its inputs are constants, guarded or such values themselves, and shape
    // inference computed its outputs. The replay writes those bytes instead of running it.
    const fixed = new Set<Value>();
    for (const e of this.#events) if (e.kind === "guard") fixed.add(e.value);
    const isFixed = (v: Value | undefined, used: boolean) =>
      !v || !used || v.constant || fixed.has(v);
    const actions: Action[] = [...(guardsAfter.get(0) ?? [])];
    this.#events.forEach((e, i) => {
      if (
        e.kind === "step" && e.known.every((t) => t) &&
        e.inputs.every((v, k) => isFixed(v, e.used[k]))
      ) {
        e.outputs.forEach((o, k) => {
          fixed.add(o);
          const d = e.known[k]!.data;
          actions.push({
            kind: "write",
            to: o.offset,
            bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice(),
          });
        });
      } else if (e.kind === "step") {
        actions.push({
          kind: "step",
          op: e.op,
          node: e.node,
          inputs: e.inputs.map((v) => (v ? at(v) : undefined)),
          outputs: e.outputs.map(at),
          state: e.state,
        });
      } else if (e.kind === "copy") {
        actions.push({
          kind: "copy",
          from: e.from.offset,
          to: e.to.offset,
          bytes: sizeOf(e.to.dims) * bytesPerElement(e.to.type),
        });
      }
      actions.push(...(guardsAfter.get(i + 1) ?? []));
    });
    const feeds = [...this.#feeds].map(([name, v]) => ({ name, at: at(v) }));
    const results = [...outputs].map(([name, v]) => ({ name, at: at(v) }));
    return new RunPlan(ctx, blocks, mostLive([...lives.values()]), {
      feeds,
      actions,
      results,
      scratch: this.#scratch,
    });
  }
}

/**
 * Takes back from the arena the union of the run's blocks (they overlap where a block was
 * reused after an earlier one's last use). Undefined, with nothing taken, if any is in use.
 */
function claimBlocks(ctx: OpContext, blocks: [number, number][]): [number, number][] | undefined {
  const sorted = blocks.map(([o, n]) => [o, o + n]).sort((a, b) => a[0] - b[0]);
  const union: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = union[union.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else union.push([s, e]);
  }
  const arena = ctx.kernels.arena;
  const claimed: [number, number][] = [];
  for (const [s, e] of union) {
    if (!arena.claim(s, e - s)) {
      for (const [o] of claimed) arena.free(o);
      return undefined;
    }
    claimed.push([s, e - s]);
  }
  return claimed;
}

/** The most bytes live at one step: what any placement of the run's values needs. */
function mostLive(lives: { bytes: number; first: number; last: number }[]): number {
  const events: [number, number][] = [];
  for (const l of lives) events.push([l.first, l.bytes], [l.last + 1, -l.bytes]);
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let live = 0;
  let most = 0;
  for (const [, d] of events) {
    live += d;
    most = Math.max(most, live);
  }
  return most;
}

/** What a replay does: write the feeds, run the actions, read the results. */
interface Steps {
  feeds: { name: string; at: ArenaTensor }[];
  actions: Action[];
  results: { name: string; at: ArenaTensor }[];
  /** The ops' scratch blocks in the order they ask for them: `[offset, size, …]`. */
  scratch: number[];
}

/** A recorded run, replayable while feeds keep their dims and guarded values their contents. */
export class RunPlan {
  readonly #ctx: OpContext;
  readonly #blocks: [number, number][];
  readonly #steps: Steps;
  /** Bytes the plan's values take: the blocks of the recorded run. */
  readonly bytes: number;
  /** Most bytes live at any one step of the run: the least any placement needs. */
  readonly liveBytes: number;

  constructor(
    ctx: OpContext,
    blocks: [number, number][],
    liveBytes: number,
    steps: Steps,
  ) {
    this.#ctx = ctx;
    this.#blocks = blocks;
    this.bytes = blocks.reduce((n, [, bytes]) => n + bytes, 0);
    this.liveBytes = liveBytes;
    this.#steps = steps;
  }

  /** Whether these feeds have the recorded types and dims. */
  fits(feeds: Record<string, Tensor>): boolean {
    for (const { name, at } of this.#steps.feeds) {
      const t = feeds[name];
      if (!t || t.type !== at.type || t.dims.length !== at.dims.length) return false;
      for (let d = 0; d < at.dims.length; d++) if (t.dims[d] !== at.dims[d]) return false;
    }
    return true;
  }

  /**
   * Runs the recorded steps on `feeds` (which must `fit`); undefined when a guarded value
   * differs from the recording, so the run must go through the executor.
   */
  replay(feeds: Record<string, Tensor>): Record<string, Tensor> | undefined {
    const arena = this.#ctx.kernels.arena;
    const steps = this.#steps;
    for (const { name, at } of steps.feeds) {
      const d = feeds[name].data;
      arena.u8(at.offset, d.byteLength).set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    // The ops' scratch goes where it went in the recorded run, inside the plan's blocks.
    arena.script(steps.scratch);
    try {
      const actions = steps.actions;
      for (let i = 0; i < actions.length; i++) {
        const a = actions[i];
        if (a.kind === "step") a.op.run(this.#ctx, a.node, a.inputs, a.outputs, a.state);
        else if (a.kind === "copy") arena.u8(a.to, a.bytes).set(arena.u8(a.from, a.bytes));
        else if (a.kind === "write") arena.u8(a.to, a.bytes.length).set(a.bytes);
        else if (!sameContents(this.#ctx, a.at, a.seen)) return undefined;
      }
    } finally {
      arena.script(undefined);
    }
    const out: Record<string, Tensor> = {};
    for (const { name, at } of steps.results) out[name] = readHost(this.#ctx, at);
    return out;
  }

  /** Gives the blocks back to the arena. */
  dispose(): void {
    for (const [offset] of this.#blocks) this.#ctx.kernels.arena.free(offset);
  }
}

function sameContents(ctx: OpContext, t: ArenaTensor, seen: Tensor): boolean {
  const memory = ctx.kernels.arena.memory.buffer as ArrayBuffer;
  const now = new (arrayTypeOf(t.type))(memory, t.offset, sizeOf(t.dims));
  const before = seen.data;
  for (let i = 0; i < now.length; i++) if (now[i] !== before[i]) return false;
  return true;
}
