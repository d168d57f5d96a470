/**
 * `threads: "auto"` decided per model by measurement. Threads help big kernels and cost a
 * wake-up per split call, so a small step-by-step model (a VAD chunk, a Mamba token) can be
 * slower on two threads than on one. The first runs of a model alternate between the pool and
 * one thread, with the same input shapes; after `TRIAL_RUNS` timed runs of each (one warm-up
 * run of each is not counted) the faster one stays: when one thread wins, the pool is stopped.
 * Results do not depend on the choice (threads split outputs, never sums).
 *
 * @module
 */
import type { Kernels } from "../wasm/kernels.ts";

/** Timed runs per mode before deciding. */
export const TRIAL_RUNS = 5;

/** Threads stay only when they are at least this much faster than one thread. */
const MARGIN = 0.95;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The per-model trial of "auto" threads. */
export class AutoThreads {
  readonly #kr: Kernels;
  readonly #now: () => number;
  #shapes = "";
  #one: number[] = [];
  #pool: number[] = [];
  #decided = false;

  /** `now` is the clock (milliseconds); tests pass their own. */
  constructor(kr: Kernels, now: () => number = () => performance.now()) {
    this.#kr = kr;
    this.#now = now;
  }

  /** Whether the choice is made. */
  get decided(): boolean {
    return this.#decided;
  }

  /** Runs `fn` (one model run) on the pool or on one thread, as the trial needs. */
  run<T>(shapes: string, fn: () => T): T {
    const kr = this.#kr;
    const pool = kr.pool;
    if (this.#decided || !pool) return fn();
    if (shapes !== this.#shapes) {
      // Other input shapes: start over, times of different work do not compare.
      this.#shapes = shapes;
      this.#one = [];
      this.#pool = [];
    }
    const onOne = this.#one.length < this.#pool.length;
    if (onOne) kr.pool = null;
    const t0 = this.#now();
    let result: T;
    try {
      result = fn();
    } finally {
      kr.pool = pool;
    }
    (onOne ? this.#one : this.#pool).push(this.#now() - t0);
    if (this.#one.length > TRIAL_RUNS && this.#pool.length > TRIAL_RUNS) this.#decide();
    return result;
  }

  #decide(): void {
    const kr = this.#kr;
    const one = median(this.#one.slice(1));
    const many = median(this.#pool.slice(1));
    const n = kr.threads.count;
    const times = (a: number, b: number) => `${a.toPrecision(3)} ms vs ${b.toPrecision(3)} ms`;
    this.#decided = true;
    if (many < MARGIN * one) {
      kr.threads.reason = `auto: ${n} threads measured faster for this model ` +
        `(${times(many, one)} on one thread)`;
      return;
    }
    kr.pool?.dispose();
    kr.pool = null;
    kr.threads.count = 1;
    kr.threads.reason = `auto: one thread measured as fast for this model ` +
      `(${times(one, many)} on ${n} threads)`;
  }
}
