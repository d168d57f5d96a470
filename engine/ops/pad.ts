/**
 * Pad (constant, reflect, edge, wrap) as a copy program: fill only the border slabs with
 * the constant, copy the interior (negative pads crop it first), then for the other modes
 * copy border slabs from inside the output, innermost axis first, so each slab's inner dims
 * are already complete when it is copied.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, checkDims, stridesOf } from "../tensor.ts";
import { scalarBytes } from "./cast.ts";
import {
  type CopyProgram,
  type CopyStep,
  foldCopyProgram,
  runCopyProgram,
} from "./_copy_program.ts";
import {
  floatAttr,
  formatDims,
  hasInput,
  inputInts,
  intsAttr,
  type KnownOutput,
  nodeLabel,
  normalizeAxes,
  requireInput,
  runInts,
  shapeError,
  stringAttr,
  tensorBytes,
} from "./_node_params.ts";
import type { InputInfo, Op } from "./op.ts";

const MODES = ["constant", "reflect", "edge", "wrap"];

/** Full begin/end pads for every axis, from pads (and axes, opset 18). */
function fullPads(
  node: Node,
  rank: number,
  pads: number[] | undefined,
  axes: number[] | undefined,
): number[] {
  if (!pads) throw shapeError(node, "pads are required");
  const ax = axes ? normalizeAxes(node, axes, rank) : Array.from({ length: rank }, (_, i) => i);
  if (pads.length !== 2 * ax.length) {
    throw shapeError(node, `pads ${formatDims(pads)} must have ${2 * ax.length} values`);
  }
  const out = new Array<number>(2 * rank).fill(0);
  ax.forEach((a, k) => {
    out[a] = pads[k];
    out[a + rank] = pads[k + ax.length];
  });
  return out;
}

/** Per axis: cropped interior size, crop start, left pad; and output dims. */
function padPlan(node: Node, dims: readonly number[], pads: number[], mode: string) {
  const r = dims.length;
  const crop = dims.map((_, k) => Math.max(0, -pads[k]));
  const inner = dims.map((d, k) => d - crop[k] - Math.max(0, -pads[k + r]));
  const left = dims.map((_, k) => Math.max(0, pads[k]));
  const out = inner.map((n, k) => n + left[k] + Math.max(0, pads[k + r]));
  inner.forEach((n, k) => {
    if (n < 0) {
      throw shapeError(node, `pads ${formatDims(pads)} crop more than ${formatDims(dims)}`);
    }
    if (n === 0 && mode !== "constant" && out[k] > 0) {
      throw shapeError(
        node,
        `"${mode}" padding needs a non-empty axis ${k}, got ${formatDims(dims)}`,
      );
    }
  });
  checkDims(out, `${nodeLabel(node)}: output`);
  return { crop, inner, left, out };
}

/** Where output position p along an axis reads from, for the non-constant modes. */
function sourcePosition(mode: string, p: number, left: number, n: number): number {
  let j = p - left;
  if (mode === "edge") j = Math.min(Math.max(j, 0), n - 1);
  else if (mode === "wrap") j = ((j % n) + n) % n;
  else if (n === 1) j = 0;
  else {
    const period = 2 * (n - 1);
    j = ((j % period) + period) % period;
    if (j >= n) j = period - j;
  }
  return j + left;
}

/**
 * The longest run of output positions from p along an axis (interior at [left, left + n))
 * whose sources are source, source + delta, source + 2 delta, …: edge repeats one position
 * forever, wrap walks up to the interior's end, reflect walks to the next turn of the mirror.
 */
export function borderRun(
  mode: string,
  p: number,
  left: number,
  n: number,
): { source: number; delta: number; length: number } {
  const source = sourcePosition(mode, p, left, n);
  if (mode === "edge" || n === 1) return { source, delta: 0, length: Infinity };
  const j = source - left;
  if (mode === "wrap") return { source, delta: 1, length: n - j };
  // Reflect: the phase within the period 2 (n - 1) tells the direction.
  const period = 2 * (n - 1);
  const phase = (((p - left) % period) + period) % period;
  return phase < n - 1
    ? { source, delta: 1, length: n - 1 - phase + 1 }
    : { source, delta: -1, length: period - phase + 1 };
}

/** The copies of Pad for input dims, full pads and a constant (bytes of one element). */
export function padProgram(
  node: Node,
  dims: readonly number[],
  pads: number[],
  mode: string,
  constant: Uint8Array,
): { out: number[]; program: CopyProgram } {
  const r = dims.length;
  const { crop, inner, left, out } = padPlan(node, dims, pads, mode);
  const st = stridesOf(dims);
  const ost = stridesOf(out);
  const steps: CopyStep[] = [];
  // The block whose axes < k span the interior, axis k spans `len` from `at`, axes > k span all.
  const slab = (k: number, at: number, len: number) => ({
    dims: out.map((d, i) => (i < k ? inner[i] : i === k ? len : d)),
    offset: out.reduce((acc, _, i) => acc + (i < k ? left[i] : i === k ? at : 0) * ost[i], 0),
  });
  if (mode === "constant") {
    for (let k = 0; k < r; k++) {
      const right = out[k] - left[k] - inner[k];
      for (const [at, len] of [[0, left[k]], [left[k] + inner[k], right]]) {
        if (len <= 0) continue;
        const s = slab(k, at, len);
        steps.push({
          dims: s.dims,
          src: { constant },
          srcOffset: 0,
          srcStrides: out.map(() => 0),
          dst: 0,
          dstOffset: s.offset,
          dstStrides: ost,
        });
      }
    }
  }
  steps.push({
    dims: inner,
    src: { input: 0 },
    srcOffset: crop.reduce((acc, c, k) => acc + c * st[k], 0),
    srcStrides: st,
    dst: 0,
    dstOffset: left.reduce((acc, l, k) => acc + l * ost[k], 0),
    dstStrides: ost,
  });
  if (mode !== "constant") {
    for (let k = r - 1; k >= 0; k--) {
      // Border positions whose sources step by -1 (reflect), 0 (edge) or +1 (wrap) along axis
      // k become one strided copy per run, not one per position (so a huge pad costs steps in
      // proportion to its runs, not its length).
      const borders = [[0, left[k]], [left[k] + inner[k], out[k]]];
      for (const [begin, end] of borders) {
        for (let p0 = begin; p0 < end;) {
          const { source, delta, length } = borderRun(mode, p0, left[k], inner[k]);
          const len = Math.min(length, end - p0);
          const from = slab(k, source, 1);
          const to = slab(k, p0, len);
          steps.push({
            dims: to.dims,
            src: { output: 0 },
            srcOffset: from.offset,
            srcStrides: ost.map((v, a) => (a === k ? delta * v : v)),
            dst: 0,
            dstOffset: to.offset,
            dstStrides: ost,
          });
          p0 += len;
        }
      }
    }
  }
  return { out, program: { esize: constant.length, steps } };
}

function padMode(node: Node): string {
  const mode = stringAttr(node, "mode", "constant");
  if (!MODES.includes(mode)) throw shapeError(node, `mode "${mode}" is not supported`);
  return mode;
}

/** ONNX Pad (opsets 2–21): pads as attribute (< 11) or input, axes input (18), wrap (19). */
export const padOp: Op = {
  type: "Pad",
  check(node) {
    const mode = stringAttr(node, "mode", "constant");
    return MODES.includes(mode) ? [] : [`mode "${mode}" is not supported`];
  },
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
    const x = requireInput(node, inputs, 0, "data");
    const mode = padMode(node);
    const pads = fullPads(
      node,
      x.dims.length,
      intsAttr(node, "pads") ?? inputInts(node, inputs, 1, "pads"),
      inputInts(node, inputs, 3, "axes"),
    );
    let constant = scalarBytes(floatAttr(node, "value", 0), x.type);
    const given = hasInput(node, 2) ? inputs[2] : undefined;
    if (given) {
      if (given.type !== x.type) {
        throw shapeError(node, `constant_value is "${given.type}", data is "${x.type}"`);
      }
      if (!given.value) return [{ type: x.type, dims: padPlan(node, x.dims, pads, mode).out }];
      constant = tensorBytes(given.value).slice();
    }
    const { out, program } = padProgram(node, x.dims, pads, mode, constant);
    return foldCopyProgram(program, inputs, [{ type: x.type, dims: out }]);
  },
  run(ctx, node, inputs, outputs) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const es = bytesPerElement(x.type);
    const pads = fullPads(
      node,
      x.dims.length,
      intsAttr(node, "pads") ?? runInts(kr, inputs, 1),
      runInts(kr, inputs, 3),
    );
    const c = inputs[2];
    const constant = c && c.dims.reduce((a, b) => a * b, 1) > 0
      ? kr.arena.u8(c.offset, es).slice()
      : scalarBytes(floatAttr(node, "value", 0), x.type);
    const { program } = padProgram(node, x.dims, pads, padMode(node), constant);
    runCopyProgram(kr, program, inputs, outputs);
  },
};

/** The ops this file implements. */
export const ops: Op[] = [padOp];
