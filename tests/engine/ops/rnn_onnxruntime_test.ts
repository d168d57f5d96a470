/**
 * LSTM, GRU and RNN against onnxruntime-node (native, independent) on the same inputs: a
 * representative subset of the attributes and optional inputs. onnxruntime has no layout = 1,
 * so these run layout 0 (layout 1 is covered against the float64 reference).
 */
import { type BuildAttribute, buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import type { RecurrentCase } from "../../reference/rnn.ts";
import { caseNode, randomCase, runCase } from "./_recurrent.ts";

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };

/** The case as a one-node model with W, R, B, P, lens as initializers; X and states fed. */
function ortModel(c: RecurrentCase): { model: Uint8Array; feeds: Record<string, Tensor> } {
  const node = caseNode(c);
  const dirs = c.direction === "bidirectional" ? 2 : 1;
  const G = GATES[c.type];
  const H = c.hidden;
  const stateDims = [dirs, c.batch, H];
  const attributes: Record<string, BuildAttribute> = {};
  for (const [k, v] of Object.entries(node.attributes)) {
    if (k === "clip") attributes[k] = { float: v as number };
    else if (k === "activation_alpha" || k === "activation_beta") {
      attributes[k] = { floats: v as number[] };
    } else attributes[k] = v as BuildAttribute;
  }
  const f = (d: Float32Array, dims: number[]) => new Tensor("float32", d, dims);
  const initializers: Record<string, Tensor> = {
    W: f(c.w, [dirs, G * H, c.input]),
    R: f(c.r, [dirs, G * H, H]),
  };
  if (c.b) initializers.B = f(c.b, [dirs, 2 * G * H]);
  if (c.p) initializers.P = f(c.p, [dirs, 3 * H]);
  if (c.lens) initializers.L = new Tensor("int32", Int32Array.from(c.lens), [c.batch]);
  const feeds: Record<string, Tensor> = { X: f(c.x, [c.seq, c.batch, c.input]) };
  if (c.h0) feeds.H0 = f(c.h0, stateDims);
  if (c.c0) feeds.C0 = f(c.c0, stateDims);
  const outputs = node.outputs.filter((o) => o).map((name) => ({
    name,
    dims: name === "Y" ? [c.seq, dirs, c.batch, H] : stateDims,
  }));
  const model = buildModel({
    nodes: [{ op: c.type, inputs: node.inputs, outputs: node.outputs, attributes }],
    inputs: Object.entries(feeds).map(([name, t]) => ({ name, dims: [...t.dims] })),
    outputs,
    initializers,
  }, 14);
  return { model, feeds };
}

Deno.test("LSTM, GRU and RNN agree with onnxruntime-node", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(404);
  const dims = { seq: 6, batch: 3, input: 7, hidden: 13 };
  const dirs = (d?: string) => (d === "bidirectional" ? 2 : 1);
  const states = (type: "LSTM" | "GRU" | "RNN", direction?: string) => ({
    h0: rng.floats(dirs(direction) * dims.batch * dims.hidden),
    c0: type === "LSTM" ? rng.floats(dirs(direction) * dims.batch * dims.hidden) : undefined,
    b: rng.floats(dirs(direction) * 2 * GATES[type] * dims.hidden, -0.5, 0.5),
  });
  const cases: RecurrentCase[] = [
    randomCase(rng, "LSTM", dims, {
      direction: "bidirectional",
      ...states("LSTM", "bidirectional"),
      p: rng.floats(2 * 3 * dims.hidden, -0.5, 0.5),
      lens: [6, 2, 4],
    }),
    randomCase(rng, "LSTM", dims, { ...states("LSTM"), clip: 0.6, inputForget: true }),
    randomCase(rng, "LSTM", dims, {
      direction: "reverse",
      ...states("LSTM", "reverse"),
      activations: [
        { name: "HardSigmoid", alpha: 0.3, beta: 0.45 },
        { name: "Tanh" },
        { name: "LeakyRelu", alpha: 0.2 },
      ],
    }),
    randomCase(rng, "GRU", dims, {
      direction: "bidirectional",
      ...states("GRU", "bidirectional"),
      lens: [1, 6, 3],
    }),
    randomCase(rng, "GRU", dims, { ...states("GRU"), linearBeforeReset: true, clip: 0.8 }),
    randomCase(rng, "RNN", dims, {
      direction: "reverse",
      ...states("RNN", "reverse"),
      activations: [{ name: "Relu" }],
    }),
    randomCase(rng, "RNN", dims, { direction: "bidirectional", ...states("RNN", "bidirectional") }),
  ];
  for (const c of cases) {
    const got = runCase(kr, c, { constantWeights: true });
    const { model, feeds } = ortModel(c);
    const want = await runOrt(model, feeds);
    const what = `${c.type} ${c.direction ?? "forward"}`;
    assertClose(got[0]!, want.Y.data as Float32Array, { rtol: 1e-4, atol: 1e-5 }, `${what}: Y`);
    assertClose(got[1]!, want.Yh.data as Float32Array, { rtol: 1e-4, atol: 1e-5 }, `${what}: Y_h`);
    if (c.type === "LSTM") {
      assertClose(
        got[2]!,
        want.Yc.data as Float32Array,
        { rtol: 1e-4, atol: 1e-5 },
        `${what}: Y_c`,
      );
    }
  }
});
