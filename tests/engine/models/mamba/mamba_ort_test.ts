/**
 * Mamba decode against onnxruntime-node running the same step as an ONNX graph written from
 * the Mamba-1 definition (tests/_mamba_onnx.ts): an oracle independent of the PyTorch fixture,
 * on another shape (untied LM head, dt rank 8, 2 layers), the states carried step by step.
 */
import { MambaModel } from "../../../../engine/models/mamba/mamba.ts";
import { loadKernels } from "../../../../engine/wasm/kernels.ts";
import { mambaStepOnnx, mambaStepStates } from "../../../_mamba_onnx.ts";
import { ort } from "../../../_ort.ts";
import { assertClose } from "../../../_assert.ts";
import { Random } from "../../../_random.ts";
import { type MambaTensor, mambaWeights } from "../../../_mamba_weights.ts";

Deno.test("Mamba decode matches onnxruntime running the Mamba-1 step, token by token", async () => {
  const cfg = {
    dModel: 64,
    layers: 2,
    dInner: 128,
    dState: 16,
    dConv: 4,
    dtRank: 8,
    vocab: 300,
    eps: 1e-5,
  };
  const rng = new Random(61);
  // Scale and shift per role.
  const values: Record<MambaTensor, [number, number?]> = {
    embeddings: [1],
    lm_head: [0.3],
    norm: [0.5, 1],
    in_proj: [0.3],
    "conv1d.weight": [0.8],
    "conv1d.bias": [0.2],
    x_proj: [0.3],
    "dt_proj.weight": [0.5],
    "dt_proj.bias": [1],
    A_log: [1],
    D: [1],
    out_proj: [0.3],
    norm_f: [0.5, 1],
  };
  const w = mambaWeights(cfg, (role, dims) => {
    const [scale, shift = 0] = values[role];
    return rng.floats(dims.reduce((a, b) => a * b, 1)).map((v) => v * scale + shift);
  });
  const model = new MambaModel(await loadKernels({ kernels: "relaxed" }), cfg, w);
  const session = await ort.InferenceSession.create(mambaStepOnnx(cfg, w), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const states = mambaStepStates(cfg);
    const feeds: Record<string, ort.Tensor> = {};
    for (const s of states) {
      const zeros = new Float32Array(s.dims.reduce((a, b) => a * b, 1));
      feeds[s.input] = new ort.Tensor("float32", zeros, s.dims);
    }
    for (const token of [5, 77, 299, 0, 150, 150, 42]) {
      const ours = model.forward([token], { lastOnly: true });
      feeds.token = new ort.Tensor("int64", BigInt64Array.of(BigInt(token)), [1]);
      const out = await session.run(feeds);
      for (const s of states) feeds[s.input] = out[s.output];
      assertClose(
        ours,
        out.logits.data as Float32Array,
        { rtol: 1e-4, atol: 1e-4 },
        `token ${token}`,
      );
    }
  } finally {
    await session.release();
    model.dispose();
  }
});
