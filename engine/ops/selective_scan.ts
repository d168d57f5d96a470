/**
 * Mamba-1's selective scan on arena offsets. Per token t and channel d, with
 * dt' = softplus?(dt + dt_bias):
 *   h[d][n] = exp(dt' A[d][n]) h[d][n] + dt' B[t][n] x[t][d],
 *   y[t][d] = (Σ_n C[t][n] h[d][n] + Dskip[d] x[t][d]) · silu(z[t][d]).
 * The state h [D][N] lives in the arena and is updated in place, so decode carries it from
 * call to call. One token runs the step kernel (B and C held in registers for N = 16); longer
 * inputs run the sequence kernel, which keeps each channel's state and A row in registers
 * across blocks of 16 tokens. Row strides let x, z, B, C and dt be column slices of the
 * projections (in_proj, x_proj) without copies.
 *
 * Also the internal op "SelectiveScan" for graphs:
 * - inputs: x [L, D] (or [batch, L, D]); dt (x's shape); A [D, N]; B [L, N] (or
 *   [batch, L, N]); C (B's shape); D [D] (optional); z (x's shape, optional); dt_bias [D]
 *   (optional); h0 [D, N] (or [batch, D, N], optional: zeros when absent).
 * - outputs: y (x's shape); h (h0's shape, optional: the final state).
 * - attribute `dt_softplus`: 1 applies softplus to dt + dt_bias (default 0: dt is final).
 *
 * @module
 */
import { DTypeError, ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { runSplit, splitRange, threadsFor } from "../threads/split.ts";
import { formatDims, nodeLabel } from "./_node_params.ts";
import type { Op, OutputInfo } from "./op.ts";

/** Arguments of `selectiveScan`: sizes, byte offsets and row strides (in floats). */
export interface SelectiveScanArgs {
  /** Tokens L (1 for a decode step). */
  tokens: number;
  /** Channels D (Mamba's d_inner). */
  channels: number;
  /** State size N (16 in Mamba-1). */
  stateSize: number;
  /** x rows [L][D]. */
  x: number;
  /** Row stride of x in floats (default D). */
  ldx?: number;
  /** dt rows [L][D]. */
  dt: number;
  /** Row stride of dt in floats (default D). */
  lddt?: number;
  /** D floats added to dt, or 0. */
  dtBias?: number;
  /** Apply softplus to dt + dtBias (default false). */
  softplus?: boolean;
  /** A [D][N]. */
  A: number;
  /** B rows [L][N]. */
  B: number;
  /** Row stride of B in floats (default N). */
  ldb?: number;
  /** C rows [L][N]. */
  C: number;
  /** Row stride of C in floats (default N). */
  ldc?: number;
  /** D skip (D floats), or 0. */
  D?: number;
  /** z rows [L][D] for the SiLU gate, or 0. */
  z?: number;
  /** Row stride of z in floats (default D). */
  ldz?: number;
  /** State [D][N], updated in place. */
  h: number;
  /** Output rows [L][D]; must not overlap any input. */
  y: number;
  /** Row stride of y in floats (default D). */
  ldy?: number;
}

/**
 * Runs the selective scan over `tokens` tokens, updating the state.
 *
 * @example One decode step of a layer with D = 8, N = 16
 * ```ts
 * import { loadKernels } from "../wasm/kernels.ts";
 * import { selectiveScan } from "./selective_scan.ts";
 * const kr = await loadKernels();
 * const f = (n: number, v: number) => {
 *   const o = kr.arena.alloc(n * 4);
 *   kr.arena.f32(o, n).fill(v);
 *   return o;
 * };
 * const [x, dt, A, B, C, h, y] = [f(8, 1), f(8, 0.1), f(128, -1), f(16, 1), f(16, 1), f(128, 0), f(8, 0)];
 * selectiveScan(kr, { tokens: 1, channels: 8, stateSize: 16, x, dt, A, B, C, h, y });
 * console.log(kr.arena.f32(y, 1)[0].toFixed(3)); // 1.600 (16 × 0.1)
 * ```
 */
export function selectiveScan(kr: Kernels, a: SelectiveScanArgs): void {
  const { tokens: L, channels: D, stateSize: N } = a;
  if (L === 0 || D === 0) return;
  const softplus = a.softplus ? 1 : 0;
  if (L === 1) {
    kr.fn.f32_scan_selective_step_x4(
      D,
      N,
      a.x,
      a.dt,
      a.dtBias ?? 0,
      softplus,
      a.A,
      a.B,
      a.C,
      a.D ?? 0,
      a.z ?? 0,
      a.h,
      a.y,
    );
    return;
  }
  // Channels are independent: threads take ranges of them (whole vectors of 4), each range
  // offsetting every per-channel pointer; B and C are shared. A decode step is too small to
  // pay for waking a worker (about 1.4 M flop-equivalents at mamba-130m shapes).
  const at = (offset: number | undefined, d0: number, width = 1) =>
    offset ? offset + d0 * width * 4 : 0;
  const threads = threadsFor(kr, L * D * N * SCAN_FLOPS_PER_STATE);
  runSplit(
    kr,
    splitRange(D, 4, threads).map(([d0, len]) => ({
      fn: "f32_scan_selective_seq_x4",
      args: [
        L,
        len,
        N,
        at(a.x, d0),
        a.ldx ?? D,
        at(a.dt, d0),
        a.lddt ?? D,
        at(a.dtBias, d0),
        softplus,
        at(a.A, d0, N),
        a.B,
        a.ldb ?? N,
        a.C,
        a.ldc ?? N,
        at(a.D, d0),
        at(a.z, d0),
        a.ldz ?? D,
        at(a.h, d0, N),
        at(a.y, d0),
        a.ldy ?? D,
      ],
    })),
  );
}

/**
 * What one state value of one token costs the scan, in `threadsFor`'s unit (GEMM flops): an
 * exponential and a few multiply-adds, about 1.4 ns here (a mamba-130m layer's 64-token
 * prefill scan took 2.2 ms), against about 40 GFLOP/s of GEMM.
 */
const SCAN_FLOPS_PER_STATE = 56;

type Dims = { type: string; dims: number[] } | undefined;

function scanShapes(node: Node, inputs: Dims[]) {
  const where = nodeLabel(node);
  const names = ["x", "dt", "A", "B", "C", "D", "z", "dt_bias", "h0"];
  for (let i = 0; i < 5; i++) {
    if (!inputs[i]) throw new ShapeError(`${where}: input "${names[i]}" is required`);
  }
  inputs.forEach((t, i) => {
    if (t && t.type !== "float32") {
      throw new DTypeError(`${where}: ${names[i]} is "${t.type}", only "float32" is supported`);
    }
  });
  const x = inputs[0]!.dims;
  if (x.length !== 2 && x.length !== 3) {
    throw new ShapeError(`${where}: x must be [L, D] or [batch, L, D], got ${formatDims(x)}`);
  }
  const batched = x.length === 3;
  const batch = batched ? x[0] : 1;
  const [L, D] = x.slice(-2);
  const A = inputs[2]!.dims;
  if (A.length !== 2 || A[0] !== D) {
    throw new ShapeError(`${where}: A must be [${D}, N], got ${formatDims(A)}`);
  }
  const N = A[1];
  const lead = batched ? [batch] : [];
  const want: (number[] | undefined)[] = [
    x,
    x,
    A,
    [...lead, L, N],
    [...lead, L, N],
    [D],
    x,
    [D],
    [...lead, D, N],
  ];
  inputs.forEach((t, i) => {
    if (t && formatDims(t.dims) !== formatDims(want[i]!)) {
      throw new ShapeError(
        `${where}: ${names[i]} must be ${formatDims(want[i]!)}, got ${formatDims(t.dims)}`,
      );
    }
  });
  return { batch, L, D, N, stateDims: [...lead, D, N] };
}

const selectiveScanOp: Op = {
  type: "SelectiveScan",
  check(node) {
    const s = node.attributes.dt_softplus ?? 0;
    return s === 0 || s === 1 ? [] : [`dt_softplus "${s}" is not 0 or 1`];
  },
  inferShapes(node, inputs): OutputInfo[] {
    const { stateDims } = scanShapes(node, inputs);
    const all = [[...inputs[0]!.dims], stateDims];
    return node.outputs.map((_, i) => ({ type: "float32" as const, dims: all[i] }));
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const { batch, L, D, N } = scanShapes(node, inputs);
    if (batch === 0 || D === 0) return;
    const [x, dt, A, B, C, skip, z, dtBias, h0] = inputs;
    const hOut = node.outputs[1] ? outputs[1] : undefined;
    const hs = D * N;
    const scratch = hOut ? 0 : kr.arena.alloc(Math.max(hs, 1) * 4, `${node.name} state`);
    try {
      for (let bi = 0; bi < batch; bi++) {
        const h = hOut ? hOut.offset + bi * hs * 4 : scratch;
        const hv = kr.arena.f32(h, hs);
        if (h0) hv.set(kr.arena.f32(h0.offset + bi * hs * 4, hs));
        else hv.fill(0);
        const row = bi * L * D * 4;
        selectiveScan(kr, {
          tokens: L,
          channels: D,
          stateSize: N,
          x: x!.offset + row,
          dt: dt!.offset + row,
          dtBias: dtBias?.offset ?? 0,
          softplus: node.attributes.dt_softplus === 1,
          A: A!.offset,
          B: B!.offset + bi * L * N * 4,
          C: C!.offset + bi * L * N * 4,
          D: skip?.offset ?? 0,
          z: z ? z.offset + row : 0,
          h,
          y: outputs[0].offset + row,
        });
      }
    } finally {
      if (scratch) kr.arena.free(scratch);
    }
  },
};

/** The internal op SelectiveScan. */
export const ops: Op[] = [selectiveScanOp];
