/**
 * Swap-based local search on C4n masks. A row's compensated output error for a kept set S is
 * E(S) = min over w' supported on S of (w − w')ᵀ H (w − w') = w_pᵀ ([H⁻¹]_pp)⁻¹ w_p (p the
 * pruned set): the error the least-squares refit leaves when H is the Gram matrix it fits on.
 * `obsMask` chooses the groups of 4 greedily, left to right; here each row then visits its
 * groups again and moves a group to another admissible mask (same number of zeros) whenever
 * that lowers E, the other groups staying as they are.
 *
 * Each candidate is priced in O(1) from a per-row state kept up to date as the mask changes:
 * N = (H_SS)⁻¹, T = N H_S,: (each column's regression on the kept columns), y = N (Hw)_S (the
 * refit weights), the residual gradient r = H (w − y) and, within each group, the covariance
 * C = H − H_:,S N H_S,: of the pruned columns given the kept ones. Pruning kept columns A of a
 * group loses y_Aᵀ (N_AA)⁻¹ y_A; keeping pruned columns B then wins r'_Bᵀ (C'_BB)⁻¹ r'_B, with
 * r'_B = r_B + T_ABᵀ (N_AA)⁻¹ y_A and C'_BB = C_BB + T_ABᵀ (N_AA)⁻¹ T_AB. An accepted change is
 * applied as rank-1 updates (one per column pruned or kept), O(|S| K) each.
 *
 * @module
 */
import type { MaskShape } from "./masks.ts";
import { choleskyInPlace } from "./refit.ts";

/**
 * Columns per diagonal block of H that the swaps compensate within (a multiple of 4). Each row's
 * state costs O(block³) to set up: on ESRGAN-slim C4,2 (held-out photo crops, --quick) blocks
 * of 1024 columns (as obs_mask.ts cuts H) gained 1.3 dB over the OBS masks in 79 s of swaps,
 * 512 gained 1.2 dB in 38 s, 256 only 0.4 dB in 10 s.
 */
export const SWAP_BLOCK = 512;

/** What `swapMask` returns. */
export interface SwapResult {
  /** The new keep mask (rows × K, 1 = kept). */
  keep: Uint8Array;
  /** Per row, E of the given mask (summed over the blocks of H). */
  errorBefore: Float64Array;
  /** Per row, E of the new mask, as tracked by the swaps' predicted gains. */
  errorAfter: Float64Array;
  /** Group changes accepted. */
  swaps: number;
}

/**
 * Improves a C4n keep mask (rows × K, 1 = kept; e.g. from `obsMask`) by swaps within groups
 * of 4: for each row, `passes` times over its full groups, each group takes whichever
 * admissible mask (n zeros of 4) gives the lowest compensated error E (see the module), if
 * lower than its current one. Every group keeps exactly 4 − n weights; the K % 4 tail stays
 * kept. K is cut into diagonal blocks of H of SWAP_BLOCK columns (the last one also takes the
 * K % 4 tail).
 *
 * @example
 * ```ts
 * import { swapMask } from "./swap_mask.ts";
 * const t = { rows: 1, k: 4, index: (_r: number, j: number) => j };
 * // Features 0 and 1 are near copies: keeping both explains less than keeping 0 and 2.
 * const h = new Float64Array([1, 0.99, 0, 0, 0.99, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
 * const w = new Float32Array([1, 1, 0.5, 0.1]);
 * const { keep } = swapMask(t, w, h, new Uint8Array([1, 1, 0, 0]), 2);
 * console.log(keep); // [1, 0, 1, 0]
 * ```
 */
export function swapMask(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
  keep: Uint8Array,
  n: number,
  passes = 2,
): SwapResult {
  const { rows, k } = t;
  const out = Uint8Array.from(keep);
  const errorBefore = new Float64Array(rows);
  const errorAfter = new Float64Array(rows);
  const zeroMasks = [...Array(16).keys()].filter((m) => popcount(m) === n);
  let swaps = 0;
  forEachSwapBlock(hessian, k, (b0, block) => {
    const { size, grouped } = block;
    const row = new Float64Array(size);
    const kept = new Uint8Array(size);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < size; j++) {
        row[j] = w[t.index(r, b0 + j)];
        kept[j] = out[r * k + b0 + j];
      }
      const state = block.row(row, kept);
      let error = state.error();
      errorBefore[r] += error;
      for (let pass = 0; pass < passes; pass++) {
        let changed = false;
        for (let g = 0; g < grouped; g += 4) {
          let zeros = 0;
          for (let j = 0; j < 4; j++) if (!state.isKept(g + j)) zeros |= 1 << j;
          let best = { gain: 1e-10 * error + 1e-300, pruned: [] as number[], kept: [] as number[] };
          for (const m of zeroMasks) {
            if (m === zeros) continue;
            const pruned = bitsOf(m & ~zeros, g);
            const newlyKept = bitsOf(zeros & ~m, g);
            const gain = state.gain(pruned, newlyKept);
            if (gain > best.gain) best = { gain, pruned, kept: newlyKept };
          }
          if (best.pruned.length === 0) continue;
          state.apply(best.pruned, best.kept);
          error -= best.gain;
          swaps++;
          changed = true;
        }
        if (!changed) break;
      }
      errorAfter[r] += error;
      for (let j = 0; j < size; j++) out[r * k + b0 + j] = state.isKept(j) ? 1 : 0;
    }
  });
  return { keep: out, errorBefore, errorAfter, swaps };
}

/**
 * Per row, the compensated error E = min over w' on the kept set of (w − w')ᵀ H (w − w') of a
 * keep mask, computed from scratch (a solve per row and block of H, as `swapMask` cuts it).
 *
 * @example
 * ```ts
 * import { maskError } from "./swap_mask.ts";
 * const t = { rows: 1, k: 2, index: (_r: number, j: number) => j };
 * const h = new Float64Array([2, 1, 1, 2]);
 * // Dropping w_1 = 1: the kept w_0 moves by 1/2, leaving 2 − 1/2.
 * console.log(maskError(t, new Float32Array([3, 1]), h, new Uint8Array([1, 0]))); // [1.5]
 * ```
 */
export function maskError(
  t: MaskShape,
  w: Float32Array,
  hessian: Float64Array,
  keep: Uint8Array,
): Float64Array {
  const { rows, k } = t;
  const errors = new Float64Array(rows);
  forEachSwapBlock(hessian, k, (b0, block) => {
    const row = new Float64Array(block.size);
    const kept = new Uint8Array(block.size);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < block.size; j++) {
        row[j] = w[t.index(r, b0 + j)];
        kept[j] = keep[r * k + b0 + j];
      }
      errors[r] += block.row(row, kept).error();
    }
  });
  return errors;
}

/** Set bits of a 4-bit mask, as columns from `g` on. */
function bitsOf(mask: number, g: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < 4; j++) if (mask & (1 << j)) out.push(g + j);
  return out;
}

function popcount(m: number): number {
  let c = 0;
  for (; m; m &= m - 1) c++;
  return c;
}

/**
 * Calls `visit` with each diagonal block of H (SWAP_BLOCK columns; the last one also takes the
 * K % 4 tail) and its first column.
 */
function forEachSwapBlock(
  hessian: Float64Array,
  k: number,
  visit: (b0: number, block: SwapBlock) => void,
) {
  const full = k - (k % 4);
  for (let b0 = 0; b0 < k; b0 += SWAP_BLOCK) {
    const end = b0 + SWAP_BLOCK >= full ? k : b0 + SWAP_BLOCK;
    const size = end - b0;
    const hb = new Float64Array(size * size);
    for (let i = 0; i < size; i++) {
      hb.set(hessian.subarray((b0 + i) * k + b0, (b0 + i) * k + end), i * size);
    }
    visit(b0, new SwapBlock(hb, size, Math.min(full, end) - b0));
    if (end === k) break;
  }
}

/** One row's mask during the search: what `swapMask` reads and changes. */
interface RowMask {
  /** Whether column j is kept. */
  isKept(j: number): boolean;
  /** E of the current mask. */
  error(): number;
  /** How much E falls when kept columns `pruned` are pruned and as many of `newlyKept` kept. */
  gain(pruned: readonly number[], newlyKept: readonly number[]): number;
  /** Makes that change. */
  apply(pruned: readonly number[], newlyKept: readonly number[]): void;
}

/**
 * A diagonal block of H (s × s, `grouped` of its columns in full groups of 4) and the row
 * states on it. A row is followed through its kept set S on H, or, when fewer of its columns
 * are pruned than kept, through its pruned set p on M = H⁻¹: E = w_pᵀ (M_pp)⁻¹ w_p is what p
 * explains, on M, of M (H w) = w, so the same `KeptSet` serves with the roles of kept and
 * pruned exchanged, and its cost goes with the smaller set.
 */
class SwapBlock {
  private primal?: KeptSet;
  private dual?: KeptSet;

  constructor(
    private readonly h: Float64Array,
    readonly size: number,
    readonly grouped: number,
  ) {}

  /** The state of a row of weights `w` under keep mask `kept` (both over the block). */
  row(w: Float64Array, kept: Uint8Array): RowMask {
    const { h, size: s, grouped } = this;
    let pruned = 0;
    for (let j = 0; j < s; j++) pruned += kept[j] ? 0 : 1;
    if (2 * pruned >= s) {
      const set = this.primal ??= new KeptSet(h, s, grouped);
      set.reset(w, kept);
      return {
        isKept: (j) => set.kept[j] === 1,
        error: () => set.error(),
        gain: (a, b) => set.gain(a, b),
        apply: (a, b) => {
          for (const j of a) set.remove(j);
          for (const j of b) set.add(j);
        },
      };
    }
    const set = this.dual ??= new KeptSet(invertSpd(Float64Array.from(h), s), s, grouped);
    const hw = new Float64Array(s);
    for (let i = 0; i < s; i++) {
      let v = 0;
      for (let j = 0; j < s; j++) v += h[i * s + j] * w[j];
      hw[i] = v;
    }
    set.reset(hw, kept.map((v) => 1 - v));
    return {
      isKept: (j) => set.kept[j] === 0,
      error: () => set.explained(),
      gain: (a, b) => -set.gain(b, a),
      apply: (a, b) => {
        for (const j of a) set.add(j);
        for (const j of b) set.remove(j);
      },
    };
  }
}

/**
 * The state of one row's kept set S on a block H (s × s) that prices and applies mask changes
 * (see the module). Matrices are indexed by column over the whole block; rows of N and T
 * outside S are zero, and T_SS stays the identity, so only T's pruned columns are updated. C
 * is kept only within groups of 4: `c4[c * 4 + j]` is C between column c and column j of c's
 * group.
 */
class KeptSet {
  /** 1 where the column is kept. */
  readonly kept: Uint8Array;
  private readonly n: Float64Array;
  private readonly t: Float64Array;
  private readonly c4: Float64Array;
  private readonly y: Float64Array;
  private readonly r: Float64Array;
  private readonly w: Float64Array;
  private readonly crow: Float64Array;
  /** H w. */
  private readonly g: Float64Array;
  /** Rows of T and of H, as views made once. */
  private readonly tRows: Float64Array[];
  private readonly hRows: Float64Array[];
  /** Kept columns. */
  private list: number[] = [];
  /** Pruned columns. */
  private pruned: number[] = [];

  constructor(
    private readonly h: Float64Array,
    private readonly s: number,
    private readonly grouped: number,
  ) {
    this.kept = new Uint8Array(s);
    this.n = new Float64Array(s * s);
    this.t = new Float64Array(s * s);
    this.c4 = new Float64Array(s * 4);
    this.y = new Float64Array(s);
    this.r = new Float64Array(s);
    this.w = new Float64Array(s);
    this.crow = new Float64Array(s);
    this.g = new Float64Array(s);
    this.tRows = Array.from({ length: s }, (_, i) => this.t.subarray(i * s, (i + 1) * s));
    this.hRows = Array.from({ length: s }, (_, i) => h.subarray(i * s, (i + 1) * s));
  }

  /** Sets the row's weights and kept set and computes the state from scratch. */
  reset(w: Float64Array, kept: Uint8Array) {
    const { h, s, n, t } = this;
    this.w.set(w);
    this.kept.set(kept);
    this.list = [...kept.keys()].filter((j) => kept[j]);
    this.pruned = [...kept.keys()].filter((j) => !kept[j]);
    const { list, pruned } = this;
    n.fill(0);
    t.fill(0);
    // N = (H_SS)⁻¹, then T_Sp = N H_Sp.
    const m = list.length;
    const hs = new Float64Array(m * m);
    for (let a = 0; a < m; a++) {
      for (let b = 0; b < m; b++) hs[a * m + b] = h[list[a] * s + list[b]];
    }
    const inv = invertSpd(hs, m);
    for (let a = 0; a < m; a++) {
      const i = list[a];
      for (let b = 0; b < m; b++) {
        const f = inv[a * m + b];
        n[i * s + list[b]] = f;
        this.axpy(this.tRows[i], -f, this.hRows[list[b]]);
      }
    }
    // T_SS is the identity exactly: inexact entries there would grow with every update.
    for (const i of list) for (const j of list) t[i * s + j] = i === j ? 1 : 0;
    const g = this.g;
    for (let i = 0; i < s; i++) {
      let v = 0;
      for (let j = 0; j < s; j++) v += h[i * s + j] * w[j];
      g[i] = v;
    }
    this.y.fill(0);
    for (const i of list) {
      let v = 0;
      for (const j of list) v += n[i * s + j] * g[j];
      this.y[i] = v;
    }
    this.r.fill(0);
    for (const c of pruned) {
      let v = g[c];
      for (const i of list) v -= h[c * s + i] * this.y[i];
      this.r[c] = v;
    }
    this.c4.fill(0);
    for (const c of pruned) {
      if (c >= this.grouped) continue;
      const g0 = c & ~3;
      for (let j = 0; j < 4; j++) {
        const d = g0 + j;
        if (kept[d]) continue;
        let v = h[c * s + d];
        for (const i of list) v -= h[c * s + i] * t[i * s + d];
        this.c4[c * 4 + j] = v;
      }
    }
  }

  /**
   * to[c] −= f · from[c] over the pruned columns c, where rows of T change (T_SS
   * stays the identity, C_b,S is zero). Over all columns when many are pruned: a plain loop
   * beats an indexed one, and on the kept columns it subtracts exact zeros.
   */
  private axpy(to: Float64Array, f: number, from: Float64Array) {
    const { s, pruned } = this;
    if (3 * pruned.length <= s) {
      for (let x = 0; x < pruned.length; x++) to[pruned[x]] -= f * from[pruned[x]];
    } else {
      for (let c = 0; c < s; c++) to[c] -= f * from[c];
    }
  }

  /** What the kept set explains: (H w)_Sᵀ (H_SS)⁻¹ (H w)_S = wᵀ H w − E. */
  explained(): number {
    let f = 0;
    for (const i of this.list) f += this.g[i] * this.y[i];
    return Math.max(0, f);
  }

  /** E of the current kept set: Σ over pruned columns of w_c r_c. */
  error(): number {
    let e = 0;
    for (const c of this.pruned) e += this.w[c] * this.r[c];
    return Math.max(0, e);
  }
  /**
   * How much E falls when kept columns `pruned` are pruned and pruned columns `newlyKept`
   * (as many, at most 2, all in one group) are kept.
   */
  gain(pruned: readonly number[], newlyKept: readonly number[]): number {
    const { n, s, t, y, r, c4 } = this;
    if (pruned.length === 1) {
      const [a, b] = [pruned[0], newlyKept[0]];
      const na = n[a * s + a];
      const tab = t[a * s + b];
      const rb = r[b] + (tab * y[a]) / na;
      const cbb = c4[b * 4 + (b & 3)] + (tab * tab) / na;
      return (rb * rb) / cbb - (y[a] * y[a]) / na;
    }
    const [a0, a1] = pruned;
    const [b0, b1] = newlyKept;
    // (N_AA)⁻¹ by hand: 2 × 2.
    const [p, q, u] = [n[a0 * s + a0], n[a0 * s + a1], n[a1 * s + a1]];
    const det = p * u - q * q;
    const [i00, i01, i11] = [u / det, -q / det, p / det];
    const [ya0, ya1] = [y[a0], y[a1]];
    const z0 = i00 * ya0 + i01 * ya1;
    const z1 = i01 * ya0 + i11 * ya1;
    const loss = ya0 * z0 + ya1 * z1;
    // X = T_AB (2 × 2); r'_B = r_B + Xᵀ z; C'_BB = C_BB + Xᵀ (N_AA)⁻¹ X.
    const [x00, x01, x10, x11] = [t[a0 * s + b0], t[a0 * s + b1], t[a1 * s + b0], t[a1 * s + b1]];
    const r0 = r[b0] + x00 * z0 + x10 * z1;
    const r1 = r[b1] + x01 * z0 + x11 * z1;
    const form = (v0: number, v1: number, e0: number, e1: number) =>
      e0 * (i00 * v0 + i01 * v1) + e1 * (i01 * v0 + i11 * v1);
    const c00 = c4[b0 * 4 + (b0 & 3)] + form(x00, x10, x00, x10);
    const c01 = c4[b0 * 4 + (b1 & 3)] + form(x01, x11, x00, x10);
    const c11 = c4[b1 * 4 + (b1 & 3)] + form(x01, x11, x01, x11);
    const cdet = c00 * c11 - c01 * c01;
    const win = (c11 * r0 * r0 - 2 * c01 * r0 * r1 + c00 * r1 * r1) / cdet;
    return win - loss;
  }

  /** Prunes kept column a (a rank-1 downdate). */
  remove(a: number) {
    const { n, s, y, r, c4, kept } = this;
    this.pruned.push(a);
    this.list = this.list.filter((i) => i !== a);
    const na = n[a * s + a];
    const ya = y[a];
    const ta = this.tRows[a];
    for (const i of this.list) {
      const f = n[i * s + a] / na;
      if (f === 0) continue;
      for (const j of this.list) n[i * s + j] -= f * n[a * s + j];
      n[i * s + a] = 0;
      this.axpy(this.tRows[i], f, ta);
      y[i] -= f * ya;
    }
    for (const c of this.pruned) r[c] += (ya * ta[c]) / na;
    // C of a's group: a's row and column were zero while a was kept.
    const g0 = a & ~3;
    for (let j = 0; j < 4; j++) {
      c4[a * 4 + j] = 0;
      c4[(g0 + j) * 4 + (a & 3)] = 0;
    }
    for (const c of this.pruned) {
      if (ta[c] === 0 || c >= this.grouped) continue;
      const f = ta[c] / na;
      const base = c & ~3;
      for (let j = 0; j < 4; j++) c4[c * 4 + j] += f * ta[base + j];
    }
    for (const j of this.list) n[a * s + j] = n[j * s + a] = 0;
    n[a * s + a] = 0;
    ta.fill(0);
    y[a] = 0;
    kept[a] = 0;
  }

  /** Keeps pruned column b (a rank-1 update). */
  add(b: number) {
    const { h, n, s, t, y, r, c4, kept, crow } = this;
    const rho = r[b];
    // Row b of C over the pruned columns: H_b,p − H_b,S T_S,p; C_bb is b's variance given S.
    crow.set(this.hRows[b]);
    for (const i of this.list) {
      const f = h[b * s + i];
      if (f !== 0) this.axpy(crow, f, this.tRows[i]);
    }
    for (const i of this.list) crow[i] = 0;
    const sigma = crow[b];
    const tb = this.list.map((i) => t[i * s + b]);
    this.list.forEach((i, x) => {
      const f = tb[x] / sigma;
      for (let z = 0; z < this.list.length; z++) n[i * s + this.list[z]] += f * tb[z];
      n[i * s + b] = n[b * s + i] = -f;
      if (f !== 0) this.axpy(this.tRows[i], f, crow);
      y[i] -= f * rho;
    });
    n[b * s + b] = 1 / sigma;
    for (const c of this.pruned) {
      t[b * s + c] = crow[c] / sigma;
      r[c] -= (crow[c] * rho) / sigma;
    }
    r[b] = 0;
    y[b] = rho / sigma;
    for (const c of this.pruned) {
      if (crow[c] === 0 || c >= this.grouped) continue;
      const f = crow[c] / sigma;
      const base = c & ~3;
      for (let j = 0; j < 4; j++) c4[c * 4 + j] -= f * crow[base + j];
    }
    const g0 = b & ~3;
    for (let j = 0; j < 4; j++) {
      c4[b * 4 + j] = 0;
      c4[(g0 + j) * 4 + (b & 3)] = 0;
    }
    kept[b] = 1;
    this.list.push(b);
    this.pruned = this.pruned.filter((c) => c !== b);
  }
}

/** The inverse of a symmetric positive definite m × m matrix (Cholesky; `a` is overwritten). */
function invertSpd(a: Float64Array, m: number): Float64Array {
  choleskyInPlace(a, m, 1e-300);
  // L⁻¹ (lower), row by row.
  const li = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    li[i * m + i] = 1 / a[i * m + i];
    for (let j = 0; j < i; j++) {
      let v = 0;
      for (let q = j; q < i; q++) v -= a[i * m + q] * li[q * m + j];
      li[i * m + j] = v / a[i * m + i];
    }
  }
  // A⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) = Σ_{q ≥ max(i, j)} L⁻¹_qi L⁻¹_qj.
  const inv = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let v = 0;
      for (let q = i; q < m; q++) v += li[q * m + i] * li[q * m + j];
      inv[i * m + j] = inv[j * m + i] = v;
    }
  }
  return inv;
}
