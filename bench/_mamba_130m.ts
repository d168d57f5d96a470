/**
 * The dimensions of state-spaces/mamba-130m, for benchmarks that build random weights of that
 * shape (no checkpoint download): `layers` of the real 24 when a quick run wants fewer.
 */
import type { MambaConfig } from "../engine/models/mamba/mamba.ts";

/** mamba-130m's config with `layers` layers. */
export function mamba130mConfig(layers = 24): MambaConfig {
  return {
    dModel: 768,
    layers,
    dInner: 1536,
    dState: 16,
    dConv: 4,
    dtRank: 48,
    vocab: 50280,
    eps: 1e-5,
  };
}
