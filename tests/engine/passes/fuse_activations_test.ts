import { deepStrictEqual } from "node:assert/strict";
import type { Graph, Node } from "../../../engine/ir/graph.ts";
import { loadModel } from "../../../engine/model.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";
import { convReference } from "../../reference/conv.ts";
import { node } from "../../_ir.ts";

const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
const hardswish = (x: number) => x * Math.max(0, Math.min(1, x / 6 + 0.5));

/** A 3x3 conv (c → m channels, h x w, pads 1) feeding `tail`, whose last output is "out". */
function convThen(
  rng: Random,
  [c, m, h, w]: number[],
  tail: Node[],
  constants: [string, Tensor][],
  outputs = ["out"],
) {
  const x = rng.floats(c * h * w, -3, 3);
  const wt = rng.floats(m * c * 9);
  const b = rng.floats(m);
  const graph: Graph = {
    name: "tail",
    nodes: [
      node("Conv", ["x", "w", "b"], ["y"], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      ...tail,
    ],
    inputs: [{ name: "x", type: "float32", dims: [1, c, h, w] }],
    outputs: outputs.map((name) => ({ name, type: "float32" as const, dims: [1, m, h, w] })),
    initializers: new Map([["w", f(wt, [m, c, 3, 3])], ["b", f(b, [m])], ...constants]),
    valueInfo: new Map(),
  };
  const y = convReference(x, [1, c, h, w], wt, [m, c, 3, 3], b, { pads: [1, 1, 1, 1] }).data;
  return { graph, x: f(x, [1, c, h, w]), y };
}

const scalar = (v: number) => f(new Float32Array([v]), []);
const tol = { rtol: 1e-4, atol: 1e-5 };

Deno.test("HardSwish → Mul(scalar) → Add(scalar) runs in the conv's epilogue (hardswish_affine)", async () => {
  const rng = new Random(31);
  const dims = [5, 7, 6, 9];
  // The learnable affine block of PP-LCNetV3 after a HardSwish, written both ways: the
  // HardSwish op, and the x · Clip(x + 3, 0, 6) / 6 chain exporters write.
  const chain = [
    node("Add", ["y", "three"], ["y3"]),
    node("Clip", ["y3", "zero", "six"], ["c"]),
    node("Mul", ["y", "c"], ["yc"]),
    node("Div", ["yc", "six"], ["h"]),
  ];
  for (
    const [label, activation] of [["HardSwish op", [node("HardSwish", ["y"], ["h"])]], [
      "exporter chain",
      chain,
    ]] as const
  ) {
    const { graph, x, y } = convThen(rng, dims, [
      ...activation,
      node("Mul", ["s", "h"], ["hs"]),
      node("Add", ["hs", "t"], ["out"]),
    ], [["s", scalar(0.75)], ["t", scalar(-0.4)], ["three", scalar(3)], ["zero", scalar(0)], [
      "six",
      scalar(6),
    ]]);
    const model = await loadModel({ graph, opsets: { "": 17 } });
    deepStrictEqual(model.summary().ops, { Conv: 1 }, label);
    const out = await model.run({ x });
    assertClose(out.out.data as Float32Array, y.map((v) => 0.75 * hardswish(v) - 0.4), tol);
    model.dispose();
  }
});

Deno.test("hardswish_affine takes a lone Mul or a lone Add, and leaves what it cannot fuse", async () => {
  const rng = new Random(32);
  const dims = [4, 6, 5, 7];
  const m = dims[1];
  const perChannel = rng.floats(m, 0.5, 2);
  const cases: {
    tail: Node[];
    ops: Record<string, number>;
    want: (v: number, ch: number) => number;
    outputs?: string[];
    rank5?: boolean;
  }[] = [
    {
      tail: [node("HardSwish", ["y"], ["h"]), node("Mul", ["h", "s"], ["out"])],
      ops: { Conv: 1 },
      want: (v) => 0.75 * hardswish(v),
    },
    {
      tail: [node("HardSwish", ["y"], ["h"]), node("Add", ["t", "h"], ["out"])],
      ops: { Conv: 1 },
      want: (v) => hardswish(v) - 0.4,
    },
    {
      // A per-channel Mul is no scalar: it stays.
      tail: [node("HardSwish", ["y"], ["h"]), node("Mul", ["h", "k"], ["out"])],
      ops: { Conv: 1, Mul: 1 },
      want: (v, ch) => hardswish(v) * perChannel[ch],
    },
    {
      // A size-1 constant of rank 5 broadcasts the output to rank 5: it stays a Mul.
      tail: [node("HardSwish", ["y"], ["h"]), node("Mul", ["h", "s5"], ["out"])],
      ops: { Conv: 1, Mul: 1 },
      want: (v) => 0.75 * hardswish(v),
      rank5: true,
    },
    {
      // The HardSwish output is also a model output: the Mul and Add stay.
      tail: [
        node("HardSwish", ["y"], ["h"]),
        node("Mul", ["h", "s"], ["hs"]),
        node("Add", ["hs", "t"], ["out"]),
      ],
      ops: { Conv: 1, Mul: 1, Add: 1 },
      want: (v) => 0.75 * hardswish(v) - 0.4,
      outputs: ["out", "h"],
    },
  ];
  for (const [i, c] of cases.entries()) {
    const { graph, x, y } = convThen(rng, dims, c.tail, [
      ["s", scalar(0.75)],
      ["t", scalar(-0.4)],
      ["k", f(perChannel, [1, m, 1, 1])],
      ["s5", f(new Float32Array([0.75]), [1, 1, 1, 1, 1])],
    ], c.outputs);
    const model = await loadModel({ graph, opsets: { "": 17 } });
    deepStrictEqual(model.summary().ops, c.ops, `case ${i}`);
    const out = await model.run({ x });
    if (c.rank5) deepStrictEqual(out.out.dims, [1, 1, m, dims[2], dims[3]]);
    const plane = dims[2] * dims[3];
    assertClose(
      out.out.data as Float32Array,
      y.map((v, j) => c.want(v, Math.floor(j / plane))),
      tol,
    );
    if (c.outputs) assertClose(out.h.data as Float32Array, y.map(hardswish), tol);
    model.dispose();
  }
});
