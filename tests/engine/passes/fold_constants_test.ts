import { deepStrictEqual } from "node:assert/strict";
import type { Graph, Node } from "../../../engine/ir/graph.ts";
import { castInto } from "../../../engine/ops/cast.ts";
import { foldConstantSubgraphs } from "../../../engine/passes/fold_constants.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { isFloat16Origin, markFloat16Origin } from "../../../engine/weights/f16_gemv.ts";

/** ONNX codes of the types below. */
const CODE: Partial<Record<DType, number>> = { float32: 1, float16: 10, int32: 6 };

function cast(input: string, output: string, to: DType): Node {
  return {
    name: `Cast_${output}`,
    op: "Cast",
    domain: "",
    inputs: [input],
    outputs: [output],
    attributes: { to: CODE[to]! },
  };
}

/** Runs a Cast on the host, as the real op would (always a new tensor). */
function evaluate(node: Node, [x]: (Tensor | undefined)[]): Tensor[] {
  const to = (Object.keys(CODE) as DType[]).find((t) => CODE[t] === node.attributes.to)!;
  const data = { float32: Float32Array, float16: Uint16Array, int32: Int32Array }[to as "int32"];
  const out = new Tensor(to, new data(x!.size), x!.dims);
  castInto(x!.data, x!.type, out.data, to);
  return [out];
}

Deno.test("a folded Cast to float of float16 values keeps the float16 mark", () => {
  const graph: Graph = {
    name: "g",
    nodes: [
      // The exporter's pattern: float16 weight → Cast(to=float).
      cast("w16", "w", "float32"),
      // float32 → float16 → float32: halves again.
      cast("plain", "p16", "float16"),
      cast("p16", "p", "float32"),
      // Not halves, or not float32.
      cast("plain", "q", "float32"),
      cast("w16", "i", "int32"),
      {
        name: "Use",
        op: "Concat",
        domain: "",
        inputs: ["w", "p", "q", "i"],
        outputs: ["y"],
        attributes: {},
      },
    ],
    inputs: [],
    outputs: [{ name: "y", type: "float32" }],
    initializers: new Map([
      ["w16", markFloat16Origin(new Tensor("float32", new Float32Array([1, 0.5]), [2]))],
      ["plain", new Tensor("float32", new Float32Array([1, 0.1]), [2])],
    ]),
    valueInfo: new Map(),
  };
  deepStrictEqual(foldConstantSubgraphs(graph, evaluate), 5);
  const marked = (name: string) => isFloat16Origin(graph.initializers.get(name));
  deepStrictEqual(
    ["w", "p16", "p", "q", "i"].map((n) => [n, marked(n)]),
    [["w", true], ["p16", false], ["p", true], ["q", false], ["i", false]],
  );
});
