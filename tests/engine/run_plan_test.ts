/**
 * The run plan: later runs with the same input dims replay the recorded kernel calls on fixed
 * offsets. Every answer here is checked against a scalar reference written from the ops'
 * definitions, and the replayed runs are checked to be replays (summary().runPlan), so that a
 * guard that never fires or a plan that is never used shows up.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { Tensor } from "../../mod.ts";
import type { Graph } from "../../engine/ir/graph.ts";
import { loadModel, type Model } from "../../engine/model.ts";
import { Arena } from "../../engine/wasm/arena.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import { gemmReference } from "../reference/gemm.ts";
import { graph, model, node } from "../_ir.ts";

function f32(data: Float32Array, dims: number[]): Tensor<"float32"> {
  return new Tensor("float32", data, dims);
}

function i64(values: number[], dims = [values.length]): Tensor<"int64"> {
  return new Tensor("int64", BigInt64Array.from(values, BigInt), dims);
}

function plan(m: Model) {
  return m.summary().runPlan as { bytes: number; replays: number; reason?: string };
}

const rng = new Random(21);

Deno.test("a streaming model replays its runs: same answers as the definition, state carried", async () => {
  // h' = tanh(x W + h U): the state comes back as a feed every run, like an RNN's.
  const k = 37;
  const n = 29;
  const W = rng.floats(k * n).map((v) => v - 0.5);
  const U = rng.floats(n * n).map((v) => (v - 0.5) * 0.3);
  const m = await loadModel(model(graph(
    [
      node("MatMul", ["x", "w"], ["a"]),
      node("MatMul", ["h", "u"], ["b"]),
      node("Add", ["a", "b"], ["s"]),
      node("Tanh", ["s"], ["hn"]),
    ],
    [{ name: "x", type: "float32", dims: [1, k] }, { name: "h", type: "float32", dims: [1, n] }],
    [{ name: "hn", type: "float32", dims: [1, n] }],
    [["w", f32(W, [k, n])], ["u", f32(U, [n, n])]],
  )));
  let h = new Float32Array(n);
  let ours = f32(new Float32Array(n), [1, n]);
  for (let t = 0; t < 40; t++) {
    const x = rng.floats(k).map((v) => v - 0.5);
    const out = await m.run({ x: f32(x, [1, k]), h: ours });
    const a = gemmReference(x, W, 1, k, n);
    const b = gemmReference(h, U, 1, n, n);
    h = a.map((v, i) => Math.tanh(v + b[i]));
    assertClose(out.hn.data as Float32Array, h, { rtol: 1e-5, atol: 1e-6 }, `step ${t}`);
    ours = out.hn as Tensor<"float32">;
  }
  const p = plan(m);
  ok(p.replays >= 37, `replays: ${JSON.stringify(p)}`);
  m.dispose();
});

Deno.test("a replay stops at a guard: a fed value deciding an If or a shape runs the executor", async () => {
  // sr picks the branch (sr == 16000: x + x, else -x), and `shape` the output's dims.
  const branch = (op: string): Graph =>
    graph([node(op, ["x", "x"].slice(0, op === "Add" ? 2 : 1), ["out"])], [], [{
      name: "out",
      type: "float32",
    }]);
  const m = await loadModel(model(graph(
    [
      node("Equal", ["sr", "sr16k"], ["is16k"]),
      node("If", ["is16k"], ["y"], { then_branch: branch("Add"), else_branch: branch("Neg") }),
      node("Reshape", ["y", "shape"], ["z"]),
    ],
    [
      { name: "x", type: "float32", dims: [12] },
      { name: "sr", type: "int64", dims: [] },
      { name: "shape", type: "int64", dims: [2] },
    ],
    [{ name: "z", type: "float32", dims: ["a", "b"] }],
    [["sr16k", i64([16000], [])]],
  )));
  const runs: [number, number[]][] = [
    [16000, [3, 4]],
    [16000, [3, 4]],
    [16000, [3, 4]],
    [8000, [3, 4]], // the If goes the other way
    [8000, [3, 4]],
    [8000, [3, 4]],
    [8000, [6, 2]], // same feed dims, other output dims
    [8000, [6, 2]],
    [8000, [6, 2]],
  ];
  let replays = 0;
  for (const [sr, shape] of runs) {
    const x = rng.floats(12).map((v) => v - 0.5);
    const out = await m.run({ x: f32(x, [12]), sr: i64([sr], []), shape: i64(shape) });
    deepStrictEqual(out.z.dims, shape, `sr ${sr} shape ${shape}`);
    deepStrictEqual([...out.z.data as Float32Array], [...x].map((v) => sr === 16000 ? v + v : -v));
    const p = plan(m);
    if ("replays" in p) replays = p.replays;
  }
  // Each change of sr or shape costs one run through the executor, which records again; the
  // first run also uploads sr16k (kept memory), so the second records: 5 replays.
  deepStrictEqual(replays, 5);
  m.dispose();
});

Deno.test("the plan is used by later runs, not recorded on every run", async () => {
  const m = await loadModel(model(graph(
    [node("Relu", ["x"], ["r"]), node("Softmax", ["r"], ["y"], { axis: -1 })],
    [{ name: "x", type: "float32", dims: [3, 5] }],
    [{ name: "y", type: "float32", dims: [3, 5] }],
  )));
  for (let i = 0; i < 10; i++) {
    const x = rng.floats(15).map((v) => 4 * v - 2);
    const out = await m.run({ x: f32(x, [3, 5]) });
    for (let r = 0; r < 3; r++) {
      const row = [...x.subarray(5 * r, 5 * r + 5)].map((v) => Math.max(v, 0));
      const e = row.map((v) => Math.exp(v - Math.max(...row)));
      const sum = e.reduce((a, b) => a + b);
      assertClose((out.y.data as Float32Array).subarray(5 * r, 5 * r + 5), e.map((v) => v / sum));
    }
  }
  // The first run is recorded (a model whose first run packs weights records the second).
  deepStrictEqual(plan(m).replays, 9);
  m.dispose();
});

Deno.test("replaying costs no memory: the arena peak equals the executor's", async () => {
  const k = 64;
  const W = rng.floats(k * k).map((v) => v - 0.5);
  const build = () =>
    model(graph(
      [
        node("MatMul", ["x", "w"], ["a"]),
        node("Relu", ["a"], ["b"]),
        node("MatMul", ["b", "w"], ["c"]),
        node("Sigmoid", ["c"], ["y"]),
      ],
      [{ name: "x", type: "float32", dims: [8, k] }],
      [{ name: "y", type: "float32", dims: [8, k] }],
      [["w", f32(W, [k, k])]],
    ));
  const on = await loadModel(build());
  const off = await loadModel(build(), { replay: false });
  for (let i = 0; i < 6; i++) {
    const x = f32(rng.floats(8 * k), [8, k]);
    const a = await on.run({ x });
    const b = await off.run({ x });
    deepStrictEqual([...a.y.data as Float32Array], [...b.y.data as Float32Array]);
  }
  ok(plan(on).replays >= 4);
  deepStrictEqual(plan(off).reason, "replay is off (loadModel option replay: false)");
  ok(
    on.summary().peakMemoryBytes <= off.summary().peakMemoryBytes,
    `${on.summary().peakMemoryBytes} > ${off.summary().peakMemoryBytes}`,
  );
  on.dispose();
  off.dispose();
});

Deno.test("new feed dims run the executor and get a plan of their own", async () => {
  const m = await loadModel(model(graph(
    [node("Mul", ["x", "x"], ["y"])],
    [{ name: "x", type: "float32", dims: ["n"] }],
    [{ name: "y", type: "float32", dims: ["n"] }],
  )));
  for (const n of [5, 5, 5, 7, 7, 7, 5, 5]) {
    const x = rng.floats(n);
    const out = await m.run({ x: f32(x, [n]) });
    deepStrictEqual(out.y.dims, [n]);
    assertClose(out.y.data as Float32Array, x.map((v) => v * v));
  }
  ok(plan(m).replays >= 1);
  m.dispose();
});

Deno.test("a model whose dims depend on the data is never replayed, and says why", async () => {
  const m = await loadModel(model(graph(
    [node("NonZero", ["x"], ["y"])],
    [{ name: "x", type: "float32", dims: [6] }],
    [{ name: "y", type: "int64", dims: [1, "k"] }],
  )));
  for (const x of [[0, 1, 0, 2, 0, 0], [1, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 3]]) {
    const out = await m.run({ x: f32(Float32Array.from(x), [6]) });
    const want = x.flatMap((v, i) => (v !== 0 ? [BigInt(i)] : []));
    deepStrictEqual([...out.y.data as BigInt64Array], want);
  }
  ok(/depend on the data/.test(plan(m).reason ?? ""), JSON.stringify(plan(m)));
  m.dispose();
});

Deno.test("a profiled run goes through the executor, and replays resume after it", async () => {
  const m = await loadModel(model(graph(
    [node("Relu", ["x"], ["r"]), node("Neg", ["r"], ["y"])],
    [{ name: "x", type: "float32", dims: [9] }],
    [{ name: "y", type: "float32", dims: [9] }],
  )));
  for (let i = 0; i < 8; i++) {
    const x = rng.floats(9).map((v) => v - 0.5);
    const out = await m.run({ x: f32(x, [9]) }, { profile: i === 4 });
    deepStrictEqual([...out.y.data as Float32Array], [...x].map((v) => -Math.max(v, 0)));
    if (i === 4) deepStrictEqual(m.lastProfile?.map((p) => p.op), ["Relu", "Neg"]);
  }
  ok(plan(m).replays >= 2);
  m.dispose();
});

Deno.test("arena: claim takes exactly a free block, and a script replays allocations in order", () => {
  const arena = new Arena({ base: 1024 });
  const a = arena.alloc(256);
  const b = arena.alloc(128);
  const c = arena.alloc(64);
  arena.free(b);
  // b's place is free again: claiming it succeeds once, and not while it is taken.
  ok(arena.claim(b, 128));
  ok(!arena.claim(b, 64));
  ok(!arena.claim(a, 64), "a is in use");
  // Past the top: the arena grows to hold it.
  const far = c + 64 * 10;
  ok(arena.claim(far, 64));
  ok(arena.peakBytes >= far + 64 - 1024);
  const d = arena.alloc(64);
  ok(d < far && d !== b && d !== c, `d at ${d}`);
  // Scripted: the same sizes in the same order get the given offsets, frees of them are no-ops.
  arena.script([b, 128, b, 64]);
  deepStrictEqual(arena.alloc(100), b);
  arena.free(b);
  deepStrictEqual(arena.alloc(64), b);
  // Off script: an ordinary block, never one of the claimed ones.
  const e = arena.alloc(128);
  ok(e !== b && e !== far, `e at ${e}`);
  arena.script(undefined);
  arena.free(e);
  arena.free(b);
  arena.free(far);
  ok(arena.claim(far, 64), "freed, the place can be claimed again");
});
