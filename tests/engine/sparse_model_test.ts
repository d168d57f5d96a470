import { deepStrictEqual, ok } from "node:assert/strict";
import { loadModel } from "../../engine/model.ts";
import { Tensor } from "../../engine/tensor.ts";
import { buildModel, oneNodeModel } from "../_onnx_builder.ts";
import { runOrt } from "../_ort.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import { c4nWeights, patternWeights } from "../reference/sparse.ts";
import { blockSparseWeights } from "../reference/block_sparse.ts";

/** A one-layer MatMul (W k x n) or Gemm (transB, Wᵀ n x k, with bias) + Relu model from Wᵀ. */
function gemvModel(
  op: "MatMul" | "Gemm",
  rows: number,
  k: number,
  n: number,
  wt: Float32Array,
  bias: Float32Array,
): Uint8Array {
  const gemm = op === "Gemm";
  const w = gemm ? wt : new Float32Array(k * n).map((_, i) => wt[(i % n) * k + Math.floor(i / n)]);
  return buildModel({
    nodes: [
      gemm
        ? { op: "Gemm", inputs: ["x", "w", "b"], outputs: ["g"], attributes: { transB: 1 } }
        : { op: "MatMul", inputs: ["x", "w"], outputs: ["g"] },
      { op: "Relu", inputs: ["g"], outputs: ["y"] },
    ],
    inputs: [{ name: "x", dims: [rows, k] }],
    outputs: [{ name: "y" }],
    initializers: {
      w: new Tensor("float32", w, gemm ? [n, k] : [k, n]),
      ...(gemm ? { b: new Tensor("float32", bias, [n]) } : {}),
    },
  });
}

Deno.test("C4n-pruned convs run sparse, match onnxruntime, and match the dense run", async () => {
  const rng = new Random(12);
  for (const [n, kh, cin, cout, hw] of [[2, 1, 64, 48, 13], [3, 3, 16, 24, 11], [2, 3, 13, 9, 8]]) {
    const k = cin * kh * kh;
    const w = c4nWeights(rng, cout, k, n);
    const bias = rng.floats(cout);
    const bytes = oneNodeModel(
      "Conv",
      [{ name: "x", dims: [1, cin, hw, hw] }, { name: "w" }, { name: "b" }],
      [{ name: "y" }],
      { kernel_shape: [kh, kh], pads: kh === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] },
      {
        initializers: {
          w: new Tensor("float32", w, [cout, cin, kh, kh]),
          b: new Tensor("float32", bias, [cout]),
        },
      },
    );
    const x = new Tensor("float32", rng.floats(cin * hw * hw), [1, cin, hw, hw]);
    const want = await runOrt(bytes, { x });
    const sparse = await loadModel(bytes);
    const got = await sparse.run({ x });
    const choices = sparse.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), [`c4n:${n}`], JSON.stringify(choices));
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
    const dense = await loadModel(bytes, { sparse: "off" });
    const d = await dense.run({ x });
    ok(dense.summary().kernelChoices.every((c) => c.format === "dense"));
    assertClose(got.y.data as Float32Array, d.y.data as Float32Array, { rtol: 1e-4, atol: 1e-5 });
    sparse.dispose();
    dense.dispose();
  }
});

Deno.test("C4,2 convs with only a few output pixels stay dense: the SpMM tail costs more", async () => {
  const rng = new Random(13);
  // 8 pixels: no full 32-column panel, where C4,2 measured 0.6–0.9x dense.
  const w = c4nWeights(rng, 32, 64 * 3, 2);
  const bytes = oneNodeModel(
    "Conv",
    [{ name: "x", dims: [1, 64, 8] }, { name: "w" }],
    [{ name: "y" }],
    { kernel_shape: [3], pads: [1, 1] },
    { initializers: { w: new Tensor("float32", w, [32, 64, 3]) } },
  );
  const m = await loadModel(bytes);
  await m.run({ x: new Tensor("float32", rng.floats(64 * 8), [1, 64, 8]) });
  const [choice] = m.summary().kernelChoices;
  deepStrictEqual(choice.format, "dense");
  ok(/C4,2 structure found .* at 8 columns/.test(choice.reason), choice.reason);
  m.dispose();
});

Deno.test("pattern-pruned 3x3 convs run sparse, match onnxruntime, and match the dense run", async () => {
  const rng = new Random(21);
  // Conv → Relu → Add (residual) so the fused epilogue and residual ride in the pattern kernel.
  for (const [cin, cout, h, w, s] of [[24, 16, 19, 23, 1], [12, 20, 17, 30, 2], [32, 8, 5, 6, 1]]) {
    const weights = patternWeights(rng, cout, cin, 8, 0.4);
    const bias = rng.floats(cout);
    const oh = Math.floor((h + 2 - 3) / s) + 1;
    const ow = Math.floor((w + 2 - 3) / s) + 1;
    const bytes = buildModel({
      nodes: [
        {
          op: "Conv",
          inputs: ["x", "w", "b"],
          outputs: ["c"],
          attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [s, s] },
        },
        { op: "Relu", inputs: ["c"], outputs: ["r"] },
        { op: "Add", inputs: ["r", "skip"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", dims: [2, cin, h, w] }, { name: "skip", dims: [2, cout, oh, ow] }],
      outputs: [{ name: "y" }],
      initializers: {
        w: new Tensor("float32", weights, [cout, cin, 3, 3]),
        b: new Tensor("float32", bias, [cout]),
      },
    });
    const feeds = {
      x: new Tensor("float32", rng.floats(2 * cin * h * w), [2, cin, h, w]),
      skip: new Tensor("float32", rng.floats(2 * cout * oh * ow), [2, cout, oh, ow]),
    };
    const want = await runOrt(bytes, feeds);
    const sparse = await loadModel(bytes);
    const got = await sparse.run(feeds);
    const choices = sparse.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), ["pattern3x3"], JSON.stringify(choices));
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, tol);
    const dense = await loadModel(bytes, { sparse: "off" });
    ok(dense.summary().kernelChoices.every((c) => c.format === "dense"));
    assertClose(got.y.data as Float32Array, (await dense.run(feeds)).y.data as Float32Array, tol);
    for (const threads of [2, 4]) {
      const threaded = await loadModel(bytes, { threads });
      const t = await threaded.run(feeds);
      assertClose(t.y.data as Float32Array, got.y.data as Float32Array, { rtol: 0, atol: 0 });
      threaded.dispose();
    }
    sparse.dispose();
    dense.dispose();
  }
});

Deno.test("block-sparse MatMul / Gemm weights run the block GEMV, match onnxruntime and dense", async () => {
  const rng = new Random(33);
  // [op, rows of A, k, n, expected format]: products of more than 4 rows run the dense GEMM,
  // so a layer whose first run has 6 rows keeps no block-sparse copy.
  const cases = [
    ["MatMul", 1, 300, 70, "block:16x256"],
    ["Gemm", 3, 64, 200, "block:16x256"],
    ["Gemm", 6, 40, 33, "dense"],
  ] as const;
  for (const [op, rows, k, n, format] of cases) {
    // Wᵀ (n x k) block-sparse: half the rows and half the columns of each block kept.
    const wt = blockSparseWeights(rng, n, k, { rowKeep: 0.5, colKeep: 0.5 });
    const bytes = gemvModel(op, rows, k, n, wt, rng.floats(n));
    const feeds = { x: new Tensor("float32", rng.floats(rows * k), [rows, k]) };
    const want = await runOrt(bytes, feeds);
    const sparse = await loadModel(bytes);
    const got = await sparse.run(feeds);
    const choices = sparse.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), [format], JSON.stringify(choices));
    if (format === "dense") ok(/products have 6 rows/.test(choices[0].reason), choices[0].reason);
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, tol);
    const dense = await loadModel(bytes, { sparse: "off" });
    assertClose(got.y.data as Float32Array, (await dense.run(feeds)).y.data as Float32Array, tol);
    const threaded = await loadModel(bytes, { threads: 2 });
    assertClose(
      (await threaded.run(feeds)).y.data as Float32Array,
      got.y.data as Float32Array,
      { rtol: 0, atol: 0 },
    );
    for (const m of [sparse, dense, threaded]) m.dispose();
  }
});

Deno.test("C4n MatMul / Gemm weights run the C4n GEMV, match onnxruntime and dense", async () => {
  const rng = new Random(34);
  // [op, rows of A, k, n, zeros per group, expected format]: C4,3 pays off from a reduction of
  // a few hundred, also with few outputs (80, not a multiple of the kernel's 16-row blocks); a
  // reduction of 48 stays dense (each row block's fixed cost), as does C4,2 while its weights
  // fit in cache (measured slower than dense there); C4,2 weights too big for the cache
  // (16.9 MB dense) stream, and go sparse, unless the products have more than 4 rows (the
  // several-input C4,2 kernel is no faster than the dense GEMM: no C4n copy); C4,3 products of
  // more rows run the several-input C4n kernel.
  const cases = [
    ["MatMul", 1, 301, 1024, 3, "c4n:3"],
    ["Gemm", 3, 257, 1100, 3, "c4n:3"],
    ["Gemm", 9, 257, 1100, 3, "c4n:3"],
    ["Gemm", 1, 512, 1024, 2, "dense"],
    ["MatMul", 1, 1536, 83, 3, "c4n:3"],
    ["MatMul", 1, 48, 1536, 3, "dense"],
    ["MatMul", 2, 2048, 2061, 2, "c4n:2"],
    ["MatMul", 7, 2048, 2061, 2, "dense"],
  ] as const;
  for (const [op, rows, k, n, zeros, format] of cases) {
    const wt = c4nWeights(rng, n, k, zeros);
    const bytes = gemvModel(op, rows, k, n, wt, rng.floats(n));
    const feeds = { x: new Tensor("float32", rng.floats(rows * k), [rows, k]) };
    const want = await runOrt(bytes, feeds);
    const sparse = await loadModel(bytes, { kernels: "relaxed" });
    const got = await sparse.run(feeds);
    const choices = sparse.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), [format], JSON.stringify(choices));
    if (rows > 4 && format === "dense") {
      ok(/products have 7 rows/.test(choices[0].reason), choices[0].reason);
    }
    const tol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(k) };
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, tol, `${op} ${k}x${n}`);
    const dense = await loadModel(bytes, { sparse: "off" });
    assertClose(got.y.data as Float32Array, (await dense.run(feeds)).y.data as Float32Array, tol);
    const threaded = await loadModel(bytes, { threads: 2, kernels: "relaxed" });
    assertClose(
      (await threaded.run(feeds)).y.data as Float32Array,
      got.y.data as Float32Array,
      { rtol: 0, atol: 0 },
    );
    for (const m of [sparse, dense, threaded]) m.dispose();
  }
});

Deno.test("an LSTM's block-sparse input weights are packed block-sparse only when its input products are GEMVs", async () => {
  // The block-sparse kernel serves products of up to 4 rows: one step of one sequence does,
  // 9 steps x 2 sequences (18 rows in one product) run the dense GEMM, so no block copy.
  const rng = new Random(53);
  const [input, hidden] = [300, 64];
  const w = blockSparseWeights(rng, 4 * hidden, input, { rowKeep: 0.5, colKeep: 0.5 });
  const r = rng.floats(4 * hidden * hidden).map((v) => v * 0.2);
  const b = rng.floats(8 * hidden);
  for (const [seq, batch, format] of [[1, 1, "block:16x256"], [9, 2, "dense"]] as const) {
    const bytes = buildModel({
      nodes: [{
        op: "LSTM",
        inputs: ["x", "W", "R", "B"],
        outputs: ["y"],
        attributes: { hidden_size: hidden },
      }],
      inputs: [{ name: "x", dims: [seq, batch, input] }],
      outputs: [{ name: "y", dims: [seq, 1, batch, hidden] }],
      initializers: {
        W: new Tensor("float32", w, [1, 4 * hidden, input]),
        R: new Tensor("float32", r, [1, 4 * hidden, hidden]),
        B: new Tensor("float32", b, [1, 8 * hidden]),
      },
    }, 14);
    const feeds = {
      x: new Tensor("float32", rng.floats(seq * batch * input), [seq, batch, input]),
    };
    const model = await loadModel(bytes);
    const got = await model.run(feeds);
    const choices = model.summary().kernelChoices;
    deepStrictEqual(choices.map((c) => c.format), [format], JSON.stringify(choices));
    if (format === "dense") ok(/products have 18 rows/.test(choices[0].reason), choices[0].reason);
    const want = await runOrt(bytes, feeds);
    assertClose(got.y.data as Float32Array, want.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
    model.dispose();
  }
});

Deno.test("LSTM and GRU with C4,3 input weights run the C4n kernels and match onnxruntime and dense", async () => {
  // W's rows (gate units) are C4,3 along the input axis; 9 steps x 2 sequences: the input
  // products have 18 rows, so they go through the several-input C4n kernel.
  const rng = new Random(52);
  const [seq, batch, input, hidden] = [9, 2, 300, 64];
  for (const [op, gates] of [["LSTM", 4], ["GRU", 3]] as const) {
    const w = c4nWeights(rng, gates * hidden, input, 3);
    const bytes = buildModel({
      nodes: [{
        op,
        inputs: ["x", "W", "R", "B"],
        outputs: ["y", "h"],
        attributes: { hidden_size: hidden },
      }],
      inputs: [{ name: "x", dims: [seq, batch, input] }],
      outputs: [{ name: "y", dims: [seq, 1, batch, hidden] }, {
        name: "h",
        dims: [1, batch, hidden],
      }],
      initializers: {
        W: new Tensor("float32", w, [1, gates * hidden, input]),
        R: new Tensor("float32", rng.floats(gates * hidden * hidden).map((v) => v * 0.2), [
          1,
          gates * hidden,
          hidden,
        ]),
        B: new Tensor("float32", rng.floats(2 * gates * hidden), [1, 2 * gates * hidden]),
      },
    }, 14);
    const feeds = {
      x: new Tensor("float32", rng.floats(seq * batch * input), [seq, batch, input]),
    };
    const want = await runOrt(bytes, feeds);
    const sparse = await loadModel(bytes, { kernels: "relaxed" });
    const got = await sparse.run(feeds);
    const formats = sparse.summary().kernelChoices.map((c) => c.format);
    ok(formats.includes("c4n:3"), `${op}: ${JSON.stringify(sparse.summary().kernelChoices)}`);
    const dense = await loadModel(bytes, { sparse: "off" });
    const plain = await dense.run(feeds);
    const tol = { rtol: 1e-4, atol: 1e-4 };
    for (const name of ["y", "h"]) {
      assertClose(
        got[name].data as Float32Array,
        want[name].data as Float32Array,
        tol,
        `${op} ${name}`,
      );
      assertClose(
        got[name].data as Float32Array,
        plain[name].data as Float32Array,
        tol,
        `${op} ${name} dense`,
      );
    }
    sparse.dispose();
    dense.dispose();
  }
});

Deno.test("sparse kernels skip pruned zeros: an infinite input meeting only them stays finite", async () => {
  // The documented difference from a dense product (0 × ∞ = NaN): a C4,3 weight whose column 5
  // is pruned in every row, fed x[5] = ∞, gives finite outputs sparse and NaN dense.
  const rng = new Random(35);
  const [k, n] = [301, 1024];
  const wt = c4nWeights(rng, n, k, 3);
  for (let r = 0; r < n; r++) {
    const g = r * k + 4;
    const kept = wt.subarray(g, g + 4).findIndex((v) => v !== 0);
    // Move the row's survivor of group 1 off position 1 (column 5), keeping 3 zeros.
    if (kept === 1) [wt[g], wt[g + 1]] = [wt[g + 1], 0];
  }
  const bytes = gemvModel("MatMul", 1, k, n, wt, new Float32Array(n));
  const x = rng.floats(k);
  x[5] = Infinity;
  const feeds = { x: new Tensor("float32", x, [1, k]) };
  const sparse = await loadModel(bytes);
  const dense = await loadModel(bytes, { sparse: "off" });
  ok((await sparse.run(feeds)).y.data.every((v) => Number.isFinite(v)));
  deepStrictEqual(sparse.summary().kernelChoices.map((c) => c.format), ["c4n:3"]);
  ok((await dense.run(feeds)).y.data.every((v) => Number.isNaN(v)));
  for (const m of [sparse, dense]) m.dispose();
});
