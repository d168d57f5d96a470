/**
 * The sparse weight formats (C4n, C4n GEMV, block, pattern 3x3) load only for models that
 * could use one: every format needs at least a quarter of a layer's weights to be zeros (C4,1
 * drops 1 of 4; block GEMV needs more, pattern 5 of 9). A model none of whose float weights has
 * that many runs dense without them, and a web page running it never downloads their code.
 *
 * @module
 */
import { forEachGraph, type Model } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";
import type * as BlockSparse from "./block_sparse.ts";
import type * as C4n from "./c4n.ts";
import type * as C4nGemv from "./c4n_gemv.ts";
import type * as PatternConv from "../ops/conv_pattern.ts";

/** The packers and runners of the sparse formats. */
export interface SparsePackers {
  /** C4n detection and packing (SpMM). */
  c4n: typeof C4n;
  /** The C4n GEMV layout. */
  c4nGemv: typeof C4nGemv;
  /** Block sparsity (GEMV). */
  block: typeof BlockSparse;
  /** Pattern-sparse 3x3 convolution. */
  patternConv: typeof PatternConv;
}

/** The least share of zeros any sparse format needs in a weight. */
export const MIN_SPARSE_ZEROS = 0.25;

let loaded: SparsePackers | undefined;

/** The sparse formats, if `loadSparsePackers` has loaded them (else layers run dense). */
export function sparsePackers(): SparsePackers | undefined {
  return loaded;
}

/**
 * Loads the sparse formats (once per process).
 *
 * @example
 * ```ts
 * import { loadSparsePackers } from "./sparse_packers.ts";
 * const { c4n } = await loadSparsePackers();
 * console.log(c4n.detectC4n(new Float32Array([0, 0, 1, 2]), 1, 4)); // 2
 * ```
 */
export async function loadSparsePackers(): Promise<SparsePackers> {
  if (!loaded) {
    const [c4n, c4nGemv, block, patternConv] = await Promise.all([
      import("./c4n.ts"),
      import("./c4n_gemv.ts"),
      import("./block_sparse.ts"),
      import("../ops/conv_pattern.ts"),
    ]);
    loaded = { c4n, c4nGemv, block, patternConv };
  }
  return loaded;
}

/** Positions a large tensor is first sampled at (see `sparseEnough`). */
const SAMPLES = 256;

/**
 * Whether a float32 tensor has enough zeros for a sparse format (exactly: the zeros are
 * counted). A large tensor is first sampled at 256 pseudo-random positions, drawn
 * independently of its values: one with a quarter zeros shows fewer than an eighth among them
 * with odds near 2·10⁻⁶ however its zeros are arranged (rows, blocks, one in every group of
 * 4), so dense weights are rejected after 256 reads instead of three quarters of their values.
 * This scan runs at load over every weight, before V8 has optimised it.
 */
export function sparseEnough(t: Tensor): boolean {
  if (t.type !== "float32" || t.size < 16) return false;
  const d = t.data as Float32Array;
  const n = d.length;
  if (n >= 16 * SAMPLES) {
    let seen = 0;
    let x = (0x9e3779b9 ^ n) | 0 || 1;
    for (let s = 0; s < SAMPLES; s++) {
      // xorshift32
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (d[(x >>> 0) % n] === 0) seen++;
    }
    if (seen < SAMPLES / 8) return false;
  }
  const need = Math.ceil(n * MIN_SPARSE_ZEROS);
  let zeros = 0;
  // Stops once too few elements are left to reach the share.
  for (let i = 0; i < n && zeros + (n - i) >= need; i++) {
    if (d[i] === 0 && ++zeros >= need) return true;
  }
  return false;
}

/**
 * Whether a constant of the graph or its subgraphs (an initializer, or the value of a Constant
 * node, where exporters such as PyTorch's put weights inside `If` branches) has enough zeros
 * to go sparse.
 */
export function hasSparseWeights(model: Model): boolean {
  let found = false;
  forEachGraph(model.graph, (g) => {
    for (const t of g.initializers.values()) if (!found && sparseEnough(t)) found = true;
    for (const n of g.nodes) {
      const v = n.op === "Constant" ? n.attributes.value : undefined;
      if (!found && v instanceof Tensor && sparseEnough(v)) found = true;
    }
  });
  return found;
}
