import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
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
  return `LSTM seq ${c.seq} batch ${c.batch} input ${c.input} hidden ${c.hidden} ` +
    `${c.direction} layout ${c.layout ?? 0}${c.b ? " B" : ""}${c.h0 ? " h0" : ""}` +
    `${c.c0 ? " c0" : ""}${c.p ? " P" : ""}${c.lens ? ` lens [${c.lens}]` : ""}`;
}

for (const variant of VARIANTS) {
  Deno.test(`LSTM matches the ONNX reference over awkward shapes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    for (const { c, constantWeights } of sweepCases(101, "LSTM")) {
      compareToReference(runCase(kr, c, { constantWeights }), c, label(c));
    }
  });

  Deno.test(`LSTM options: clip, input_forget, activations, lens: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(7);
    const dims = { seq: 7, batch: 3, input: 5, hidden: 17 };
    const cases: Partial<RecurrentCase>[] = [
      { clip: 0.4, b: rng.floats(8 * 17) },
      { inputForget: true, p: rng.floats(3 * 17), c0: rng.floats(3 * 17) },
      {
        activations: [
          { name: "HardSigmoid", alpha: 0.3, beta: 0.45 },
          { name: "LeakyRelu", alpha: 0.05 },
          { name: "Relu" },
        ],
      },
      { activations: [{ name: "Sigmoid" }, { name: "Relu" }, { name: "HardSigmoid" }] },
      { lens: [7, 0, 3], h0: rng.floats(3 * 17), c0: rng.floats(3 * 17) },
      { lens: [2, 7, 5], direction: "reverse", layout: 1 },
      { lens: [1, 4, 6], direction: "bidirectional", p: rng.floats(6 * 17) },
    ];
    for (const extra of cases) {
      const c = randomCase(rng, "LSTM", dims, extra);
      compareToReference(
        runCase(kr, c, { constantWeights: true }),
        c,
        JSON.stringify(Object.keys(extra)),
      );
    }
    const c = randomCase(rng, "LSTM", dims, { lens: [3, 1, 7] });
    compareToReference(runCase(kr, c, { lensType: "int64" }), c, "int64 sequence_lens");
  });

  Deno.test(`LSTM outputs are each optional: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(9);
    const c = randomCase(rng, "LSTM", { seq: 4, batch: 2, input: 3, hidden: 9 }, {
      direction: "bidirectional",
    });
    for (const outputs of [[true, false, false], [false, true, false], [false, false, true]]) {
      const got = runCase(kr, c, { constantWeights: true, outputs });
      deepStrictEqual(got.map((g) => g !== undefined), outputs);
      compareToReference(got, c, `outputs ${outputs}`);
    }
  });
}

Deno.test("LSTM streamed in chunks with carried state equals one run", async () => {
  for (const variant of VARIANTS) {
    const kr = await kernelsFor(variant);
    const rng = new Random(21);
    const [seq, batch, input, hidden] = [9, 2, 6, 20];
    const whole = randomCase(rng, "LSTM", { seq, batch, input, hidden }, {
      b: rng.floats(8 * hidden, -0.5, 0.5),
      p: rng.floats(3 * hidden, -0.5, 0.5),
    });
    const [y, yh, yc] = runCase(kr, whole, { constantWeights: true });
    let h0: Float32Array | undefined;
    let c0: Float32Array | undefined;
    const ys: Float32Array[] = [];
    let t = 0;
    for (const steps of [4, 1, 4]) {
      const part: RecurrentCase = {
        ...whole,
        seq: steps,
        x: whole.x.slice(t * batch * input, (t + steps) * batch * input),
        h0,
        c0,
      };
      const [py, ph, pc] = runCase(kr, part, { constantWeights: true });
      ys.push(py!);
      h0 = ph;
      c0 = pc;
      t += steps;
    }
    const joined = new Float32Array(y!.length);
    let o = 0;
    for (const p of ys) {
      joined.set(p, o);
      o += p.length;
    }
    // Same kernels, same order of operations: the chunked run is bit-identical.
    deepStrictEqual(joined, y, `${variant}: Y`);
    deepStrictEqual(h0, yh, `${variant}: Y_h`);
    deepStrictEqual(c0, yc, `${variant}: Y_c`);
  }
});

Deno.test("LSTM zero-size tensors: empty sequence, batch, input", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(3);
  for (
    const dims of [
      { seq: 0, batch: 2, input: 3, hidden: 5 },
      { seq: 3, batch: 0, input: 3, hidden: 5 },
      { seq: 3, batch: 2, input: 0, hidden: 5 },
      { seq: 3, batch: 2, input: 3, hidden: 0 },
    ]
  ) {
    const c = randomCase(rng, "LSTM", dims, {
      h0: rng.floats(dims.batch * dims.hidden),
      c0: rng.floats(dims.batch * dims.hidden),
      b: rng.floats(8 * dims.hidden),
    });
    compareToReference(runCase(kr, c, { constantWeights: true }), c, JSON.stringify(dims));
  }
});

Deno.test("LSTM check reports unsupported attributes without throwing", () => {
  const op = RECURRENT_OPS.LSTM;
  const rng = new Random(1);
  const c = randomCase(rng, "LSTM", { seq: 1, batch: 1, input: 2, hidden: 2 });
  deepStrictEqual(op.check!(caseNode(c), 14), []);
  const bad = caseNode(c, {
    attributes: {
      direction: "sideways",
      layout: 2,
      clip: -1,
      activations: ["Affine", "Tanh", "Tanh"],
    },
  });
  const problems = op.check!(bad, 14);
  ok(problems.length === 4, problems.join("; "));
  ok(problems.some((p) => p.includes('"Affine"')), problems.join("; "));
  ok(problems.some((p) => p.includes('"sideways"')), problems.join("; "));
  const count = caseNode(c, { attributes: { activations: ["Tanh", "Tanh"] } });
  ok(op.check!(count, 14)[0].includes("needs 3"));
});

Deno.test("LSTM bad shapes and types give typed errors naming the node", async () => {
  const op = RECURRENT_OPS.LSTM;
  const rng = new Random(2);
  const c = randomCase(rng, "LSTM", { seq: 2, batch: 1, input: 3, hidden: 4 });
  const node = caseNode(c);
  const f = (dims: number[]) => ({ type: "float32" as const, dims });
  const good = [f([2, 1, 3]), f([1, 16, 3]), f([1, 16, 4])];
  deepStrictEqual(op.inferShapes(node, good).map((o) => o.dims), [[2, 1, 1, 4], [1, 1, 4], [
    1,
    1,
    4,
  ]]);
  throws(
    () => op.inferShapes(node, [f([2, 1, 3]), f([1, 12, 3]), f([1, 16, 4])]),
    (e) =>
      e instanceof ShapeError && e.message.includes('Node "lstm_0" (LSTM)') &&
      e.message.includes("W"),
  );
  throws(() => op.inferShapes(node, [f([2, 3]), good[1], good[2]]), ShapeError);
  throws(
    () => op.inferShapes(node, [{ type: "int32", dims: [2, 1, 3] }, good[1], good[2]]),
    DTypeError,
  );
  throws(() => op.inferShapes(node, [good[0], good[1]]), ShapeError);
  const withB = { ...node, inputs: ["X", "W", "R", "B"] };
  throws(() => op.inferShapes(withB, [...good, f([1, 31])]), ShapeError);
  // A sequence length past the sequence is caught when the op reads it.
  const kr = await kernelsFor("scalar");
  throws(
    () => runCase(kr, { ...c, lens: [3] }),
    (e) => e instanceof ShapeError && e.message.includes("sequence_lens"),
  );
});
