/**
 * Gated residuals written as x + x · g (the squeeze-and-excitation blocks of PP-OCRv4 det's
 * neck: g a per-channel gate) become x · (1 + g): the Add then runs on the gate, usually
 * [N, C, 1, 1], instead of on the whole feature map, so the map is read and written once
 * instead of twice. Never more work: the new Add has the gate's size, at most the output's.
 * Only gates that are float by construction (a Sigmoid, HardSigmoid or Tanh output) qualify:
 * the types of values are not known yet when this runs, and x + x · g also appears in integer
 * shape arithmetic.
 *
 * @module
 */
import { consumerCounts, freshNames, type Graph, type Node, producers } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";

/** Ops whose output is a float gate. */
const GATES = new Set(["Sigmoid", "HardSigmoid", "Tanh"]);

/** Rewrites the graph in place; returns how many Adds it factored out. */
export function factorGatedResiduals(graph: Graph): number {
  if (!graph.nodes.some((n) => n.op === "Mul")) return 0;
  const uses = consumerCounts(graph);
  const producer = producers(graph);
  const removed = new Set<Node>();
  const before = new Map<Node, Node>();
  const fresh = freshNames(graph);
  const one = fresh("quartet/factor_gated_residuals/one");
  for (const add of graph.nodes) {
    if (add.op !== "Add" || add.inputs.length !== 2 || !add.inputs.every((i) => i)) continue;
    for (const side of [0, 1]) {
      const mul = producer.get(add.inputs[side]);
      const x = add.inputs[1 - side];
      if (mul?.op !== "Mul" || mul.inputs.length !== 2 || removed.has(mul)) continue;
      if (uses.get(mul.outputs[0]) !== 1 || !mul.inputs.includes(x)) continue;
      const g = mul.inputs[mul.inputs[0] === x ? 1 : 0];
      if (!GATES.has(producer.get(g)?.op ?? "")) continue;
      if (!graph.initializers.has(one)) {
        graph.initializers.set(one, new Tensor("float32", new Float32Array([1]), []));
      }
      const gate = fresh(`${mul.name}/one_plus_gate`);
      before.set(mul, {
        name: `${mul.name}/one_plus`,
        op: "Add",
        domain: "",
        inputs: [g, one],
        outputs: [gate],
        attributes: {},
      });
      mul.inputs = [x, gate];
      mul.outputs = [add.outputs[0]];
      removed.add(add);
      break;
    }
  }
  if (removed.size === 0) return 0;
  graph.nodes = graph.nodes.flatMap((n) =>
    removed.has(n) ? [] : before.has(n) ? [before.get(n)!, n] : [n]
  );
  return removed.size;
}
