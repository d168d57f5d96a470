/**
 * `threads: "auto"` measures per model: the first runs alternate the pool and one thread and
 * the faster stays. The decision logic runs on a fake clock (timings are never asserted); a
 * real model checks the trial leaves results untouched and reports what it chose.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { loadModel } from "../../engine/model.ts";
import { Tensor } from "../../engine/tensor.ts";
import {
  AutoThreads,
  MAX_TRIAL_RUNS,
  TRIAL_MS,
  TRIAL_RUNS,
} from "../../engine/threads/auto_threads.ts";
import { disposeKernels, loadKernels } from "../../engine/wasm/kernels.ts";
import { oneNodeModel } from "../_onnx_builder.ts";
import { Random } from "../_random.ts";

const NOP = { fn: "f32_addact_w4", args: [0, 0, 0, 0, 0, 0, 0, 0, 0] };

/**
 * Runs a trial where a run takes `poolMs` on the pool and `oneMs` on one thread (numbers, or
 * functions of how many runs that mode has had).
 */
async function trial(poolMs: number | ((i: number) => number), oneMs: number, splits = true) {
  const kr = await loadKernels({ kernels: "relaxed", threads: "auto" });
  ok(kr.pool, "this host runs threads (Deno has SharedArrayBuffer)");
  const threads = kr.threads.count;
  let t = 0;
  const auto = new AutoThreads(kr, () => t);
  const modes: string[] = [];
  const poolTime = typeof poolMs === "number" ? () => poolMs : poolMs;
  while (!auto.decided && modes.length < 2 * (MAX_TRIAL_RUNS + 2)) {
    auto.run("1x8", () => {
      const runs = modes.filter((m) => m === "pool").length;
      modes.push(kr.pool ? "pool" : "one");
      // A split call, as a model with a kernel big enough for threads makes.
      if (kr.pool && splits) kr.pool.run([NOP, NOP]);
      t += kr.pool ? poolTime(runs) : oneMs;
    });
  }
  return { kr, auto, modes, threads };
}

Deno.test("auto threads: the pool stays when it measures faster", async () => {
  const { kr, auto, modes, threads } = await trial(1, 3);
  try {
    deepStrictEqual(auto.decided, true);
    // Alternating, starting on the pool.
    deepStrictEqual(modes.slice(0, 4), ["pool", "one", "pool", "one"]);
    ok(kr.pool);
    deepStrictEqual(kr.threads.count, threads);
    ok(/measured faster.*1\.00 ms vs 3\.00 ms/.test(kr.threads.reason), kr.threads.reason);
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads: a burst of slow pool runs (a core stolen by the host) does not flip it", async () => {
  // Warm-up, then 2 fast timed runs and 3 slowed past one thread's time: the lower quartile
  // still sees the pool's speed (the median would not).
  const { kr, auto } = await trial((i) => [5, 100, 100, 330, 330, 330][i] ?? 100, 200);
  try {
    deepStrictEqual(auto.decided, true);
    ok(kr.pool, kr.threads.reason);
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads: one thread stays (the pool stops) when threads do not help", async () => {
  // 3 % faster on the pool is within the margin: not worth the workers.
  const { kr, auto } = await trial(0.97, 1);
  try {
    deepStrictEqual(auto.decided, true);
    deepStrictEqual(kr.pool, null);
    deepStrictEqual(kr.threads.count, 1);
    ok(/one thread measured as fast/.test(kr.threads.reason), kr.threads.reason);
    // Later runs stay on one thread.
    auto.run("1x8", () => deepStrictEqual(kr.pool, null));
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads: a model whose kernels never split stays on one thread whatever the times", async () => {
  // The pool measured 10 % faster, but nothing ran on it: that was noise.
  const { kr, auto } = await trial(0.9, 1, false);
  try {
    deepStrictEqual(auto.decided, true);
    deepStrictEqual(kr.pool, null);
    ok(/no kernel of this model is big enough to split/.test(kr.threads.reason), kr.threads.reason);
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads: when one thread stays, the kernels move to an unshared arena, data intact", async () => {
  const { kr } = await trial(0.97, 1);
  try {
    deepStrictEqual(kr.pool, null);
    ok(kr.arena.shared, "still the shared arena until the plain build is ready");
    // Arena data written before the move: an input block, and a block the move must carry.
    const n = 1000;
    const a = kr.arena.alloc(4 * n);
    const y = kr.arena.alloc(4 * n);
    kr.arena.f32(a, n).set(Float32Array.from({ length: n }, (_, i) => i * 0.5));
    for (let i = 0; i < 200 && !kr.unshare; i++) await new Promise((r) => setTimeout(r, 10));
    ok(kr.unshare, "the plain build became ready");
    kr.unshare!();
    deepStrictEqual(kr.unshare, undefined);
    deepStrictEqual(kr.arena.shared, false);
    ok(/moved to an unshared arena/.test(kr.threads.reason), kr.threads.reason);
    deepStrictEqual(kr.arena.f32(a, n)[999], 499.5);
    // The new instance works on the moved data: y = a + a.
    kr.fn.f32_vadd_x8(1, n, a, 0, 1, a, 0, 1, y);
    deepStrictEqual([...kr.arena.f32(y, n)], Array.from({ length: n }, (_, i) => i));
    // Allocation goes on in the plain memory, growing it.
    const big = kr.arena.alloc(8 << 20);
    kr.arena.f32(big, 4)[3] = 7;
    deepStrictEqual(kr.arena.f32(big, 4)[3], 7);
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads: changing input shapes starts the trial over; a failing run is not timed", async () => {
  const kr = await loadKernels({ kernels: "relaxed", threads: "auto" });
  try {
    let t = 0;
    const auto = new AutoThreads(kr, () => t);
    for (let i = 0; i < 4 * (TRIAL_RUNS + 1); i++) {
      auto.run(i % 2 ? "1x8" : "1x9", () => (t += 1));
    }
    deepStrictEqual(auto.decided, false);
    const pool = kr.pool;
    try {
      auto.run("1x8", () => {
        throw new Error("boom");
      });
    } catch {
      // The pool is back after a failed run on one thread.
    }
    deepStrictEqual(kr.pool, pool);
  } finally {
    disposeKernels(kr);
  }
});

Deno.test("auto threads on a real model: identical results through the trial, and it says what it chose", async () => {
  const rng = new Random(7);
  const [m, k, n] = [3, 256, 384];
  const bytes = oneNodeModel(
    "MatMul",
    [{ name: "a", dims: [m, k] }, { name: "b" }],
    [{ name: "y" }],
    {},
    { initializers: { b: new Tensor("float32", rng.floats(k * n), [k, n]) } },
  );
  const a = new Tensor("float32", rng.floats(m * k), [m, k]);
  const single = await loadModel(bytes);
  const want = (await single.run({ a })).y.data;
  single.dispose();
  const model = await loadModel(bytes, { threads: "auto" });
  try {
    ok(/^auto: \d of \d cores$/.test(model.summary().threads.reason));
    // A small product: the trial runs until each mode has TRIAL_MS of work (or the cap).
    const decided = () => /ms on/.test(model.summary().threads.reason);
    for (let i = 0; i < 2 * (MAX_TRIAL_RUNS + 1) + 2; i++) {
      deepStrictEqual((await model.run({ a })).y.data, want, `run ${i}`);
      if (decided() && i >= 2 * (TRIAL_RUNS + 1)) break;
    }
    // 0.6 MFLOP is never split: one thread stays, whatever the trial's times.
    deepStrictEqual(model.summary().threads.count, 1);
    ok(/big enough to split/.test(model.summary().threads.reason), model.summary().threads.reason);
    // A later run, once the plain build is ready, moves the model to an unshared arena; it
    // computes the same there.
    for (let i = 0; i < 100 && !/unshared/.test(model.summary().threads.reason); i++) {
      await new Promise((r) => setTimeout(r, 10));
      deepStrictEqual((await model.run({ a })).y.data, want);
    }
    ok(/unshared/.test(model.summary().threads.reason), model.summary().threads.reason);
    deepStrictEqual((await model.run({ a })).y.data, want);
  } finally {
    model.dispose();
  }
});

Deno.test("auto threads: the trial lasts until each mode has TRIAL_RUNS runs and TRIAL_MS of work", async () => {
  // Slow runs: TRIAL_RUNS timed runs of each (plus a warm-up) are enough.
  const slow = await trial(40, 50);
  disposeKernels(slow.kr);
  deepStrictEqual(slow.modes.length, 2 * (TRIAL_RUNS + 1));
  // A 0.2 ms model (a VAD chunk): each mode runs until its timed runs add up to TRIAL_MS.
  const fast = await trial(0.2, 0.25);
  disposeKernels(fast.kr);
  const perMode = fast.modes.filter((m) => m === "pool").length;
  deepStrictEqual(perMode, Math.ceil(TRIAL_MS / 0.2 - 1e-9) + 1);
  ok(fast.modes.length >= 2 * perMode - 1 && fast.modes.length <= 2 * perMode + 1);
  // A model so fast the time floor would take thousands of runs: MAX_TRIAL_RUNS bounds it.
  const tiny = await trial(0.001, 0.002);
  disposeKernels(tiny.kr);
  deepStrictEqual(tiny.modes.filter((m) => m === "pool").length, MAX_TRIAL_RUNS + 1);
  deepStrictEqual(tiny.auto.decided, true);
});
