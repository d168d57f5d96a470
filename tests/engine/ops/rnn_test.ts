import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { DTypeError } from "../../../engine/errors.ts";
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

for (const variant of VARIANTS) {
  Deno.test(`RNN matches the ONNX reference over awkward shapes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    for (const { c, constantWeights } of sweepCases(301, "RNN")) {
      const what = `RNN seq ${c.seq} batch ${c.batch} input ${c.input} hidden ${c.hidden} ` +
        `${c.direction} layout ${c.layout ?? 0}`;
      compareToReference(runCase(kr, c, { constantWeights }), c, what);
    }
  });

  Deno.test(`RNN activations and clip: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    const dims = { seq: 7, batch: 3, input: 5, hidden: 17 };
    const cases: Partial<RecurrentCase>[] = [
      { clip: 0.25 },
      { activations: [{ name: "Relu" }] },
      {
        activations: [{ name: "Sigmoid" }, { name: "HardSigmoid", alpha: 0.3, beta: 0.6 }],
        direction: "bidirectional",
      },
      { activations: [{ name: "LeakyRelu", alpha: 0.1 }], lens: [2, 7, 0] },
      {
        activations: [{ name: "Elu", alpha: 0.5 }, { name: "Softplus" }],
        direction: "bidirectional",
      },
    ];
    for (const extra of cases) {
      const dirs = extra.direction === "bidirectional" ? 2 : 1;
      const c = randomCase(rng, "RNN", dims, { b: rng.floats(dirs * 2 * 17), ...extra });
      compareToReference(runCase(kr, c, { constantWeights: true }), c, JSON.stringify(extra));
    }
  });
}

Deno.test("RNN check and type errors", () => {
  const op = RECURRENT_OPS.RNN;
  const rng = new Random(6);
  const c = randomCase(rng, "RNN", { seq: 2, batch: 1, input: 3, hidden: 4 });
  deepStrictEqual(op.check!(caseNode(c), 14), []);
  const bad = op.check!(
    caseNode(c, { attributes: { activations: ["Softsign"], hidden_size: -2 } }),
    14,
  );
  ok(bad.length === 2, bad.join("; "));
  const node = caseNode(c);
  throws(
    () =>
      op.inferShapes(node, [{ type: "float32", dims: [2, 1, 3] }, {
        type: "float16",
        dims: [1, 4, 3],
      }, {
        type: "float32",
        dims: [1, 4, 4],
      }]),
    (e) => e instanceof DTypeError && e.message.includes('Node "rnn_0" (RNN)'),
  );
});
