/**
 * Inlining of the If branches a model takes, for calibration. Quartet's `run` only returns
 * top-level graph outputs, and the values pruning must observe (a layer's input inside
 * silero VAD's sample-rate branch) live in branches. Calibration feeds fix the branch
 * conditions (they depend on the sample rate and on shapes), so a flat copy of the graph
 * with each If replaced by its taken branch computes the same outputs and exposes every value.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import type { Graph, Node } from "../ir/graph.ts";
import { isGraph } from "../ir/graph.ts";

/**
 * A copy of `graph` where every If named in `taken` is replaced by the nodes of the branch
 * it takes (true: `then_branch`), recursively, plus Identity nodes from the branch outputs
 * to the If outputs. Branch constants join the graph's initializers. Ifs not in `taken` stay.
 * Nodes are shallow copies, so callers may rename their outputs.
 */
export function inlineBranches(graph: Graph, taken: ReadonlyMap<string, boolean>): Graph {
  const initializers = new Map(graph.initializers);
  const valueInfo = new Map(graph.valueInfo);
  const nodes: Node[] = [];
  const add = (g: Graph) => {
    for (const n of g.nodes) {
      const cond = n.op === "If" && !n.domain ? taken.get(n.name) : undefined;
      if (cond === undefined) {
        nodes.push({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] });
        continue;
      }
      const branch = n.attributes[cond ? "then_branch" : "else_branch"];
      if (!isGraph(branch)) {
        throw new ModelFormatError(`If "${n.name}" has no ${cond ? "then" : "else"} branch`);
      }
      for (const [name, t] of branch.initializers) {
        if (initializers.has(name) && initializers.get(name) !== t) {
          throw new ModelFormatError(
            `Cannot inline the branch of If "${n.name}": constant "${name}" is defined twice`,
          );
        }
        initializers.set(name, t);
      }
      for (const [name, v] of branch.valueInfo) valueInfo.set(name, v);
      add(branch);
      branch.outputs.forEach((o, i) => {
        if (!n.outputs[i]) return;
        nodes.push({
          name: `${n.name}/inlined_output_${i}`,
          op: "Identity",
          domain: "",
          inputs: [o.name],
          outputs: [n.outputs[i]],
          attributes: {},
        });
      });
    }
  };
  add(graph);
  return { ...graph, nodes, initializers, valueInfo };
}
