import { deepStrictEqual, ok } from "node:assert/strict";
import type { Graph, Node } from "../../engine/ir/graph.ts";
import { loadModel } from "../../engine/model.ts";
import { chromeTrace, profileSvg } from "../../engine/profile_report.ts";
import { Tensor } from "../../engine/tensor.ts";
import { Random } from "../_random.ts";

Deno.test("a profiled run names every node and its times add up to the run time", async () => {
  const rng = new Random(2);
  const n = 384;
  const nodes: Node[] = [];
  const init = new Map<string, Tensor>();
  for (let i = 0; i < 4; i++) {
    init.set(`w${i}`, new Tensor("float32", rng.floats(n * n, -0.05, 0.05), [n, n]));
    nodes.push({
      name: `layer${i}`,
      op: "MatMul",
      domain: "",
      inputs: [i === 0 ? "x" : `h${i - 1}`, `w${i}`],
      outputs: [i === 3 ? "y" : `h${i}`],
      attributes: {},
    });
  }
  const graph: Graph = {
    name: "chain",
    nodes,
    inputs: [{ name: "x", type: "float32", dims: [n, n] }],
    outputs: [{ name: "y", type: "float32", dims: [n, n] }],
    initializers: init,
    valueInfo: new Map(),
  };
  const model = await loadModel({ graph, opsets: { "": 17 } });
  const x = new Tensor("float32", rng.floats(n * n), [n, n]);
  model.runSync({ x });
  let best = Infinity;
  let profileSum = 0;
  // Noisy machine (other test files run in parallel): keep the run whose profile and wall time
  // agree best, trying until one agrees or 40 runs (each ~10 ms) have been tried.
  for (let attempt = 0; attempt < 40 && best > 0.1; attempt++) {
    const t0 = performance.now();
    model.runSync({ x }, { profile: true });
    const wall = performance.now() - t0;
    const sum = model.lastProfile!.reduce((s, p) => s + p.ms, 0);
    if (Math.abs(wall - sum) / wall < best) {
      best = Math.abs(wall - sum) / wall;
      profileSum = sum;
    }
  }
  ok(
    best <= 0.1,
    `profile sum ${profileSum.toFixed(2)} ms is off the run time by ${(best * 100).toFixed(1)} %`,
  );
  const p = model.lastProfile!;
  deepStrictEqual(p.map((e) => e.node), ["layer0", "layer1", "layer2", "layer3"]);
  deepStrictEqual(p[0].outputs, [[n, n]]);
  const trace = JSON.parse(chromeTrace(p));
  deepStrictEqual(trace.traceEvents.map((e: { name: string }) => e.name), p.map((e) => e.node));
  ok(trace.traceEvents.every((e: { ph: string; dur: number }) => e.ph === "X" && e.dur >= 0));
  const svg = profileSvg(p);
  ok(svg.startsWith("<svg") && p.every((e) => svg.includes(e.node)));
  model.dispose();
});
