/**
 * A pool of worker threads that run kernels on the shared arena. The main thread posts one
 * call per worker into a shared control block (no message per call), runs its own share, and
 * waits for the others: spin first, then `Atomics.wait` where the host allows blocking.
 * Workers do the same on their side, so a split kernel costs a few microseconds.
 *
 * Work cut into more items than threads goes through the shared queue instead (`runQueue`):
 * every thread claims the next item until none is left, so a thread that the host slows
 * (another process on its core, a phone's little core) takes fewer items instead of keeping
 * the others waiting.
 *
 * A worker that never picks its job up (it crashed or hangs) is detected by a timeout: the
 * main thread takes the job back, runs it itself and the pool drops to one thread, with a
 * warning. A worker that took a job and then stops making progress (a worker counts the calls
 * it finishes) is given up after a longer timeout: the pool drops to one thread and the call
 * throws `ThreadError`, never hangs. Time this thread itself was stopped (a suspended tab)
 * does not count against a worker. A kernel that fails inside a worker (a trap) throws
 * `ThreadError` on the caller.
 *
 * @module
 */
import { InvalidArgumentError, ThreadError } from "../errors.ts";
import { callKernel, type KernelCall } from "./kernel_call.ts";
import { QUEUE, SLOT } from "./slot_layout.ts";
import { WORKER_SOURCE } from "./worker_source.ts";
import { HOST_WORKER } from "./host_worker.ts";

export { callKernel, type KernelCall };

/** Host-neutral handle on a started worker. */
export interface WorkerHandle {
  post(message: unknown): void;
  terminate(): void;
}

/** How long a posted job may wait to be picked up before the worker is presumed dead. */
const PICKUP_TIMEOUT_MS = 2000;
/** How long starting one worker may take. */
const START_TIMEOUT_MS = 10000;
/** How long a worker may run a job without finishing a call before it is given up. */
const STALL_TIMEOUT_MS = 10000;
/** A gap this long between two looks at a worker means this thread was stopped, not it. */
const SUSPENDED_MS = 1000;
/** State-word loads on the main thread before it blocks or checks the clock. */
const MAIN_SPINS = 50000;

/** Options of `ThreadPool.start`. */
export interface ThreadPoolOptions {
  /** Called once if the pool drops to one thread, with the reason. */
  onDegrade?: (why: string) => void;
  /** Starts a worker (the host's Worker API unless a test stands in). */
  spawn?: SpawnWorker;
  /** How long a job may go without a finished call before its worker is given up. */
  stallTimeoutMs?: number;
}

function canBlockHere(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false; // a browser's main thread
  }
}

type Listener = (message: unknown) => void;

/** Starts a worker on the host's API (tests pass their own to stand in for a broken one). */
export type SpawnWorker = (
  onMessage: Listener,
  onFailure: (why: string) => void,
) => Promise<WorkerHandle>;

async function spawnWorker(
  onMessage: Listener,
  onFailure: (why: string) => void,
): Promise<WorkerHandle> {
  const g = globalThis as {
    Worker?: typeof Worker;
    Deno?: unknown;
    process?: { versions?: { node?: string } };
  };
  const WebWorker = g.Deno ? HOST_WORKER : g.Worker ?? HOST_WORKER;
  if (typeof WebWorker === "function") {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    const w = new WebWorker(url, { type: "module" });
    w.onmessage = (e) => onMessage(e.data);
    w.onerror = (e) => {
      e.preventDefault?.();
      onFailure(e.message ?? "worker error");
    };
    return {
      post: (m: unknown) => w.postMessage(m),
      terminate: () => {
        w.terminate();
        URL.revokeObjectURL(url);
      },
    } satisfies WorkerHandle;
  }
  if (g.process?.versions?.node) {
    // A variable specifier keeps bundlers for the browser from resolving it.
    const specifier = "node:worker_threads";
    const { Worker: NodeWorker } = await import(specifier);
    const w = new NodeWorker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on("message", onMessage);
    w.on("error", (e: Error) => onFailure(String(e)));
    w.on("exit", (code: number) => onFailure(`worker exited with code ${code}`));
    return {
      post: (m: unknown) => w.postMessage(m),
      terminate: () => void w.terminate(),
    } satisfies WorkerHandle;
  }
  throw new ThreadError("This host has no Worker API");
}

/** Worker threads sharing one kernel module and its arena memory. */
export class ThreadPool {
  /** Threads that take part in a split call, the main thread included. */
  #size: number;
  readonly #workers: WorkerHandle[];
  readonly #words: Int32Array[];
  readonly #programs: Float64Array[];
  readonly #errors: Uint8Array[];
  readonly #queue: Int32Array;
  readonly #queueTable: Int32Array;
  readonly #queued: Float64Array;
  readonly #index: Map<string, number>;
  readonly #main: Record<string, (...a: number[]) => unknown>;
  readonly #canBlock = canBlockHere();
  readonly #onDegrade: (why: string) => void;
  readonly #stallTimeoutMs: number;
  #disposed = false;
  #jobs = 0;

  private constructor(
    workers: WorkerHandle[],
    control: SharedArrayBuffer,
    names: string[],
    main: Record<string, (...a: number[]) => unknown>,
    options: ThreadPoolOptions,
  ) {
    this.#workers = workers;
    this.#size = workers.length + 1;
    this.#index = new Map(names.map((n, i) => [n, i]));
    this.#main = main;
    this.#onDegrade = options.onDegrade ?? (() => {});
    this.#stallTimeoutMs = options.stallTimeoutMs ?? STALL_TIMEOUT_MS;
    this.#words = workers.map((_, i) => new Int32Array(control, i * SLOT.bytes, SLOT.bytes / 4));
    this.#programs = workers.map((_, i) =>
      new Float64Array(control, i * SLOT.bytes + SLOT.programByte, SLOT.programWords)
    );
    this.#errors = workers.map((_, i) =>
      new Uint8Array(control, i * SLOT.bytes + SLOT.errorByte, SLOT.errorBytes)
    );
    const queueByte = workers.length * SLOT.bytes;
    this.#queue = new Int32Array(control, queueByte, QUEUE.tableByte / 4);
    this.#queueTable = new Int32Array(control, queueByte + QUEUE.tableByte, QUEUE.maxItems + 1);
    this.#queued = new Float64Array(control, queueByte + QUEUE.callsByte, QUEUE.callWords);
  }

  /**
   * Starts `threads - 1` workers on `module` (a build whose memory import is shared) and
   * `memory`; worker i parks partial tiles at byte offset `tailScratch[i]` (its own
   * `kernel_set_tail_scratch`). Throws `ThreadError` when a worker cannot start; no worker is
   * left running.
   */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
    main: Record<string, (...a: number[]) => unknown>,
    tailScratch: number[],
    options: ThreadPoolOptions = {},
  ): Promise<ThreadPool> {
    const spawn = options.spawn ?? spawnWorker;
    if (!Number.isInteger(threads) || threads < 2) {
      throw new InvalidArgumentError(`A thread pool needs at least 2 threads, got ${threads}`);
    }
    const names = WebAssembly.Module.exports(module)
      .filter((e) => e.kind === "function")
      .map((e) => e.name);
    const queueByte = (threads - 1) * SLOT.bytes;
    const control = new SharedArrayBuffer(queueByte + QUEUE.bytes);
    const workers: WorkerHandle[] = [];
    const started: Promise<void>[] = [];
    const settlers: ((why?: string) => void)[] = [];
    try {
      for (let slot = 0; slot < threads - 1; slot++) {
        let settle!: (why?: string) => void;
        const ready = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => settle("it did not start in time"), START_TIMEOUT_MS);
          settle = (why) => {
            clearTimeout(timer);
            if (why === undefined) resolve();
            else reject(new ThreadError(`Worker ${slot + 1} failed to start: ${why}`));
          };
        });
        ready.catch(() => {}); // Awaited below; a failure elsewhere must not leave it unhandled.
        started.push(ready);
        settlers.push(settle);
        const handle = await spawn(
          (m) => {
            const r = m as { ok: boolean; error?: string };
            settle(r.ok ? undefined : r.error ?? "unknown error");
          },
          (why) => settle(why),
        );
        workers.push(handle);
        handle.post({
          module,
          memory,
          control,
          slot,
          names,
          tailScratch: tailScratch[slot],
          queueByte,
        });
      }
      await Promise.all(started);
    } catch (cause) {
      for (const settle of settlers) settle("cancelled");
      for (const w of workers) w.terminate();
      if (cause instanceof ThreadError) throw cause;
      throw new ThreadError(`Cannot start worker threads: ${cause}`, { cause });
    }
    return new ThreadPool(workers, control, names, main, options);
  }

  /** Split calls that posted work to workers so far. */
  get jobs(): number {
    return this.#jobs;
  }

  /** Threads a split call may use, the main thread included (1 once degraded). */
  get size(): number {
    return this.#disposed ? 1 : this.#size;
  }

  /**
   * Runs `calls[0]` on this thread and `calls[i]` on worker i, and returns when all are
   * done. Calls must write disjoint bytes. Throws `ThreadError` if a worker's call failed.
   */
  run(calls: KernelCall[]): void {
    this.runPrograms(calls.map((c) => [c]));
  }

  /**
   * Runs program 0 (a list of calls, in order) on this thread and program i on worker i.
   * A worker's program must fit its slot (SLOT.programWords words, 3 per call plus its
   * arguments), or `InvalidArgumentError` is thrown before anything runs.
   */
  runPrograms(programs: KernelCall[][]): void {
    if (this.#disposed) throw new ThreadError("This thread pool was disposed");
    if (programs.length > this.#size) {
      throw new InvalidArgumentError(
        `Cannot run ${programs.length} programs on a pool of ${this.#size} threads`,
      );
    }
    for (let i = 1; i < programs.length; i++) {
      const n = programs[i].length;
      this.#encodedWords(
        programs[i],
        SLOT.programWords,
        `A program of ${n} calls does not fit a slot`,
      );
    }
    if (programs.length > 1) this.#jobs++;
    for (let i = 1; i < programs.length; i++) this.#post(i - 1, programs[i]);
    let failure: string | undefined;
    try {
      for (const call of programs[0]) this.#callHere(call);
    } finally {
      for (let i = 1; i < programs.length; i++) {
        const program = programs[i];
        const why = this.#finish(i - 1, () => program.map((c) => c.fn), () => {
          for (const call of program) this.#callHere(call);
        });
        failure ??= why;
      }
    }
    if (failure) throw new ThreadError(failure);
  }

  /**
   * Runs every item (a list of calls, in order) once, on whichever of the first
   * `scratch.length` threads claims it first, and returns when all are done. Items must write
   * disjoint bytes, apart from scratch: the thread running an item adds its own block's start,
   * `scratch[t]`, to the arguments each call's `scratchArgs` marks. Long queues run in rounds
   * that fit the control block. Throws `ThreadError` if an item failed on a worker.
   */
  runQueue(items: KernelCall[][], scratch: readonly number[]): void {
    if (this.#disposed) throw new ThreadError("This thread pool was disposed");
    const threads = Math.min(scratch.length, this.#size);
    const words = items.map((item) =>
      this.#encodedWords(item, QUEUE.callWords, `A queue item of ${item.length} calls does not fit`)
    );
    for (let first = 0; first < items.length;) {
      let count = 0;
      let used = 0;
      while (
        first + count < items.length && count < QUEUE.maxItems &&
        used + words[first + count] <= QUEUE.callWords
      ) {
        this.#queueTable[count] = used;
        used = this.#encode(items[first + count], this.#queued, used);
        count++;
      }
      this.#queueTable[count] = used;
      this.#queue[QUEUE.count] = count;
      Atomics.store(this.#queue, QUEUE.next, 0);
      if (threads > 1) this.#jobs++;
      for (let t = 1; t < threads; t++) this.#postQueueJob(t - 1, scratch[t]);
      let failure: string | undefined;
      try {
        for (;;) {
          const i = Atomics.add(this.#queue, QUEUE.next, 1);
          if (i >= count) break;
          for (const call of items[first + i]) this.#callHere(call, scratch[0]);
        }
      } finally {
        // The main thread claims until the queue is empty, so a worker that never picked its
        // job up leaves nothing undone: there is nothing to take back.
        const fns = () => items.flat().map((c) => c.fn);
        for (let t = 1; t < threads; t++) {
          const why = this.#finish(t - 1, fns, () => {}); // Every worker, even after a failure.
          failure ??= why;
        }
      }
      if (failure) throw new ThreadError(failure);
      first += count;
    }
  }

  /** Stops every worker. The pool cannot run afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (let i = 0; i < this.#workers.length; i++) {
      Atomics.store(this.#words[i], SLOT.state, SLOT.EXIT);
      Atomics.notify(this.#words[i], SLOT.state);
      this.#workers[i].terminate();
    }
  }

  #callHere(call: KernelCall, scratch = 0): void {
    callKernel(this.#main, call, scratch);
  }

  /**
   * Float64 words `calls` take encoded (slot_layout.ts). Throws, before anything runs, if one
   * names no kernel or they exceed `limit` words (`tooLong` says what did not fit).
   */
  #encodedWords(calls: KernelCall[], limit: number, tooLong: string): number {
    let words = 0;
    for (const call of calls) {
      if (!this.#index.has(call.fn)) {
        throw new InvalidArgumentError(`No kernel named "${call.fn}"`);
      }
      words += 3 + call.args.length;
    }
    if (words > limit) throw new InvalidArgumentError(tooLong);
    return words;
  }

  /** Encodes `calls` into `out` from word `p`; returns the word after them. */
  #encode(calls: KernelCall[], out: Float64Array, p: number): number {
    for (const call of calls) {
      out[p] = this.#index.get(call.fn)!;
      out[p + 1] = call.args.length;
      out[p + 2] = call.scratchArgs ?? 0;
      out.set(call.args, p + 3);
      p += 3 + call.args.length;
    }
    return p;
  }

  #postQueueJob(slot: number, scratch: number): void {
    const words = this.#words[slot];
    this.#programs[slot][0] = scratch;
    words[SLOT.callCount] = SLOT.QUEUE_JOB;
    Atomics.store(words, SLOT.state, SLOT.POSTED);
    Atomics.notify(words, SLOT.state);
  }

  #post(slot: number, program: KernelCall[]): void {
    const words = this.#words[slot];
    this.#encode(program, this.#programs[slot], 0);
    words[SLOT.callCount] = program.length;
    Atomics.store(words, SLOT.state, SLOT.POSTED);
    Atomics.notify(words, SLOT.state);
  }

  /**
   * Waits for a worker's job; returns an error text (naming the job's `kernels`) if it
   * failed. A job the worker never picked up is withdrawn and `takeOver` runs it here.
   */
  #finish(
    slot: number,
    kernels: () => string[],
    takeOver: () => void,
  ): string | undefined {
    const words = this.#words[slot];
    let progress = Atomics.load(words, SLOT.progress);
    let since = performance.now();
    let looked = since;
    for (;;) {
      let state = Atomics.load(words, SLOT.state);
      for (let i = 0; i < MAIN_SPINS && (state === SLOT.POSTED || state === SLOT.RUNNING); i++) {
        state = Atomics.load(words, SLOT.state);
      }
      if (state === SLOT.DONE) {
        words[SLOT.state] = SLOT.IDLE;
        return undefined;
      }
      if (state === SLOT.FAILED) {
        words[SLOT.state] = SLOT.IDLE;
        const bytes = this.#errors[slot].slice();
        const end = bytes.indexOf(0);
        const text = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
        const fns = [...new Set(kernels())].join(", ");
        return `A kernel (${fns}) failed on worker thread ${slot + 1}: ${text}`;
      }
      const now = performance.now();
      const moved = Atomics.load(words, SLOT.progress);
      // A worker that finished a call, or a gap in this thread's own looking, restarts the clock.
      if (moved !== progress || now - looked > SUSPENDED_MS) {
        progress = moved;
        since = now;
      }
      looked = now;
      const waited = now - since;
      if (state === SLOT.POSTED && waited > PICKUP_TIMEOUT_MS) {
        if (
          Atomics.compareExchange(words, SLOT.state, SLOT.POSTED, SLOT.IDLE) === SLOT.POSTED
        ) {
          this.#degrade(`worker ${slot + 1} stopped answering`);
          takeOver();
          return undefined;
        }
        continue;
      }
      if (state === SLOT.RUNNING && waited > this.#stallTimeoutMs) {
        const why = `worker ${slot + 1} stopped in the middle of a job (no call finished in ` +
          `${Math.round(waited)} ms)`;
        this.#degrade(why);
        this.#workers[slot].terminate();
        return `The run failed: ${why}; the pool now runs on one thread`;
      }
      if (this.#canBlock) Atomics.wait(words, SLOT.state, state, 20);
    }
  }

  #degrade(why: string): void {
    if (this.#size === 1) return;
    this.#size = 1;
    this.#onDegrade(why);
  }
}
