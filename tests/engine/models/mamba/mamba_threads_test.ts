import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { assertClose } from "../../../_assert.ts";
import { InvalidArgumentError } from "../../../../engine/errors.ts";
import { type MambaConfig, MambaModel } from "../../../../engine/models/mamba/mamba.ts";
import { loadMamba } from "../../../../mod.ts";
import { MAX_TRIAL_RUNS } from "../../../../engine/threads/auto_threads.ts";
import { loadKernels } from "../../../../engine/wasm/kernels.ts";
import { loadSparsePackers } from "../../../../engine/weights/sparse_packers.ts";
import { MAMBA_LINEAR, mambaWeights } from "../../../_mamba_weights.ts";
import { Random } from "../../../_random.ts";
import { c4nWeights } from "../../../reference/sparse.ts";

const FIXTURE = new URL("../../../fixtures/mamba", import.meta.url).pathname;

/**
 * Weights of 18 MB (mostly the embeddings and the untied LM head, 8000 x 256): enough that the
 * cost models count them as streaming from memory, so the LM head's GEMV splits over two
 * threads and C4,3 sends it through the C4n GEMV.
 */
const CFG: MambaConfig = {
  dModel: 256,
  layers: 2,
  dInner: 512,
  dState: 8,
  dConv: 4,
  dtRank: 16,
  vocab: 8000,
  eps: 1e-5,
};

/** Random weights for CFG; with `zeros`, the projections and the LM head C4,zeros-pruned. */
function weights(zeros: number) {
  const rng = new Random(70 + zeros);
  return mambaWeights(CFG, (role, dims) => {
    const n = dims.reduce((a, b) => a * b);
    if (role === "A_log") return rng.floats(n).map((v) => 0.5 + 0.5 * v);
    if (role === "norm" || role === "norm_f") return rng.floats(n).map((v) => 1 + 0.2 * v);
    const v = zeros && MAMBA_LINEAR.has(role)
      ? c4nWeights(rng, dims[0], dims[1], zeros)
      : rng.floats(n);
    return v.map((x) => x * 0.2);
  });
}

for (const zeros of [0, 3]) {
  Deno.test(`Mamba on two threads splits its big products and gives one thread's logits exactly: ${zeros ? `C4,${zeros}` : "dense"}`, async () => {
    await loadSparsePackers();
    const w = weights(zeros);
    const kr2 = await loadKernels({ kernels: "relaxed", threads: 2 });
    const two = new MambaModel(kr2, CFG, w);
    const one = new MambaModel(await loadKernels({ kernels: "relaxed" }), CFG, w);
    try {
      deepStrictEqual(two.threads.count, 2);
      const summary = two.summary();
      // Every tensor of the checkpoint counts: 2 layers' worth plus embeddings, head, norm.
      deepStrictEqual(summary.parameters, [...w.values()].reduce((n, t) => n + t.size, 0));
      if (zeros) {
        ok(summary.kernelChoices.some((c) => c.format === `c4n:${zeros}`), "a C4n layer");
      }
      const prompt = [5, 900, 17, 7999, 250, 42];
      // Splits divide outputs among threads, never sums: the numbers are the same.
      deepStrictEqual([...two.forward(prompt)], [...one.forward(prompt)], "prefill");
      const jobs = kr2.pool!.jobs;
      for (const t of [7, 6000, 64]) {
        deepStrictEqual([...two.forward([t])], [...one.forward([t])], `decode ${t}`);
      }
      ok(kr2.pool!.jobs > jobs, "decode ran split kernel calls");
    } finally {
      two.dispose();
      one.dispose();
    }
    // dispose() stops the workers.
    deepStrictEqual(kr2.pool, null);
  });
}

Deno.test('Mamba threads "auto": the decode trial picks a mode, the logits never change', async () => {
  await loadSparsePackers();
  const w = weights(3);
  const auto = new MambaModel(await loadKernels({ kernels: "relaxed", threads: "auto" }), CFG, w);
  const one = new MambaModel(await loadKernels({ kernels: "relaxed" }), CFG, w);
  try {
    if (auto.threads.count === 1) {
      // A one-core host: nothing to try.
      ok(/one core|unavailable/.test(auto.threads.reason), auto.threads.reason);
      return;
    }
    deepStrictEqual([...auto.forward([1, 2, 3])], [...one.forward([1, 2, 3])]);
    let steps = 0;
    while (!/measured|big enough/.test(auto.threads.reason)) {
      ok(steps < 2 * MAX_TRIAL_RUNS + 2, `undecided after ${steps} tokens`);
      const t = (steps * 37) % CFG.vocab;
      deepStrictEqual([...auto.forward([t])], [...one.forward([t])], `token ${steps}`);
      steps++;
    }
    ok(auto.threads.reason.startsWith("auto:"), auto.threads.reason);
    // After the decision: still the same numbers. When one thread stays, the weights and the
    // state move to an unshared arena (compiled in the background) at the start of a forward.
    const moves = auto.threads.count === 1;
    for (let i = 0; i < 400; i++) { // up to 20 s: the compile runs beside other test files
      const t = 11 + i;
      deepStrictEqual([...auto.forward([t])], [...one.forward([t])], `after, token ${t}`);
      if (!moves || auto.threads.reason.includes("unshared arena")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (moves) ok(auto.threads.reason.includes("unshared arena"), auto.threads.reason);
    deepStrictEqual([...auto.forward([5])], [...one.forward([5])], "on the unshared arena");
  } finally {
    auto.dispose();
    one.dispose();
  }
});

Deno.test("loadMamba takes a threads option, reports it, and refuses bad counts", async () => {
  const m = await loadMamba(FIXTURE, { threads: 2 });
  try {
    deepStrictEqual(m.threads.count, 2);
    deepStrictEqual(m.threads.reason, "requested");
  } finally {
    m.dispose();
  }
  await rejects(loadMamba(FIXTURE, { threads: 0 }), InvalidArgumentError);
  await rejects(loadMamba(FIXTURE, { threads: 1.5 }), InvalidArgumentError);
});

Deno.test("loadMamba takes a precompiled kernel module (workerd) and refuses misspelt options", async () => {
  const expected = JSON.parse(await Deno.readTextFile(`${FIXTURE}/expected.json`)) as {
    prompt: number[];
    logits: number[][];
  };
  const bytes = await Deno.readFile(
    new URL("../../../../kernels-as/build/quartet_simd.wasm", import.meta.url),
  );
  // A given module's memory is not shared: two threads fall back to one, saying why.
  const m = await loadMamba(FIXTURE, { module: new WebAssembly.Module(bytes), threads: 2 });
  try {
    deepStrictEqual(m.threads.count, 1);
    ok(m.threads.reason.includes("precompiled module"), m.threads.reason);
    assertClose(m.forward(expected.prompt), expected.logits.flat(), { rtol: 1e-4, atol: 1e-4 });
    throws(() => m.forward([1], { lastonly: true } as never), /Unknown option "lastonly"/);
    await rejects(
      m.generate([1], { maxtokens: 2 } as never).next(),
      /Unknown option "maxtokens" for generate\(\)/,
    );
  } finally {
    m.dispose();
  }
  await rejects(
    loadMamba(FIXTURE, { thread: 2 } as never),
    (e) =>
      e instanceof InvalidArgumentError && /Unknown option "thread" for loadMamba/.test(e.message),
  );
});
