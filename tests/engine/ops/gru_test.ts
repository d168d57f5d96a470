import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { ShapeError } from "../../../engine/errors.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import type { RecurrentCase } from "../../reference/rnn.ts";
import {
  caseNode,
  compareToReference,
  randomCase,
  RECURRENT_OPS,
  runCase,
  sweepCases,
} from "./_recurrent.ts";

function label(c: RecurrentCase): string {
  return `GRU lbr ${c.linearBeforeReset ? 1 : 0} seq ${c.seq} batch ${c.batch} input ` +
    `${c.input} hidden ${c.hidden} ${c.direction} layout ${c.layout ?? 0}${c.b ? " B" : ""}` +
    `${c.h0 ? " h0" : ""}${c.lens ? ` lens [${c.lens}]` : ""}`;
}

for (const variant of VARIANTS) {
  for (const lbr of [false, true]) {
    Deno.test(
      `GRU (linear_before_reset ${lbr ? 1 : 0}) matches the ONNX reference: ${variant}`,
      async () => {
        const kr = await kernelsFor(variant);
        const cases = sweepCases(lbr ? 202 : 201, "GRU", () => ({ linearBeforeReset: lbr }));
        for (const { c, constantWeights } of cases) {
          compareToReference(runCase(kr, c, { constantWeights }), c, label(c));
        }
      },
    );
  }

  Deno.test(`GRU options: clip, activations, lens: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(17);
    const dims = { seq: 7, batch: 3, input: 5, hidden: 19 };
    const cases: Partial<RecurrentCase>[] = [
      { clip: 0.3, b: rng.floats(6 * 19), linearBeforeReset: true },
      { clip: 0.3, b: rng.floats(6 * 19) },
      {
        activations: [{ name: "HardSigmoid", alpha: 0.25, beta: 0.4 }, { name: "Relu" }],
        linearBeforeReset: true,
      },
      { activations: [{ name: "Sigmoid" }, { name: "LeakyRelu", alpha: 0.2 }] },
      { activations: [{ name: "Sigmoid" }, { name: "Elu" }], linearBeforeReset: true },
      { lens: [7, 0, 2], h0: rng.floats(3 * 19), direction: "reverse" },
      { lens: [3, 6, 1], direction: "bidirectional", layout: 1, linearBeforeReset: true },
    ];
    for (const extra of cases) {
      const c = randomCase(rng, "GRU", dims, extra);
      compareToReference(
        runCase(kr, c, { constantWeights: true }),
        c,
        JSON.stringify(extra.activations),
      );
    }
  });
}

Deno.test("GRU streamed in chunks with carried state equals one run", async () => {
  for (const variant of VARIANTS) {
    for (const lbr of [false, true]) {
      const kr = await kernelsFor(variant);
      const rng = new Random(23);
      const [seq, batch, input, hidden] = [6, 2, 4, 11];
      const whole = randomCase(rng, "GRU", { seq, batch, input, hidden }, {
        b: rng.floats(6 * hidden, -0.5, 0.5),
        linearBeforeReset: lbr,
      });
      const [y, yh] = runCase(kr, whole, { constantWeights: true });
      let h0: Float32Array | undefined;
      const parts: number[] = [];
      for (let t = 0; t < seq; t += 2) {
        const part = {
          ...whole,
          seq: 2,
          x: whole.x.slice(t * batch * input, (t + 2) * batch * input),
          h0,
        };
        const [py, ph] = runCase(kr, part, { constantWeights: true });
        parts.push(...py!);
        h0 = ph;
      }
      deepStrictEqual(Float32Array.from(parts), y, `${variant} lbr ${lbr}: Y`);
      deepStrictEqual(h0, yh, `${variant} lbr ${lbr}: Y_h`);
    }
  }
});

Deno.test("GRU zero-size tensors", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(4);
  for (
    const dims of [
      { seq: 0, batch: 2, input: 3, hidden: 5 },
      { seq: 2, batch: 0, input: 3, hidden: 5 },
      { seq: 2, batch: 2, input: 0, hidden: 5 },
    ]
  ) {
    const c = randomCase(rng, "GRU", dims, { h0: rng.floats(dims.batch * dims.hidden) });
    compareToReference(runCase(kr, c), c, JSON.stringify(dims));
  }
});

Deno.test("GRU check and shape errors", () => {
  const op = RECURRENT_OPS.GRU;
  const rng = new Random(5);
  const c = randomCase(rng, "GRU", { seq: 2, batch: 1, input: 3, hidden: 4 });
  deepStrictEqual(op.check!(caseNode(c, { attributes: { linear_before_reset: 1 } }), 14), []);
  const bad = op.check!(caseNode(c, { attributes: { activations: ["ScaledTanh", "Tanh"] } }), 14);
  ok(bad.length === 1 && bad[0].includes('"ScaledTanh"'), bad.join("; "));
  const node = caseNode(c);
  const f = (dims: number[]) => ({ type: "float32" as const, dims });
  throws(
    () => op.inferShapes(node, [f([2, 1, 3]), f([1, 16, 3]), f([1, 12, 4])]),
    (e) => e instanceof ShapeError && e.message.includes('Node "gru_0" (GRU)'),
  );
  const h0 = { ...node, inputs: ["X", "W", "R", "", "", "H0"] };
  throws(
    () => op.inferShapes(h0, [f([2, 1, 3]), f([1, 12, 3]), f([1, 12, 4]), , , f([1, 2, 4])]),
    (e) => e instanceof ShapeError && e.message.includes("initial_h"),
  );
});
