/**
 * `threads: "auto"` decided per model by measurement. Threads help big kernels and cost a
 * wake-up per split call, so a small step-by-step model (a VAD chunk, a Mamba token) can be
 * slower on two threads than on one.
 *
 * The first runs of a model alternate between the pool and one thread, with the same input
 * shapes; once each mode has `TRIAL_RUNS` timed runs and `TRIAL_MS` of timed work (one
 * warm-up run of each is not counted; at most `MAX_TRIAL_RUNS` runs), the faster one stays:
 * when one thread wins, the pool is stopped. The time floor matters for small models: five
 * runs of a 0.2 ms VAD chunk are noise, and the trial then kept the pool for a model that
 * runs faster on one thread.
 *
 * Modes compare by their lower quartile, not the median: a host that steals a core for a
 * second slows the pool's runs most, and with medians a burst over 3 of ESRGAN's 5 trial runs
 * kept it on one thread (214 ms) though two threads ran it in 110 ms. A model none of whose
 * kernels was split in the trial (each under the per-thread threshold) stays on one thread
 * whatever the times say: a noisy trial once kept the pool for the silero VAD chunk (0.753
 * vs 0.814 ms).
 *
 * When one thread stays, the kernels later move to an unshared arena (`unshareLater`), so
 * they then run exactly as with `threads: 1`. Results do not depend on the choice (threads
 * split outputs, never sums).
 *
 * @module
 */
import { type Kernels, unshareLater } from "../wasm/kernels.ts";

/** Timed runs per mode before deciding, at least. */
export const TRIAL_RUNS = 5;

/** Timed work per mode before deciding, at least (milliseconds). */
export const TRIAL_MS = 25;

/** Runs per mode after which the trial decides whatever the time. */
export const MAX_TRIAL_RUNS = 200;

/** Whether one mode's trial times (the first, a warm-up, included) are enough to judge. */
function enough(times: readonly number[]): boolean {
  if (times.length <= TRIAL_RUNS) return false;
  if (times.length > MAX_TRIAL_RUNS) return true;
  let timed = 0;
  for (let i = 1; i < times.length; i++) timed += times[i];
  return timed >= TRIAL_MS;
}

/** Threads stay only when they are at least this much faster than one thread. */
const MARGIN = 0.95;

/** The lower quartile (nearest rank) of `xs`. */
function lowerQuartile(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 4)];
}

/** The per-model trial of "auto" threads. */
export class AutoThreads {
  readonly #kr: Kernels;
  readonly #now: () => number;
  #shapes = "";
  #one: number[] = [];
  #pool: number[] = [];
  /** Split calls the pool ran during the trial's pool runs. */
  #split = 0;
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
      this.#split = 0;
    }
    const onOne = this.#one.length < this.#pool.length;
    if (onOne) kr.pool = null;
    const jobs = pool.jobs;
    const t0 = this.#now();
    let result: T;
    try {
      result = fn();
    } finally {
      kr.pool = pool;
    }
    this.#split += pool.jobs - jobs;
    (onOne ? this.#one : this.#pool).push(this.#now() - t0);
    if (enough(this.#one) && enough(this.#pool)) this.#decide();
    return result;
  }

  #decide(): void {
    const kr = this.#kr;
    const one = lowerQuartile(this.#one.slice(1));
    const many = lowerQuartile(this.#pool.slice(1));
    const n = kr.threads.count;
    const times = (a: number, b: number) => `${a.toPrecision(3)} ms vs ${b.toPrecision(3)} ms`;
    this.#decided = true;
    if (many < MARGIN * one && this.#split > 0) {
      kr.threads.reason = `auto: ${n} threads measured faster for this model ` +
        `(${times(many, one)} on one thread)`;
      return;
    }
    kr.pool?.dispose();
    kr.pool = null;
    kr.threads.count = 1;
    kr.threads.reason = this.#split === 0
      ? `auto: one thread, no kernel of this model is big enough to split ` +
        `(${times(one, many)} on ${n} threads)`
      : `auto: one thread measured as fast for this model (${times(one, many)} on ${n} threads)`;
    unshareLater(kr);
  }
}
