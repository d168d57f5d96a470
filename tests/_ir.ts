/**
 * Small IR graphs written by hand in tests: a node, a graph, a model (opset 17). For ONNX
 * bytes, see _onnx_builder.ts.
 */
import type { Graph, Model, Node } from "../engine/ir/graph.ts";
import type { Tensor } from "../engine/tensor.ts";

/** A default-domain node named after its op and first output. */
export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attributes: Node["attributes"] = {},
): Node {
  return { name: `${op}_${outputs[0]}`, op, domain: "", inputs, outputs, attributes };
}

/** A graph named "g" with these nodes, inputs, outputs and initializers. */
export function graph(
  nodes: Node[],
  inputs: Graph["inputs"],
  outputs: Graph["outputs"],
  init: [string, Tensor][] = [],
): Graph {
  return { name: "g", nodes, inputs, outputs, initializers: new Map(init), valueInfo: new Map() };
}

/** A model of one graph at opset 17. */
export function model(g: Graph): Model {
  return { graph: g, opsets: { "": 17 } };
}
