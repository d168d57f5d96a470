/**
 * Pruning options that decide per layer: combined schemes ("pattern+c4n:2"), `maxError`,
 * `onlyFaster`, and the predicted speedup each layer reports.
 */
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { InvalidArgumentError } from "../../../engine/errors.ts";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import { C4N_SPMM_COST } from "../../../engine/ops/gemm.ts";
import { PATTERN_CONV_COST } from "../../../engine/ops/conv_pattern.ts";
import { pruneOnnx } from "../../../engine/prune/prune.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { Random } from "../../_random.ts";

const rng = new Random(707);
const f = (dims: number[], scale = 1) =>
  new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -scale, scale), dims);

/** conv3x3 "a" (8→16) → relu → conv1x1 "b" (16→16) → relu → conv1x1 "c" (16→8). */
const weights = {
  wa: f([16, 8, 3, 3], 0.3),
  ba: f([16], 0.1),
  wb: f([16, 16, 1, 1], 0.3),
  bb: f([16], 0.1),
  wc: f([8, 16, 1, 1], 0.3),
  bc: f([8], 0.1),
};
const net = buildModel({
  nodes: [
    {
      op: "Conv",
      name: "a",
      inputs: ["x", "wa", "ba"],
      outputs: ["ha"],
      attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
    },
    { op: "Relu", inputs: ["ha"], outputs: ["ra"] },
    { op: "Conv", name: "b", inputs: ["ra", "wb", "bb"], outputs: ["hb"] },
    { op: "Relu", inputs: ["hb"], outputs: ["rb"] },
    { op: "Conv", name: "c", inputs: ["rb", "wc", "bc"], outputs: ["y"] },
  ],
  inputs: [{ name: "x", dims: [1, 8, 10, 10] }],
  outputs: [{ name: "y" }],
  initializers: weights,
});

const calibration = Array.from({ length: 4 }, () => {
  const x = new Float32Array(800);
  const phase = rng.uniform(0, 6);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.05 + phase) + 0.3 * rng.uniform();
  return { x: new Tensor("float32", x, [1, 8, 10, 10]) };
});

async function prunedWeights(bytes: Uint8Array) {
  const ir = await decodeOnnx(bytes);
  return (name: string) => ir.graph.initializers.get(name)!.data as Float32Array;
}

Deno.test("combined schemes: each layer takes the first scheme that fits it", async () => {
  const r = await pruneOnnx(net, { scheme: "pattern:0+c4n:2", keepFirstLast: false });
  deepStrictEqual(
    r.layers.map((l) => [l.node, l.scheme]),
    [["a", "pattern:0"], ["b", "c4n:2"], ["c", "c4n:2"]],
  );
  const w = await prunedWeights(r.bytes);
  // "a": every 3x3 kernel keeps at most 4 taps, the centre among them.
  const a = w("wa");
  for (let q = 0; q < 16 * 8; q++) {
    const taps = a.subarray(q * 9, q * 9 + 9);
    ok(taps.filter((v) => v !== 0).length <= 4 && taps[4] !== 0, `kernel ${q}`);
  }
  // "b", "c": exactly 2 zeros in every group of 4 inputs.
  for (const name of ["wb", "wc"]) {
    const v = w(name);
    for (let g = 0; g < v.length; g += 4) {
      deepStrictEqual([...v.subarray(g, g + 4)].filter((x) => x === 0).length, 2, `${name} ${g}`);
    }
  }
  // Neither scheme fits a 1x1 conv: both reasons are given.
  const none = await pruneOnnx(net, { scheme: "pattern", keepFirstLast: false });
  ok(/3x3/.test(none.layers[1].skipped ?? ""), none.layers[1].skipped);
  await rejects(
    pruneOnnx(net, { scheme: "pattern+c4n:5" }),
    (e) => e instanceof InvalidArgumentError && /"c4n:5"/.test(e.message),
  );
});

Deno.test("predicted speedup follows the kernels' cost models; onlyFaster keeps losers dense", async () => {
  const c42 = await pruneOnnx(net, { scheme: "c4n:2", keepFirstLast: false });
  for (const l of c42.layers) {
    // Half the weights survive; the C4n SpMM costs C4N_SPMM_COST per survivor.
    const want = 1 / (0.5 * C4N_SPMM_COST);
    ok(Math.abs(l.predictedSpeedup! - want) < 1e-9, `${l.node}: ${l.predictedSpeedup}`);
    ok(l.kernel === "C4n SpMM", l.kernel);
  }
  const pattern = await pruneOnnx(net, { scheme: "pattern:0.5", keepFirstLast: false });
  const a = pattern.layers[0];
  // 4 of 9 taps in the half of the kernels kept, stride 1.
  const keptTaps = (4 * 64) / (9 * 128);
  ok(Math.abs(a.predictedSpeedup! - 1 / (keptTaps * PATTERN_CONV_COST[1])) < 1e-9, `${a.kernel}`);

  // C4,1 keeps 3 of 4 weights: 0.75 x 1.7 > 1, predicted to run dense.
  const c41 = await pruneOnnx(net, { scheme: "c4n:1", keepFirstLast: false });
  ok(c41.layers.every((l) => l.predictedSpeedup === 1 && /^dense/.test(l.kernel!)));
  const faster = await pruneOnnx(net, { scheme: "c4n:1", keepFirstLast: false, onlyFaster: true });
  ok(faster.layers.every((l) => !l.scheme && /onlyFaster/.test(l.skipped!)));
  const w = await prunedWeights(faster.bytes);
  deepStrictEqual(w("wb"), weights.wb.data, "kept dense: the original weights");
});

Deno.test("maxError keeps dense the layers whose refit error exceeds it", async () => {
  const all = await pruneOnnx(net, { scheme: "c4n:3", calibration, keepFirstLast: false });
  const errors = all.layers.map((l) => l.errorRefit!);
  ok(errors.every((e) => e > 0), `${errors}`);
  // A bound between the largest error and the others: that layer stays dense.
  const worst = errors.indexOf(Math.max(...errors));
  const bound = (Math.max(...errors) + Math.max(...errors.filter((_, i) => i !== worst))) / 2;
  const r = await pruneOnnx(net, {
    scheme: "c4n:3",
    calibration,
    keepFirstLast: false,
    maxError: bound,
  });
  const layer = r.layers[worst];
  ok(!layer.scheme && /maxError/.test(layer.skipped!), JSON.stringify(layer));
  deepStrictEqual(layer.errorRefit, errors[worst], "the report keeps the error it measured");
  const w = await prunedWeights(r.bytes);
  const [wn, bn] = [["wa", "ba"], ["wb", "bb"], ["wc", "bc"]][worst];
  deepStrictEqual(w(wn), (weights as Record<string, Tensor>)[wn].data, "weights restored");
  deepStrictEqual(w(bn), (weights as Record<string, Tensor>)[bn].data, "refit bias restored");
  // The layers before it are unchanged; after it, they see a different input, and either
  // stay within the bound or are kept dense too.
  for (const [i, l] of r.layers.entries()) {
    if (i < worst) deepStrictEqual(l.errorRefit, errors[i]);
    ok(l.scheme ? l.errorRefit! <= bound : /maxError/.test(l.skipped!), JSON.stringify(l));
  }
});

Deno.test("refitLast: the dense last layer is refit to the pruned model's inputs, and only it", async () => {
  const on = await pruneOnnx(net, { scheme: "c4n:3", calibration });
  const off = await pruneOnnx(net, { scheme: "c4n:3", calibration, refitLast: false });
  const [won, woff] = [await prunedWeights(on.bytes), await prunedWeights(off.bytes)];
  deepStrictEqual(on.layers.map((l) => l.scheme), [undefined, "c4n:3", undefined]);
  // First layer: the model's own input, nothing to refit; the same in both.
  deepStrictEqual(won("wa"), weights.wa.data);
  deepStrictEqual(won("wb"), woff("wb"));
  // Last layer: dense either way; refit only with refitLast, and its error drops.
  deepStrictEqual(woff("wc"), weights.wc.data);
  ok(won("wc").every((v) => v !== 0) && won("wc").some((v, i) => v !== weights.wc.data[i]));
  // With OBS masks too: the last layer keeps every weight.
  const obs = await pruneOnnx(net, { scheme: "c4n:3", calibration, mask: "obs" });
  ok((await prunedWeights(obs.bytes))("wc").every((v) => v !== 0), "obs: last layer dense");
  ok(/refitLast/.test(obs.layers[2].note!), obs.layers[2].note);
  const last = on.layers[2];
  ok(/refitLast/.test(last.note!) && last.errorRefit! < 0.8 * last.errorMagnitude!, `${last.note}`);
  // Held-out inputs: the whole model moves less from dense with the last layer refit.
  const { loadModel } = await import("../../../engine/model.ts");
  const [dense, a, b] = await Promise.all([net, on.bytes, off.bytes].map((m) => loadModel(m)));
  let [ea, eb] = [0, 0];
  for (let s = 0; s < 4; s++) {
    const x = new Float32Array(800);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.05 + 3 + s) + 0.3 * rng.uniform();
    const feeds = { x: new Tensor("float32", x, [1, 8, 10, 10]) };
    const y = (await dense.run(feeds)).y.data as Float32Array;
    const ya = (await a.run(feeds)).y.data as Float32Array;
    const yb = (await b.run(feeds)).y.data as Float32Array;
    y.forEach((v, i) => [ea, eb] = [ea + (ya[i] - v) ** 2, eb + (yb[i] - v) ** 2]);
  }
  [dense, a, b].forEach((m) => m.dispose());
  ok(ea < eb, `held-out squared error: refit last ${ea}, not refit ${eb}`);
});

Deno.test("mask: magnitude, obs and obs-swap give exact C4n with calibration; obs is the default", async () => {
  const run = (mask?: "magnitude" | "obs" | "obs-swap") =>
    pruneOnnx(net, { scheme: "c4n:2", calibration, keepFirstLast: false, mask });
  const [byDefault, magnitude, obs, swap] = await Promise.all([
    run(),
    run("magnitude"),
    run("obs"),
    run("obs-swap"),
  ]);
  deepStrictEqual(byDefault.bytes, obs.bytes, "the default is obs");
  // The swaps lower each row's compensated error on the inputs the first layer's refit fits
  // (the model's own): here its refit error drops by 6 %; asserted with half that margin.
  ok(swap.layers[0].errorRefit! < 0.97 * obs.layers[0].errorRefit!, JSON.stringify(swap.layers));
  for (const r of [magnitude, obs, swap]) {
    const w = await prunedWeights(r.bytes);
    for (const name of ["wa", "wb", "wc"]) {
      const v = w(name);
      for (let g = 0; g < v.length; g += 4) {
        deepStrictEqual([...v.subarray(g, g + 4)].filter((x) => x === 0).length, 2, name);
      }
    }
    ok(r.layers.every((l) => l.errorRefit! < l.errorMagnitude!), JSON.stringify(r.layers));
  }
});

Deno.test("bad option values are InvalidArgumentErrors naming the option", async () => {
  for (
    const [options, pattern] of [
      [{ mask: "best" }, /Unknown mask "best"/],
      [{ maxError: 0 }, /maxError option must be/],
      [{ maxError: Number.NaN }, /maxError option must be/],
      [{ maxColumns: 0 }, /maxColumns option must be/],
      [{ maxColumns: 2.5 }, /maxColumns option must be/],
      // Misspelt names, values of the wrong type, a filter that selects nothing.
      [{ allLayers: true }, /Unknown option "allLayers" for pruneOnnx\(\)/],
      [{ keepFirstLast: "no" }, /"keepFirstLast" of pruneOnnx\(\) takes true or false/],
      [{ maxError: "0.1" }, /maxError option must be a number/],
      [{ onLayer: 5 }, /onLayer option must be a function/],
      [{ scheme: 42 }, /scheme option of pruneOnnx\(\) must be a string/],
      [{ layers: "^nothing$" }, /selects none of the weight layers \(a, b, c\)/],
      [{ calibration: [null] }, /calibration option must be a list of samples/],
    ] as const
  ) {
    await rejects(
      pruneOnnx(net, { scheme: "c4n:2", ...(options as object) }),
      (e) => e instanceof InvalidArgumentError && pattern.test(e.message),
      JSON.stringify(options),
    );
  }
  await rejects(
    pruneOnnx(net, undefined as unknown as { scheme: string }),
    (e) => e instanceof InvalidArgumentError && /needs options/.test(e.message),
  );
  // One NaN would poison every Gram matrix (masks and refits) without a visible error.
  const nan = calibration.map((c) => ({ x: new Tensor("float32", c.x.data.slice(), c.x.dims) }));
  (nan[2].x.data as Float32Array)[17] = Number.NaN;
  await rejects(
    pruneOnnx(net, { scheme: "c4n:2", calibration: nan }),
    (e) =>
      e instanceof InvalidArgumentError &&
      /Calibration sample 2, input "x": element 17 is NaN/.test(e.message),
  );
});
