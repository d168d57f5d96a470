/**
 * Numpy broadcasting: the shape rule, per-operand strides, and a plan that walks any
 * broadcast as 2-D blocks (rows x n) the elementwise kernels run without materialising the
 * broadcast operands. MatMul reuses `broadcastShapes` for its batch dims.
 *
 * @module
 */
import { ShapeError } from "../errors.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import type { ArenaTensor } from "./op.ts";

/**
 * The broadcast of several shapes (numpy / ONNX multidirectional rule): shapes are aligned
 * on the right and each dim must be equal or 1. Throws a ShapeError that starts with `what`
 * (so it starts with a capital: `Node "add" (Add)`).
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "./broadcast.ts";
 * console.log(broadcastShapes([[8, 1, 6, 1], [7, 1, 5]], 'Node "add" (Add)')); // [8, 7, 6, 5]
 * ```
 */
export function broadcastShapes(shapes: readonly (readonly number[])[], what: string): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i] ?? 1;
      if (x === 1) continue;
      if (d !== 1 && x !== d) {
        throw new ShapeError(
          `${what}: shapes ${shapes.map((s) => `[${s.join(", ")}]`).join(" and ")} do not ` +
            `broadcast (dim ${i} of the result: ${d} vs ${x})`,
        );
      }
      d = x;
    }
    out[i] = d;
  }
  return out;
}

/**
 * Whether `from` broadcasts to exactly `to` (ONNX unidirectional rule, e.g. PRelu's slope,
 * Expand's inputs checked the other way).
 */
export function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  for (let i = 0; i < from.length; i++) {
    const f = from[from.length - 1 - i];
    if (f !== 1 && f !== to[to.length - 1 - i]) return false;
  }
  return true;
}

/**
 * Element strides of a row-major tensor of `dims` read as the broadcast shape `out`: 0 on
 * every broadcast (or missing leading) dim.
 */
export function broadcastStrides(dims: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    const j = out.length - dims.length + i;
    strides[j] = dims[i] === 1 ? 0 : acc;
    acc *= dims[i];
  }
  return strides;
}

/**
 * A broadcast cut into 2-D blocks: the output is `outer` (row-major, any rank) x `rows` x `n`,
 * contiguous; operand j starts each block at `sum(outerIndex * outerStrides[j])` and reads
 * element (r, i) at `r * ld[j] + i * inner[j]` (inner is 0 or 1), all in elements.
 */
export interface BroadcastPlan {
  /** Output dims walked by the caller, outermost first (often empty). */
  outer: number[];
  /** Per operand: element strides of the `outer` dims. */
  outerStrides: number[][];
  /** Rows per block. */
  rows: number;
  /** Elements per row. */
  n: number;
  /** Per operand: row stride in elements (0: the row repeats). */
  ld: number[];
  /** Per operand: 1 when the row is a run of values, 0 when one value is broadcast along it. */
  inner: number[];
}

/**
 * Plans how to walk `out` for operands of the given dims: drops size-1 dims, merges dims
 * that every operand walks contiguously (or broadcasts over together), and keeps the last two
 * merged dims as the block. Same-shape and scalar operands collapse to one row; `[C, 1, 1]`
 * over `[N, C, H, W]` becomes `N` blocks of C rows of H*W with a per-row value.
 *
 * @example
 * ```ts
 * import { planBroadcast } from "./broadcast.ts";
 * const p = planBroadcast([1, 64, 56, 56], [[1, 64, 56, 56], [64, 1, 1]]);
 * console.log(p.rows, p.n, p.ld, p.inner); // 64 3136 [3136, 1] [1, 0]
 * ```
 */
export function planBroadcast(
  out: readonly number[],
  operands: readonly (readonly number[])[],
): BroadcastPlan {
  const all = operands.map((d) => broadcastStrides(d, out));
  let dims: number[] = [];
  let strides: number[][] = operands.map(() => []);
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 1) continue;
    dims.push(out[i]);
    all.forEach((s, j) => strides[j].push(s[i]));
  }
  // Merge dim k into k - 1 when every operand steps through both as through one.
  const mergedDims: number[] = [];
  const mergedStrides: number[][] = operands.map(() => []);
  for (let k = 0; k < dims.length; k++) {
    const last = mergedDims.length - 1;
    const fits = last >= 0 &&
      strides.every((s, j) => mergedStrides[j][last] === s[k] * dims[k]);
    if (fits) {
      mergedDims[last] *= dims[k];
      strides.forEach((s, j) => (mergedStrides[j][last] = s[k]));
    } else {
      mergedDims.push(dims[k]);
      strides.forEach((s, j) => mergedStrides[j].push(s[k]));
    }
  }
  dims = mergedDims;
  strides = mergedStrides;
  const r = dims.length;
  if (r === 0) {
    return {
      outer: [],
      outerStrides: operands.map(() => []),
      rows: 1,
      n: 1,
      ld: operands.map(() => 0),
      inner: operands.map(() => 0),
    };
  }
  const n = dims[r - 1];
  const rows = r >= 2 ? dims[r - 2] : 1;
  return {
    outer: dims.slice(0, Math.max(0, r - 2)),
    outerStrides: strides.map((s) => s.slice(0, Math.max(0, r - 2))),
    rows,
    n,
    ld: strides.map((s) => (r >= 2 ? s[r - 2] : 0)),
    inner: strides.map((s) => s[r - 1]),
  };
}

/**
 * Calls `block(starts, outStart)` for every block of a plan: `starts[j]` is operand j's first
 * element, `outStart` the output's, both in elements. Zero-size outputs make no calls.
 */
export function forEachBlock(
  plan: BroadcastPlan,
  block: (starts: number[], outStart: number) => void,
): void {
  const { outer, outerStrides } = plan;
  const blockSize = plan.rows * plan.n;
  if (blockSize === 0 || outer.some((d) => d === 0)) return;
  const idx = new Array<number>(outer.length).fill(0);
  const starts = outerStrides.map(() => 0);
  let outStart = 0;
  for (;;) {
    block(starts.slice(), outStart);
    outStart += blockSize;
    // Odometer over the outer dims, updating the operand starts incrementally.
    let k = outer.length - 1;
    for (; k >= 0; k--) {
      idx[k]++;
      outerStrides.forEach((s, j) => (starts[j] += s[k]));
      if (idx[k] < outer[k]) break;
      outerStrides.forEach((s, j) => (starts[j] -= s[k] * outer[k]));
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

/** An element as the host sees it: a number, or a bigint for int64. */
export type Element = number | bigint;

/** A typed view of an arena tensor's elements. */
export type View =
  | Float32Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Uint16Array;

/** A typed view of an arena tensor (make a new one after any allocation). */
export function arenaView(kr: Kernels, t: ArenaTensor): View {
  const buf = kr.arena.memory.buffer;
  const n = sizeOf(t.dims);
  switch (t.type) {
    case "float32":
      return new Float32Array(buf, t.offset, n);
    case "int32":
      return new Int32Array(buf, t.offset, n);
    case "int64":
      return new BigInt64Array(buf, t.offset, n);
    case "int8":
      return new Int8Array(buf, t.offset, n);
    case "float16":
      return new Uint16Array(buf, t.offset, n);
    case "uint8":
    case "bool":
      return new Uint8Array(buf, t.offset, n);
  }
}

/**
 * `out[e] = fn(operand values at e)` with numpy broadcasting, on the host: the path for
 * integer and boolean tensors (shape arithmetic, masks), where the sizes are small. Values
 * are bigints for int64 tensors, numbers otherwise; `fn` returns the output's kind.
 */
export function mapBroadcast(
  kr: Kernels,
  operands: readonly ArenaTensor[],
  out: ArenaTensor,
  fn: (args: Element[]) => Element,
): void {
  const plan = planBroadcast(out.dims, operands.map((o) => o.dims));
  const views = operands.map((o) => arenaView(kr, o));
  const y = arenaView(kr, out) as unknown as Element[];
  const args: Element[] = operands.map(() => 0);
  forEachBlock(plan, (starts, o) => {
    for (let r = 0; r < plan.rows; r++) {
      for (let i = 0; i < plan.n; i++) {
        for (let j = 0; j < views.length; j++) {
          args[j] = views[j][starts[j] + r * plan.ld[j] + i * plan.inner[j]];
        }
        y[o + r * plan.n + i] = fn(args);
      }
    }
  });
}
