/**
 * Mamba decode against onnxruntime-node running the same step as an ONNX graph written from
 * the Mamba-1 definition (tests/_mamba_onnx.ts): an oracle independent of the PyTorch fixture,
 * on another shape (untied LM head, dt rank 8, 2 layers), the states carried step by step.
 */
import { MambaModel } from "../../../../engine/models/mamba/mamba.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { loadKernels } from "../../../../engine/wasm/kernels.ts";
import { mambaStepOnnx, mambaStepStates } from "../../../_mamba_onnx.ts";
import { ort } from "../../../_ort.ts";
import { assertClose } from "../../../_assert.ts";
import { Random } from "../../../_random.ts";

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
  const w = new Map<string, Tensor>();
  const t = (name: string, dims: number[], scale: number, shift = 0) =>
    w.set(
      name,
      new Tensor(
        "float32",
        rng.floats(dims.reduce((a, b) => a * b, 1)).map((v) => v * scale + shift),
        dims,
      ),
    );
  t("backbone.embeddings.weight", [cfg.vocab, cfg.dModel], 1);
  t("lm_head.weight", [cfg.vocab, cfg.dModel], 0.3);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `backbone.layers.${i}.mixer.`;
    t(`backbone.layers.${i}.norm.weight`, [cfg.dModel], 0.5, 1);
    t(`${p}in_proj.weight`, [2 * cfg.dInner, cfg.dModel], 0.3);
    t(`${p}conv1d.weight`, [cfg.dInner, 1, cfg.dConv], 0.8);
    t(`${p}conv1d.bias`, [cfg.dInner], 0.2);
    t(`${p}x_proj.weight`, [cfg.dtRank + 2 * cfg.dState, cfg.dInner], 0.3);
    t(`${p}dt_proj.weight`, [cfg.dInner, cfg.dtRank], 0.5);
    t(`${p}dt_proj.bias`, [cfg.dInner], 1);
    t(`${p}A_log`, [cfg.dInner, cfg.dState], 1);
    t(`${p}D`, [cfg.dInner], 1);
    t(`${p}out_proj.weight`, [cfg.dModel, cfg.dInner], 0.3);
  }
  t("backbone.norm_f.weight", [cfg.dModel], 0.5, 1);
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
