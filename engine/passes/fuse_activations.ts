/**
 * Fuses activations into the producing Conv / ConvTranspose / Gemm / MatMul so they run in the
 * kernel epilogue while the tile is still in registers: Relu, Clip with constant bounds,
 * LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, and SiLU written as x * Sigmoid(x); a
 * HardSwish followed by a scalar Mul and / or Add as `hardswish_affine`.
 *
 * @module
 */
import type { Activation } from "../../kernels-as/activations.ts";
import { type Graph, type Node, readsOf } from "../ir/graph.ts";

/** Producers whose ops honour `fused_activation` / `fused_p0` / `fused_p1`. */
const PRODUCERS = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul"]);

function consumers(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of readsOf(n)) {
      if (!i) continue;
      const list = map.get(i) ?? [];
      list.push(n);
      map.set(i, list);
    }
  }
  return map;
}

function scalarConstant(graph: Graph, name: string | undefined): number | undefined {
  if (!name) return undefined;
  const t = graph.initializers.get(name);
  if (!t || t.data.length !== 1 || t.type !== "float32") return undefined;
  return (t.data as Float32Array)[0];
}

/** The activation a node computes, when it is one a kernel epilogue can apply. */
function asActivation(graph: Graph, n: Node): [Activation, number, number] | undefined {
  const a = n.attributes;
  switch (n.op) {
    case "Relu":
      return ["clamp", 0, Infinity];
    case "Clip": {
      if (n.inputs.length > 1) {
        const lo = n.inputs[1] ? scalarConstant(graph, n.inputs[1]) : -Infinity;
        const hi = n.inputs[2] ? scalarConstant(graph, n.inputs[2]) : Infinity;
        if (lo === undefined || hi === undefined) return undefined;
        return ["clamp", lo, hi];
      }
      return [
        "clamp",
        (a.min as number | undefined) ?? -Infinity,
        (a.max as number | undefined) ?? Infinity,
      ];
    }
    case "LeakyRelu":
      return ["leakyrelu", (a.alpha as number | undefined) ?? 0.01, 0];
    case "Sigmoid":
      return ["sigmoid", 0, 0];
    case "Tanh":
      return ["tanh", 0, 0];
    case "HardSigmoid":
      return [
        "hardsigmoid",
        (a.alpha as number | undefined) ?? 0.2,
        (a.beta as number | undefined) ?? 0.5,
      ];
    case "HardSwish":
      return ["hardswish", 0, 0];
  }
  return undefined;
}

function only(uses: Map<string, Node[]>, name: string, op: string): Node | undefined {
  const u = uses.get(name) ?? [];
  return u.length === 1 && u[0].op === op ? u[0] : undefined;
}

/** Add(x, 3) → Clip(0, 6) → Mul(x, ·) → Div(·, 6): the four nodes, or undefined. */
function hardSwishChain(
  graph: Graph,
  uses: Map<string, Node[]>,
  x: string,
  users: Node[],
): Node[] | undefined {
  const add = users.find((u) => u.op === "Add");
  const mul = users.find((u) => u.op === "Mul");
  if (!add || !mul || add.inputs.length !== 2) return undefined;
  const three = scalarConstant(graph, add.inputs[add.inputs[0] === x ? 1 : 0]);
  if (three !== 3) return undefined;
  const clip = only(uses, add.outputs[0], "Clip");
  if (!clip) return undefined;
  const bounds = asActivation(graph, clip);
  if (!bounds || bounds[1] !== 0 || bounds[2] !== 6) return undefined;
  if (only(uses, clip.outputs[0], "Mul") !== mul || !mul.inputs.includes(x)) return undefined;
  const div = only(uses, mul.outputs[0], "Div");
  if (!div || div.inputs[0] !== mul.outputs[0] || scalarConstant(graph, div.inputs[1]) !== 6) {
    return undefined;
  }
  return [add, clip, mul, div];
}

/** Gemm applies its epilogue in the kernel only when C folds into the packed bias. */
function producerAccepts(graph: Graph, p: Node): boolean {
  if (!PRODUCERS.has(p.op) || p.attributes.fused_activation) return false;
  if (p.op !== "Gemm") return true;
  const b = graph.initializers.get(p.inputs[1]);
  if (!b) return false;
  const c = p.inputs[2] ? graph.initializers.get(p.inputs[2]) : undefined;
  if (p.inputs[2] && !c) return false;
  return !c || c.dims.length < 2 || c.dims[0] === 1;
}

/** Rewrites the graph in place; returns how many activations were fused. */
export function fuseActivations(graph: Graph): number {
  if (!graph.nodes.some((n) => PRODUCERS.has(n.op))) return 0;
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const removed = new Set<Node>();
  let fused = 0;
  // Fusing renames nothing but the producer's output, so one consumer map serves the pass.
  const uses = consumers(graph);
  for (const p of graph.nodes) {
    if (removed.has(p) || !producerAccepts(graph, p)) continue;
    const x = p.outputs[0];
    if (graphOutputs.has(x)) continue;
    const users = uses.get(x) ?? [];
    // Plain activation: the producer's only consumer.
    if (users.length === 1) {
      const act = asActivation(graph, users[0]);
      if (act) {
        p.attributes.fused_activation = act[0];
        p.attributes.fused_p0 = act[1];
        p.attributes.fused_p1 = act[2];
        p.outputs = [users[0].outputs[0]];
        removed.add(users[0]);
        fused++;
      }
      continue;
    }
    // HardSwish as exporters write it: x * Clip(x + 3, 0, 6) / 6.
    if (users.length === 2) {
      const hs = hardSwishChain(graph, uses, x, users);
      if (hs && !hs.some((n) => n.outputs.some((o) => graphOutputs.has(o)) && n !== hs[3])) {
        p.attributes.fused_activation = "hardswish";
        p.attributes.fused_p0 = 0;
        p.attributes.fused_p1 = 0;
        p.outputs = [hs[3].outputs[0]];
        for (const n of hs) removed.add(n);
        fused++;
        continue;
      }
    }
    // SiLU: x feeds a Sigmoid and a Mul, and the Mul multiplies x by that Sigmoid.
    if (users.length === 2) {
      const sig = users.find((u) => u.op === "Sigmoid");
      const mul = users.find((u) => u.op === "Mul");
      if (!sig || !mul || graphOutputs.has(sig.outputs[0])) continue;
      const sigUsers = uses.get(sig.outputs[0]) ?? [];
      const ins = new Set(mul.inputs);
      if (sigUsers.length === 1 && sigUsers[0] === mul && ins.has(x) && ins.has(sig.outputs[0])) {
        p.attributes.fused_activation = "silu";
        p.attributes.fused_p0 = 0;
        p.attributes.fused_p1 = 0;
        p.outputs = [mul.outputs[0]];
        removed.add(sig);
        removed.add(mul);
        fused++;
      }
    }
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return fused + fuseHardSwishAffines(graph, graphOutputs);
}

/**
 * A fused HardSwish followed by a Mul and / or an Add of scalar constants (PP-LCNetV3's
 * learnable affine block after each activation) becomes `hardswish_affine`, p0 · hardswish(x)
 * + p1: two passes over the layer's output fewer. Returns how many nodes it removed.
 */
function fuseHardSwishAffines(graph: Graph, graphOutputs: Set<string>): number {
  const uses = consumers(graph);
  const removed = new Set<Node>();
  /**
   * The scalar constant `n` (Mul or Add of x) applies to x, when it is one of rank 0 or 1
   * (a [1, 1, 1, 1, 1] "scalar" would raise the output's rank).
   */
  const scalarOf = (n: Node | undefined, x: string) => {
    if (!n || n.inputs.length !== 2 || graphOutputs.has(x)) return undefined;
    const c = n.inputs[n.inputs[0] === x ? 1 : 0];
    if ((graph.initializers.get(c)?.dims.length ?? 2) > 1) return undefined;
    return scalarConstant(graph, c);
  };
  for (const p of graph.nodes) {
    if (p.attributes.fused_activation !== "hardswish") continue;
    let out = p.outputs[0];
    let scale = 1;
    let shift = 0;
    const mul = only(uses, out, "Mul");
    const s = scalarOf(mul, out);
    if (mul && s !== undefined) {
      scale = s;
      out = mul.outputs[0];
      removed.add(mul);
    }
    const add = only(uses, out, "Add");
    const t = scalarOf(add, out);
    if (add && t !== undefined) {
      shift = t;
      out = add.outputs[0];
      removed.add(add);
    }
    if (out === p.outputs[0]) continue;
    p.attributes.fused_activation = "hardswish_affine";
    p.attributes.fused_p0 = scale;
    p.attributes.fused_p1 = shift;
    p.outputs = [out];
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return removed.size;
}
