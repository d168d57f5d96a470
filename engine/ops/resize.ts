/**
 * Resize (opsets 10–21) and Upsample (7–9). Coordinates are computed in float32 the way
 * onnxruntime does, so nearest picks the same pixels at ties.
 *
 * - nearest (any element type): one pass of `x8_resize_nearest_2d` over the last two dims,
 *   with index tables per axis (outer axes map whole planes); rows repeating the previous
 *   source row are copied, exact 2x widening is a vector duplicate.
 * - linear / cubic (float32): separable, one `f32_resize_axis` pass per resized axis with
 *   a (index, weight) table of 2 or 4 taps per output position — shrinking axes first.
 *
 * Not supported (reported by `check`): tf_crop_and_resize, antialias.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { runCopyProgram, wholeCopy } from "./_copy_program.ts";
import {
  arenaFloats,
  arenaInts,
  floatAttr,
  floatsAttr,
  formatDims,
  hasInput,
  inputFloats,
  inputInts,
  intAttr,
  intsAttr,
  type KnownOutput,
  nodeLabel,
  normalizeAxes,
  requireInput,
  shapeError,
  stringAttr,
} from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op } from "./op.ts";
import {
  itemsFor,
  noScratch,
  runQueued,
  splitRange,
  STREAMED_ELEMENT_FLOPS,
  threadsFor,
} from "../threads/split.ts";

const f = Math.fround;

const COORDINATE_MODES = [
  "half_pixel",
  "half_pixel_symmetric",
  "pytorch_half_pixel",
  "align_corners",
  "asymmetric",
  "tf_half_pixel_for_nn",
];
const NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];
const POLICIES = ["stretch", "not_larger", "not_smaller"];

/** Everything about a node's resize that does not depend on the data. */
interface ResizeAttrs {
  mode: "nearest" | "linear" | "cubic";
  coord: string;
  /** nearest_mode, or "simple" for Resize-10 and Upsample. */
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
  axes?: number[];
  policy: string;
  /** Input index of scales (-1: attribute), of sizes (-1: none). */
  scalesInput: number;
  sizesInput: number;
}

function readAttrs(node: Node): ResizeAttrs {
  const legacy = node.op === "Upsample" || node.inputs.length === 2;
  let mode = stringAttr(node, "mode", "nearest");
  if (mode === "bilinear") mode = "linear";
  if (mode !== "nearest" && mode !== "linear" && mode !== "cubic") {
    throw shapeError(node, `mode "${mode}" is not supported`);
  }
  return {
    mode,
    coord: legacy ? "asymmetric" : stringAttr(node, "coordinate_transformation_mode", "half_pixel"),
    nearest: legacy ? "simple" : stringAttr(node, "nearest_mode", "round_prefer_floor"),
    cubicA: floatAttr(node, "cubic_coeff_a", -0.75),
    excludeOutside: intAttr(node, "exclude_outside", 0) !== 0,
    axes: intsAttr(node, "axes"),
    policy: stringAttr(node, "keep_aspect_ratio_policy", "stretch"),
    scalesInput: node.op === "Upsample" && !hasInput(node, 1) ? -1 : legacy ? 1 : 2,
    sizesInput: legacy ? -1 : 3,
  };
}

function resizeCheck(node: Node, opset: number): string[] {
  const reasons: string[] = [];
  const mode = stringAttr(node, "mode", "nearest");
  if (!["nearest", "linear", "cubic", "bilinear"].includes(mode)) {
    reasons.push(`mode "${mode}" is not supported`);
  }
  const coord = stringAttr(node, "coordinate_transformation_mode", "half_pixel");
  if (coord === "tf_crop_and_resize") {
    reasons.push('coordinate_transformation_mode "tf_crop_and_resize" is not supported');
  } else if (!COORDINATE_MODES.includes(coord)) {
    reasons.push(`coordinate_transformation_mode "${coord}" is not supported`);
  }
  const nearest = stringAttr(node, "nearest_mode", "round_prefer_floor");
  if (!NEAREST_MODES.includes(nearest)) reasons.push(`nearest_mode "${nearest}" is not supported`);
  if (intAttr(node, "antialias", 0) !== 0) reasons.push("antialias is not supported");
  const policy = stringAttr(node, "keep_aspect_ratio_policy", "stretch");
  if (!POLICIES.includes(policy)) {
    reasons.push(`keep_aspect_ratio_policy "${policy}" is not supported`);
  }
  if (node.op === "Resize" && opset >= 11 && node.inputs.length === 2) {
    reasons.push("Resize from opset 11 takes roi, scales or sizes as inputs 1-3");
  }
  return reasons;
}

/** Output dims and per-axis float32 scales from scales or sizes (ONNX and onnxruntime rules). */
function outputPlan(
  node: Node,
  a: ResizeAttrs,
  dims: readonly number[],
  scales: number[] | undefined,
  sizes: number[] | undefined,
): { out: number[]; scale: number[] } {
  const r = dims.length;
  const axes = a.axes ? normalizeAxes(node, a.axes, r) : undefined;
  const spread = (v: number[], fill: number, what: string) => {
    if (!axes) {
      if (v.length !== r) {
        throw shapeError(node, `${what} ${formatDims(v)} must have one value per axis (${r})`);
      }
      return v;
    }
    if (v.length !== axes.length) {
      throw shapeError(node, `${what} ${formatDims(v)} must have one value per axis in axes`);
    }
    const full = new Array<number>(r).fill(fill);
    axes.forEach((ax, i) => (full[ax] = v[i]));
    return full;
  };
  if (scales && scales.length > 0 && sizes && sizes.length > 0) {
    throw shapeError(node, "give scales or sizes, not both");
  }
  if (sizes && sizes.length > 0) {
    let out = spread(sizes, NaN, "sizes").map((s, i) => (Number.isNaN(s) ? dims[i] : s));
    if (out.some((s) => !Number.isInteger(s) || s < 0)) {
      throw shapeError(node, `sizes ${formatDims(sizes)} must be non-negative integers`);
    }
    let scale = out.map((o, i) => {
      if (dims[i] === 0) {
        if (o !== 0) throw shapeError(node, `cannot resize an empty axis ${i} to ${o}`);
        return 1;
      }
      return f(o / dims[i]);
    });
    if (a.policy !== "stretch") {
      const on = (i: number) => !axes || axes.includes(i);
      const pool = scale.filter((_, i) => on(i));
      const s = a.policy === "not_larger" ? Math.min(...pool) : Math.max(...pool);
      scale = scale.map((_, i) => (on(i) ? s : 1));
      out = dims.map((d, i) => (on(i) ? Math.round(f(s * d)) : d));
    }
    return { out, scale };
  }
  if (!scales || scales.length === 0) throw shapeError(node, "needs scales or sizes");
  const scale = spread(scales, 1, "scales").map(f);
  if (scale.some((s) => !(s > 0))) {
    throw shapeError(node, `scales ${formatDims(scales)} must be positive`);
  }
  return { out: dims.map((d, i) => Math.trunc(f(scale[i] * d))), scale };
}

/** The input coordinate of output position x along an axis, in float32 like onnxruntime. */
function originalCoordinate(coord: string, x: number, s: number, inLen: number, outLen: number) {
  switch (coord) {
    case "asymmetric":
      return f(x / s);
    case "pytorch_half_pixel":
      return outLen > 1 ? f(f(f(x + 0.5) / s) - 0.5) : 0;
    case "tf_half_pixel_for_nn":
      return f(f(x + 0.5) / s);
    case "align_corners":
      return outLen === 1 ? 0 : f(f(x * (inLen - 1)) / (outLen - 1));
    case "half_pixel_symmetric": {
      const adjustment = f(outLen / f(s * inLen));
      const offset = f(f(inLen / 2) * f(1 - adjustment));
      return f(offset + (x + 0.5) / s - 0.5);
    }
    default:
      return f(f(f(x + 0.5) / s) - 0.5);
  }
}

function nearestIndex(mode: string, x: number, s: number, inLen: number): number {
  let i: number;
  switch (mode) {
    case "simple":
      i = s < 1 ? Math.ceil(x) : Math.trunc(x);
      break;
    case "round_prefer_ceil":
      i = Math.sign(x) * Math.round(Math.abs(x));
      break;
    case "floor":
      i = Math.floor(x);
      break;
    case "ceil":
      i = Math.ceil(x);
      break;
    default:
      i = x === Math.trunc(x) + 0.5 ? Math.floor(x) : Math.sign(x) * Math.round(Math.abs(x));
  }
  return Math.min(Math.max(i, 0), inLen - 1);
}

/** Nearest source index of every output position along one axis. */
function nearestTable(a: ResizeAttrs, s: number, inLen: number, outLen: number): Int32Array {
  const t = new Int32Array(outLen);
  for (let j = 0; j < outLen; j++) {
    t[j] = nearestIndex(a.nearest, originalCoordinate(a.coord, j, s, inLen, outLen), s, inLen);
  }
  return t;
}

function cubicWeight(d: number, A: number): number {
  const t = Math.abs(d);
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  return 0;
}

/** (index, weight) taps of every output position along one axis, or null when identity. */
function tapTable(
  a: ResizeAttrs,
  s: number,
  inLen: number,
  outLen: number,
): { taps: number; idx: Int32Array; wts: Float32Array } | null {
  const taps = a.mode === "cubic" ? 4 : 2;
  const idx = new Int32Array(outLen * taps);
  const wts = new Float32Array(outLen * taps);
  let identity = inLen === outLen;
  for (let j = 0; j < outLen; j++) {
    const x = originalCoordinate(a.coord, j, s, inLen, outLen);
    const o = j * taps;
    if (a.mode === "linear") {
      const xc = Math.min(Math.max(x, 0), inLen - 1);
      const x0 = Math.floor(xc);
      const w = f(xc - x0);
      idx[o] = x0;
      idx[o + 1] = Math.min(x0 + 1, inLen - 1);
      wts[o] = 1 - w;
      wts[o + 1] = w;
      if (x0 !== j || w !== 0) identity = false;
    } else {
      const x0 = Math.floor(x);
      const r = x - x0;
      let sum = 0;
      for (let t = 0; t < 4; t++) {
        const i = x0 - 1 + t;
        let w = cubicWeight(r + 1 - t, a.cubicA);
        if (a.excludeOutside && (i < 0 || i >= inLen)) w = 0;
        idx[o + t] = Math.min(Math.max(i, 0), inLen - 1);
        wts[o + t] = w;
        sum += w;
      }
      if (a.excludeOutside) { for (let t = 0; t < 4; t++) wts[o + t] = wts[o + t] / sum; }
      if (x0 !== j || r !== 0) identity = false;
    }
  }
  return identity ? null : { taps, idx, wts };
}

/**
 * The window table of `f32_resize_axis` for a 2-tap row gather: per 4 outputs, one 4-float
 * window start and byte-swizzle masks picking each tap from it (base -1 where the taps of a
 * block spread wider, as when shrinking).
 */
function windowTable(idx: Int32Array, wts: Float32Array, inLen: number): Uint8Array {
  const blocks = Math.floor(idx.length / 8);
  const out = new Uint8Array(blocks * 80);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const taps = idx.subarray(b * 8, b * 8 + 8);
    const lo = Math.min(...taps);
    const hi = Math.max(...taps);
    const o = b * 80;
    if (inLen < 4 || hi - lo > 3) {
      view.setInt32(o, -1, true);
      continue;
    }
    const base = Math.min(lo, inLen - 4);
    view.setInt32(o, base, true);
    const rel = [...taps].map((t) => t - base).join("");
    // The kernel runs the two patterns of 2x upsampling with constant shuffles.
    view.setInt32(o + 4, rel === "01121223" ? 1 : rel === "01011212" ? 2 : 0, true);
    for (let l = 0; l < 4; l++) {
      for (let t = 0; t < 2; t++) {
        const r = taps[l * 2 + t] - base;
        for (let k = 0; k < 4; k++) out[o + 16 + t * 16 + l * 4 + k] = r * 4 + k;
        view.setFloat32(o + 48 + t * 16 + l * 4, wts[b * 8 + l * 2 + t], true);
      }
    }
  }
  return out;
}

/** Copies a typed array into a new arena block. */
function uploadTable(
  kr: Kernels,
  data: Int32Array | Float32Array | Uint8Array,
  what: string,
): number {
  const off = kr.arena.alloc(data.byteLength, what);
  new Uint8Array(kr.arena.memory.buffer, off, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  return off;
}

function runNearest(
  kr: Kernels,
  a: ResizeAttrs,
  x: ArenaTensor,
  y: ArenaTensor,
  scale: number[],
): void {
  const r = x.dims.length;
  // View as [outer planes, H, W]; ranks below 2 get unit dims in front.
  const inD = [...Array(Math.max(0, 2 - r)).fill(1), ...x.dims];
  const outD = [...Array(Math.max(0, 2 - r)).fill(1), ...y.dims];
  const sc = [...Array(Math.max(0, 2 - r)).fill(1), ...scale];
  const k = inD.length;
  const tables = inD.map((d, i) => nearestTable(a, sc[i], d, outD[i]));
  const planes = sizeOf(outD.slice(0, k - 2));
  const pidx = new Int32Array(planes);
  // Odometer over the outer output dims, mapping each output plane to its source plane.
  const pos = new Array<number>(k - 2).fill(0);
  for (let p = 0; p < planes; p++) {
    let src = 0;
    for (let i = 0; i < k - 2; i++) src = src * inD[i] + tables[i][pos[i]];
    pidx[p] = src;
    for (let i = k - 3; i >= 0; i--) {
      if (++pos[i] < outD[i]) break;
      pos[i] = 0;
    }
  }
  const [inH, inW] = inD.slice(k - 2);
  const [outH, outW] = outD.slice(k - 2);
  const xidx = tables[k - 1];
  const dup2 = outW === 2 * inW && xidx.every((v, i) => v === i >> 1) ? 1 : 0;
  const blocks = [
    uploadTable(kr, pidx, "resize plane table"),
    uploadTable(kr, tables[k - 2], "resize row table"),
    uploadTable(kr, xidx, "resize column table"),
  ];
  const esize = bytesPerElement(x.type);
  const split = planeSplit(kr, planes, outH * outW);
  try {
    // Output planes in ranges the threads claim (the plane table names each one's source).
    runQueued(
      kr,
      split.ranges.map(([p0, count]) => [{
        fn: "x8_resize_nearest_2d",
        args: [
          esize,
          count,
          inH,
          inW,
          outH,
          outW,
          blocks[0] + p0 * 4,
          blocks[1],
          blocks[2],
          dup2,
          x.offset,
          y.offset + p0 * outH * outW * esize,
        ],
      }]),
      noScratch(split.threads),
    );
  } finally {
    for (const b of blocks) kr.arena.free(b);
  }
}

/**
 * How many threads a resize of `planes` output planes of `planeCost` streamed elements each
 * is worth, and the ranges of whole planes they claim (one range with one thread).
 */
function planeSplit(kr: Kernels, planes: number, planeCost: number) {
  const flops = planes * planeCost * STREAMED_ELEMENT_FLOPS;
  const threads = threadsFor(kr, flops);
  return { threads, ranges: splitRange(planes, 1, itemsFor(threads, flops)) };
}

function runSeparable(
  kr: Kernels,
  a: ResizeAttrs,
  x: ArenaTensor,
  y: ArenaTensor,
  scale: number[],
): void {
  const dims = [...x.dims];
  const passes = dims
    .map((d, i) => ({ axis: i, table: tapTable(a, scale[i], d, y.dims[i]) }))
    .filter((p) => p.table !== null)
    // Shrink first, grow last: every pass then moves as little data as possible.
    .sort((p, q) => y.dims[p.axis] / dims[p.axis] - y.dims[q.axis] / dims[q.axis]);
  if (passes.length === 0) {
    runCopyProgram(kr, { esize: 4, steps: [wholeCopy(dims)] }, [x], [y]);
    return;
  }
  const r = dims.length;
  if (
    a.mode === "linear" && passes.length === 2 && passes.every((p) => p.axis >= r - 2)
  ) {
    runBilinear(
      kr,
      x,
      y,
      passes.find((p) => p.axis === r - 2)!.table!,
      passes.find((p) => p.axis === r - 1)!.table!,
    );
    return;
  }
  let src = x.offset;
  let temp = -1;
  for (let n = 0; n < passes.length; n++) {
    const { axis, table } = passes[n];
    const last = n === passes.length - 1;
    const next = [...dims];
    next[axis] = y.dims[axis];
    const dst = last ? y.offset : kr.arena.alloc(sizeOf(next) * 4, "resize intermediate");
    const inner = sizeOf(dims.slice(axis + 1));
    const idx = uploadTable(kr, table!.idx, "resize taps");
    const wts = uploadTable(kr, table!.wts, "resize weights");
    const win = inner === 1 && table!.taps === 2 && next[axis] >= 4
      ? uploadTable(kr, windowTable(table!.idx, table!.wts, dims[axis]), "resize windows")
      : 0;
    kr.fn.f32_resize_axis(
      sizeOf(dims.slice(0, axis)),
      dims[axis],
      next[axis],
      inner,
      table!.taps,
      idx,
      wts,
      win,
      src,
      dst,
    );
    if (win) kr.arena.free(win);
    kr.arena.free(wts);
    kr.arena.free(idx);
    if (temp >= 0) kr.arena.free(temp);
    temp = last ? -1 : dst;
    src = dst;
    dims[axis] = next[axis];
  }
}

/** Both of the last two axes linear: one fused pass with a two-row cache. */
function runBilinear(
  kr: Kernels,
  x: ArenaTensor,
  y: ArenaTensor,
  rows: { idx: Int32Array; wts: Float32Array },
  cols: { idx: Int32Array; wts: Float32Array },
): void {
  const r = x.dims.length;
  const [inH, inW] = x.dims.slice(r - 2);
  const [outH, outW] = y.dims.slice(r - 2);
  const blocks = [
    uploadTable(kr, rows.idx, "resize row taps"),
    uploadTable(kr, rows.wts, "resize row weights"),
    uploadTable(kr, cols.idx, "resize column taps"),
    uploadTable(kr, cols.wts, "resize column weights"),
    outW >= 4 ? uploadTable(kr, windowTable(cols.idx, cols.wts, inW), "resize windows") : 0,
  ];
  const planes = sizeOf(x.dims.slice(0, r - 2));
  // Bilinear reads 4 inputs per output element.
  const split = planeSplit(kr, planes, outH * outW * 4);
  // Each thread keeps its own two-row cache (at offset 0 of its scratch).
  const caches = Array.from(
    { length: split.threads },
    () => kr.arena.alloc(outW * 8, "resize row cache"),
  );
  try {
    runQueued(
      kr,
      split.ranges.map(([p0, count]) => [{
        fn: "f32_resize_linear_2d",
        args: [
          count,
          inH,
          inW,
          outH,
          outW,
          blocks[0],
          blocks[1],
          blocks[2],
          blocks[3],
          blocks[4],
          0,
          x.offset + p0 * inH * inW * 4,
          y.offset + p0 * outH * outW * 4,
        ],
        scratchArgs: 1 << 10,
      }]),
      caches,
    );
  } finally {
    for (const b of [...blocks, ...caches]) if (b) kr.arena.free(b);
  }
}

function resizeOp(type: "Resize" | "Upsample"): Op {
  return {
    type,
    check: resizeCheck,
    inferShapes(node: Node, inputs: (InputInfo | undefined)[]): KnownOutput[] {
      const x = requireInput(node, inputs, 0, "X");
      const a = readAttrs(node);
      if (a.mode !== "nearest" && x.type !== "float32") {
        throw new DTypeError(`${nodeLabel(node)}: ${a.mode} resize needs float32, got "${x.type}"`);
      }
      const scales = a.scalesInput < 0
        ? floatsAttr(node, "scales")
        : inputFloats(node, inputs, a.scalesInput, "scales");
      const sizes = a.sizesInput < 0 ? undefined : inputInts(node, inputs, a.sizesInput, "sizes");
      const { out } = outputPlan(node, a, x.dims, scales, sizes);
      return [{ type: x.type, dims: out }];
    },
    run(ctx, node, inputs, outputs) {
      const kr = ctx.kernels;
      const x = inputs[0]!;
      const y = outputs[0];
      const a = readAttrs(node);
      const si = a.scalesInput >= 0 ? inputs[a.scalesInput] : undefined;
      const zi = a.sizesInput >= 0 ? inputs[a.sizesInput] : undefined;
      const scales = a.scalesInput < 0
        ? floatsAttr(node, "scales")
        : si
        ? arenaFloats(kr, si)
        : undefined;
      const sizes = zi ? arenaInts(kr, zi) : undefined;
      const { out, scale } = outputPlan(node, a, x.dims, scales, sizes);
      if (out.some((d, i) => d !== y.dims[i])) {
        throw shapeError(node, `output ${formatDims(y.dims)} does not match ${formatDims(out)}`);
      }
      if (sizeOf(out) === 0) return;
      if (a.mode === "nearest") runNearest(kr, a, x, y, scale);
      else runSeparable(kr, a, x, y, scale);
    },
  };
}

/** ONNX Resize (opsets 10–21). */
export const resizeOpImpl: Op = resizeOp("Resize");
/** ONNX Upsample (opsets 7–9): asymmetric coordinates, scales as attribute (7) or input (9). */
export const upsampleOp: Op = resizeOp("Upsample");

/** The ops this file implements. */
export const ops: Op[] = [resizeOpImpl, upsampleOp];
