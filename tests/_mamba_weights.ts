/**
 * Random Mamba-1 checkpoints in the Hugging Face `MambaForCausalLM` layout, for tests: the list
 * of tensors and their dims lives here once; each test decides the values.
 */
import type { MambaConfig } from "../engine/models/mamba/mamba.ts";
import { Tensor } from "../engine/tensor.ts";

/** A tensor's role, the same in every layer. */
export type MambaTensor =
  | "embeddings"
  | "lm_head"
  | "norm"
  | "in_proj"
  | "conv1d.weight"
  | "conv1d.bias"
  | "x_proj"
  | "dt_proj.weight"
  | "dt_proj.bias"
  | "A_log"
  | "D"
  | "out_proj"
  | "norm_f";

/** The projections a C4n or f16 GEMV may take (and the LM head). */
export const MAMBA_LINEAR: ReadonlySet<MambaTensor> = new Set([
  "lm_head",
  "in_proj",
  "x_proj",
  "dt_proj.weight",
  "out_proj",
]);

/**
 * Every tensor of a checkpoint for `cfg`, in file order, with the values `make` gives for its
 * role, dims and name; `lmHead: false` leaves the LM head tied to the embeddings.
 */
export function mambaWeights(
  cfg: MambaConfig,
  make: (role: MambaTensor, dims: number[], name: string) => Float32Array,
  { lmHead = true } = {},
): Map<string, Tensor> {
  const w = new Map<string, Tensor>();
  const t = (name: string, role: MambaTensor, dims: number[]) =>
    w.set(name, new Tensor("float32", make(role, dims, name), dims));
  t("backbone.embeddings.weight", "embeddings", [cfg.vocab, cfg.dModel]);
  if (lmHead) t("lm_head.weight", "lm_head", [cfg.vocab, cfg.dModel]);
  for (let i = 0; i < cfg.layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    t(`backbone.layers.${i}.norm.weight`, "norm", [cfg.dModel]);
    t(`${m}in_proj.weight`, "in_proj", [2 * cfg.dInner, cfg.dModel]);
    t(`${m}conv1d.weight`, "conv1d.weight", [cfg.dInner, 1, cfg.dConv]);
    t(`${m}conv1d.bias`, "conv1d.bias", [cfg.dInner]);
    t(`${m}x_proj.weight`, "x_proj", [cfg.dtRank + 2 * cfg.dState, cfg.dInner]);
    t(`${m}dt_proj.weight`, "dt_proj.weight", [cfg.dInner, cfg.dtRank]);
    t(`${m}dt_proj.bias`, "dt_proj.bias", [cfg.dInner]);
    t(`${m}A_log`, "A_log", [cfg.dInner, cfg.dState]);
    t(`${m}D`, "D", [cfg.dInner]);
    t(`${m}out_proj.weight`, "out_proj", [cfg.dModel, cfg.dInner]);
  }
  t("backbone.norm_f.weight", "norm_f", [cfg.dModel]);
  return w;
}
