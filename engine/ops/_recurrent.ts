/**
 * What LSTM, GRU and RNN share: attributes with their ONNX defaults (opsets 7–21), shape
 * rules, weight packing and the time loop. The input projection of the whole sequence (or of
 * a block of steps) is one GEMM, X · Wᵀ + Wb; each step then runs one fused kernel per batch
 * row (kernels-as/rnn/) that does the recurrent product with R (packed once, Rb in its bias
 * row) and the gates. The hidden state ping-pongs between two buffers per row because the
 * product reads all of h while new values are written; the cell state updates in place.
 *
 * Streaming (one chunk per call, state carried through initial_h/initial_c → Y_h/Y_c) copies
 * only the state in and out; Y is written by the step kernels directly.
 *
 * @module
 */
import { ACTIVATIONS } from "../../kernels-as/activations.ts";
import { DTypeError, ShapeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { isFloat16Origin } from "../weights/f16_gemv.ts";
import { gemm, type PackedGemmWeights, packGemmWeights, releaseGemmWeights } from "./gemm.ts";
import { formatDims, nodeLabel } from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OpContext, OutputInfo } from "./op.ts";

/** The three ONNX recurrent operators. */
export type CellType = "LSTM" | "GRU" | "RNN";

/** A gate activation as the kernels take it: code and two parameters. */
export interface GateActivation {
  /** Code from kernels-as/activations.ts. */
  code: number;
  /** First parameter (alpha, or the clamp floor for Relu). */
  p0: number;
  /** Second parameter (beta, or the clamp ceiling for Relu). */
  p1: number;
}

/** A recurrent node's attributes, resolved with ONNX defaults. */
export interface RecurrentAttributes {
  /** "forward", "reverse" or "bidirectional". */
  direction: string;
  /** Number of directions (1 or 2). */
  dirs: number;
  /** hidden_size, or undefined when the node leaves it to R's shape. */
  hiddenSize?: number;
  /** 0: X [seq, batch, input]; 1: X [batch, seq, input] (opset 14). */
  layout: number;
  /** Cell clip threshold (+Infinity when absent). */
  clip: number;
  /** Activations per direction (LSTM f, g, h; GRU f, g; RNN f). */
  activations: GateActivation[][];
  /** LSTM: couple the input and forget gates. */
  inputForget: boolean;
  /** GRU: apply the reset gate after the recurrent product. */
  linearBeforeReset: boolean;
}

/** Gate count and activation defaults per cell. */
const CELLS: Record<CellType, { gates: number; defaults: string[] }> = {
  LSTM: { gates: 4, defaults: ["Sigmoid", "Tanh", "Tanh"] },
  GRU: { gates: 3, defaults: ["Sigmoid", "Tanh"] },
  RNN: { gates: 1, defaults: ["Tanh"] },
};

/** Gates per cell type (rows of W and R per direction are gates × hidden). */
export function gateCount(type: CellType): number {
  return CELLS[type].gates;
}

function code(name: string): number {
  return (ACTIVATIONS as readonly string[]).indexOf(name);
}

/**
 * ONNX activation names the kernels run, with how many of activation_alpha / activation_beta
 * each consumes and their defaults (those of the ONNX operator of the same name).
 */
const GATE_FUNCTIONS: Record<
  string,
  { kernel: string; alpha?: number; beta?: number; fixed?: [number, number] }
> = {
  sigmoid: { kernel: "sigmoid" },
  tanh: { kernel: "tanh" },
  relu: { kernel: "clamp", fixed: [0, Infinity] },
  hardsigmoid: { kernel: "hardsigmoid", alpha: 0.2, beta: 0.5 },
  leakyrelu: { kernel: "leakyrelu", alpha: 0.01 },
  elu: { kernel: "elu", alpha: 1.0 },
  softplus: { kernel: "softplus" },
};

/** Activations ONNX lists for recurrent ops that the kernels do not implement. */
const PARAMS_OF_UNSUPPORTED: Record<string, [number, number]> = {
  affine: [1, 1],
  thresholdedrelu: [1, 0],
  scaledtanh: [1, 1],
  softsign: [0, 0],
};

function attr<T>(node: Node, name: string, fallback: T): T {
  const v = node.attributes[name];
  return v === undefined ? fallback : v as T;
}

const resolved = new WeakMap<Node, RecurrentAttributes>();

/** The node's attributes, resolved once per node (they are parsed on every run otherwise). */
export function recurrentAttributes(node: Node, type: CellType): RecurrentAttributes {
  let a = resolved.get(node);
  if (!a) {
    a = resolveAttributes(node, type);
    resolved.set(node, a);
  }
  return a;
}

/**
 * Resolves the attributes; collects every reason the node cannot run into `problems` (when
 * given) instead of throwing, so `check` can report them all.
 */
function resolveAttributes(
  node: Node,
  type: CellType,
  problems?: string[],
): RecurrentAttributes {
  const fail = (reason: string) => {
    if (problems) problems.push(reason);
    else throw new ShapeError(`${nodeLabel(node)}: ${reason}`);
  };
  const direction = attr<string>(node, "direction", "forward");
  if (!["forward", "reverse", "bidirectional"].includes(direction)) {
    fail(`direction "${direction}" is not one of "forward", "reverse", "bidirectional"`);
  }
  const dirs = direction === "bidirectional" ? 2 : 1;
  const hs = node.attributes.hidden_size as number | undefined;
  if (hs !== undefined && !(Number.isInteger(hs) && hs >= 0)) {
    fail(`hidden_size "${hs}" is not a size`);
  }
  const layout = attr<number>(node, "layout", 0);
  if (layout !== 0 && layout !== 1) fail(`layout "${layout}" is not 0 or 1`);
  const clipAttr = node.attributes.clip as number | undefined;
  if (clipAttr !== undefined && !(clipAttr > 0)) fail(`clip "${clipAttr}" must be positive`);
  const clip = clipAttr ?? Infinity;
  const inputForget = attr(node, "input_forget", 0) !== 0;
  const linearBeforeReset = attr(node, "linear_before_reset", 0) !== 0;

  const per = CELLS[type].defaults.length;
  let names = node.attributes.activations as string[] | undefined;
  if (names === undefined || names.length === 0) {
    names = Array.from({ length: dirs }, () => CELLS[type].defaults).flat();
  } else if (names.length === per && dirs === 2) {
    names = [...names, ...names];
  } else if (names.length !== per * dirs) {
    fail(
      `activations lists ${names.length} functions; ${type} ${direction} needs ${per * dirs}`,
    );
    names = Array.from({ length: dirs }, () => CELLS[type].defaults).flat();
  }
  const alphas = (node.attributes.activation_alpha as number[] | undefined) ?? [];
  const betas = (node.attributes.activation_beta as number[] | undefined) ?? [];
  let ia = 0;
  let ib = 0;
  const all: GateActivation[] = names.map((raw) => {
    const name = String(raw).toLowerCase();
    const fn = GATE_FUNCTIONS[name];
    if (!fn || code(fn.kernel) < 0) {
      const [na, nb] = PARAMS_OF_UNSUPPORTED[name] ?? [0, 0];
      ia += na;
      ib += nb;
      fail(
        `activation "${raw}" is not supported (supported: Sigmoid, Tanh, Relu, ` +
          `HardSigmoid, LeakyRelu${code("elu") >= 0 ? ", Elu" : ""}${
            code("softplus") >= 0 ? ", Softplus" : ""
          })`,
      );
      return { code: code("tanh"), p0: 0, p1: 0 };
    }
    if (fn.fixed) return { code: code(fn.kernel), p0: fn.fixed[0], p1: fn.fixed[1] };
    // Values are consumed in order by the functions that take them (as onnxruntime does).
    const p0 = fn.alpha === undefined ? 0 : ia < alphas.length ? alphas[ia++] : fn.alpha;
    const p1 = fn.beta === undefined ? 0 : ib < betas.length ? betas[ib++] : fn.beta;
    return { code: code(fn.kernel), p0, p1 };
  });
  const activations = Array.from({ length: dirs }, (_, d) => all.slice(d * per, d * per + per));
  return {
    direction,
    dirs,
    hiddenSize: hs,
    layout,
    clip,
    activations,
    inputForget,
    linearBeforeReset,
  };
}

/** Every reason a recurrent node cannot run (attribute values), for `Op.check`. */
export function checkRecurrent(node: Node, type: CellType): string[] {
  const problems: string[] = [];
  resolveAttributes(node, type, problems);
  return problems;
}

/** The sizes of one run. */
export interface RecurrentDims {
  /** Time steps. */
  seq: number;
  /** Batch rows. */
  batch: number;
  /** Input features. */
  input: number;
  /** Hidden units. */
  hidden: number;
  /** Directions. */
  dirs: number;
}

type Info = InputInfo | ArenaTensor | undefined;

function need(node: Node, t: Info, i: number, what: string): InputInfo | ArenaTensor {
  if (!t) throw new ShapeError(`${nodeLabel(node)}: input ${i} (${what}) is required`);
  return t;
}

function expectFloat(node: Node, t: Info, what: string): void {
  if (t && t.type !== "float32") {
    throw new DTypeError(`${nodeLabel(node)}: ${what} is "${t.type}", only "float32" is supported`);
  }
}

function expectDims(node: Node, t: Info, want: number[], what: string): void {
  if (!t) return;
  if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
    throw new ShapeError(
      `${nodeLabel(node)}: ${what} is ${formatDims(t.dims)}, expected ${formatDims(want)}`,
    );
  }
}

/**
 * Checks every input against ONNX's shape rules and returns the run's sizes. Input order:
 * X, W, R, B, sequence_lens, initial_h, then (LSTM) initial_c, P.
 */
export function recurrentDims(
  node: Node,
  type: CellType,
  attrs: RecurrentAttributes,
  inputs: Info[],
): RecurrentDims {
  const g = gateCount(type);
  const x = need(node, inputs[0], 0, "X");
  const w = need(node, inputs[1], 1, "W");
  const r = need(node, inputs[2], 2, "R");
  for (const [t, what] of [[x, "X"], [w, "W"], [r, "R"], [inputs[3], "B"]] as const) {
    expectFloat(node, t, what);
  }
  if (x.dims.length !== 3) {
    throw new ShapeError(`${nodeLabel(node)}: X must be 3-D, got ${formatDims(x.dims)}`);
  }
  const [seq, batch] = attrs.layout === 0 ? [x.dims[0], x.dims[1]] : [x.dims[1], x.dims[0]];
  const input = x.dims[2];
  if (r.dims.length !== 3) {
    throw new ShapeError(`${nodeLabel(node)}: R must be 3-D, got ${formatDims(r.dims)}`);
  }
  const hidden = attrs.hiddenSize ?? r.dims[2];
  const dirs = attrs.dirs;
  expectDims(node, w, [dirs, g * hidden, input], "W");
  expectDims(node, r, [dirs, g * hidden, hidden], "R");
  expectDims(node, inputs[3], [dirs, 2 * g * hidden], "B");
  const lens = inputs[4];
  if (lens) {
    if (lens.type !== "int32" && lens.type !== "int64") {
      throw new DTypeError(`${nodeLabel(node)}: sequence_lens is "${lens.type}", expected "int32"`);
    }
    expectDims(node, lens, [batch], "sequence_lens");
  }
  const stateDims = attrs.layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
  expectFloat(node, inputs[5], "initial_h");
  expectDims(node, inputs[5], stateDims, "initial_h");
  if (type === "LSTM") {
    expectFloat(node, inputs[6], "initial_c");
    expectDims(node, inputs[6], stateDims, "initial_c");
    expectFloat(node, inputs[7], "P");
    expectDims(node, inputs[7], [dirs, 3 * hidden], "P");
  }
  return { seq, batch, input, hidden, dirs };
}

/** Output shapes (Y, Y_h, and Y_c for LSTM), one per output the node lists. */
export function recurrentOutputs(
  node: Node,
  attrs: RecurrentAttributes,
  d: RecurrentDims,
): OutputInfo[] {
  const y = attrs.layout === 0
    ? [d.seq, d.dirs, d.batch, d.hidden]
    : [d.batch, d.seq, d.dirs, d.hidden];
  const state = attrs.layout === 0 ? [d.dirs, d.batch, d.hidden] : [d.batch, d.dirs, d.hidden];
  const all = [y, state, state];
  return node.outputs.map((_, i) => ({ type: "float32" as const, dims: [...all[i]] }));
}

/** Packed weights of one direction. */
interface PackedDirection {
  /** W with Wb as its bias, for the input projection. */
  w: PackedGemmWeights;
  /** R packed for the step kernel(s) (GRU without linear_before_reset has two). */
  r: number[];
}

/** Weights packed at load (when W, R and B are constants), or undefined. */
export interface RecurrentState {
  /** One entry per direction. */
  packed?: PackedDirection[];
}

/** Gates and units per block of each packed R matrix, per cell and mode. */
function rLayout(type: CellType, lbr: boolean): { first: number; gates: number; units: number }[] {
  if (type === "LSTM") return [{ first: 0, gates: 4, units: 8 }];
  if (type === "RNN") return [{ first: 0, gates: 1, units: 32 }];
  if (lbr) return [{ first: 0, gates: 3, units: 8 }];
  return [{ first: 0, gates: 2, units: 16 }, { first: 2, gates: 1, units: 32 }];
}

/**
 * Packs W, R (with B split into Wb and Rb) of every direction from arena offsets. `float16`:
 * W holds values a model stored as float16, which the f16 GEMV may keep as halves.
 */
function packAll(
  kr: Kernels,
  type: CellType,
  attrs: RecurrentAttributes,
  dims: RecurrentDims,
  w: number,
  r: number,
  b: number,
  name: string,
  float16 = false,
): PackedDirection[] {
  const g = gateCount(type);
  const { hidden: H, input: I } = dims;
  // Rows of each input-projection product: a block of steps, of every batch row (layout 0) or
  // of one (layout 1).
  const steps = projectionSteps(type, dims);
  const rows = attrs.layout === 0 ? steps * dims.batch : steps;
  const out: PackedDirection[] = [];
  try {
    for (let d = 0; d < dims.dirs; d++) {
      const wb = b ? b + d * 2 * g * H * 4 : 0;
      const rb = b ? wb + g * H * 4 : 0;
      const pw = packGemmWeights(kr, w + d * g * H * I * 4, I, g * H, {
        rows,
        transposed: true,
        ld: I,
        bias: wb,
        name: `${name} W (packed)`,
        sparse: true,
        float16,
      });
      const entry: PackedDirection = { w: pw, r: [] };
      out.push(entry);
      for (const part of rLayout(type, attrs.linearBeforeReset)) {
        const bytes = kr.fn.x32_pack_rnn_size(H, H, part.gates, part.units);
        const off = kr.arena.alloc(bytes, `${name} R (packed)`);
        entry.r.push(off);
        kr.fn.x32_pack_rnn(
          H,
          H,
          part.gates,
          part.units,
          r + (d * g + part.first) * H * H * 4,
          H,
          rb ? rb + part.first * H * 4 : 0,
          off,
        );
      }
    }
  } catch (e) {
    freePacked(kr, out);
    throw e;
  }
  return out;
}

function freePacked(kr: Kernels, packed: PackedDirection[]): void {
  for (const p of packed) {
    releaseGemmWeights(kr, p.w);
    for (const off of p.r) kr.arena.free(off);
  }
}

/** Packs constant weights once at load. */
export function prepareRecurrent(
  ctx: OpContext,
  node: Node,
  type: CellType,
  inputs: (InputInfo | undefined)[],
): RecurrentState {
  const [, w, r, b] = inputs;
  if (!w?.value || !r?.value || (b && !b.value)) return {};
  const attrs = recurrentAttributes(node, type);
  const dims = recurrentDims(node, type, attrs, inputs);
  const kr = ctx.kernels;
  const temps: number[] = [];
  const upload = (data: Float32Array) => {
    const off = kr.arena.alloc(Math.max(data.byteLength, 4), `${node.name} weights`);
    temps.push(off);
    kr.arena.f32(off, data.length).set(data);
    return off;
  };
  try {
    const wo = upload(w.value.data as Float32Array);
    const ro = upload(r.value.data as Float32Array);
    const bo = b?.value ? upload(b.value.data as Float32Array) : 0;
    return {
      packed: packAll(kr, type, attrs, dims, wo, ro, bo, node.name, isFloat16Origin(w.value)),
    };
  } finally {
    for (const t of temps) kr.arena.free(t);
  }
}

/** Frees what `prepareRecurrent` packed. */
export function releaseRecurrent(ctx: OpContext, state: RecurrentState): void {
  if (state.packed) freePacked(ctx.kernels, state.packed);
  state.packed = undefined;
}

/** Steps of the input projection computed per GEMM: about 512 KB of projections. */
const PROJECTION_FLOATS = 1 << 17;

/** Time steps whose input projections run as one product (PROJECTION_FLOATS of scratch). */
function projectionSteps(type: CellType, dims: RecurrentDims): number {
  const perStep = Math.max(1, dims.batch * gateCount(type) * dims.hidden);
  return Math.max(1, Math.min(dims.seq, Math.floor(PROJECTION_FLOATS / perStep)));
}

function readLengths(kr: Kernels, t: ArenaTensor, batch: number, seq: number, node: Node) {
  const lens = t.type === "int64"
    ? Array.from(new BigInt64Array(kr.arena.memory.buffer, t.offset, batch), Number)
    : Array.from(kr.arena.i32(t.offset, batch));
  for (const l of lens) {
    if (!Number.isInteger(l) || l < 0 || l > seq) {
      throw new ShapeError(
        `${nodeLabel(node)}: sequence_lens holds "${l}", outside 0..${seq} (the sequence length)`,
      );
    }
  }
  return lens;
}

/** Runs a recurrent node on arena tensors. */
export function runRecurrent(
  ctx: OpContext,
  node: Node,
  type: CellType,
  inputs: (ArenaTensor | undefined)[],
  outputs: (ArenaTensor | undefined)[],
  state: RecurrentState,
): void {
  const kr = ctx.kernels;
  const attrs = recurrentAttributes(node, type);
  const dims = recurrentDims(node, type, attrs, inputs);
  const { seq: S, batch: NB, input: I, hidden: H, dirs } = dims;
  const g = gateCount(type);
  const GH = g * H;
  const out = (i: number) => (node.outputs[i] ? outputs[i] : undefined);
  const [y, yh, yc] = [out(0), out(1), type === "LSTM" ? out(2) : undefined];
  if (NB === 0 || H === 0) return;
  const [x, w, r, b, lensT, h0] = inputs;
  const c0 = type === "LSTM" ? inputs[6] : undefined;
  const peep = type === "LSTM" ? inputs[7] : undefined;
  const lens = lensT ? readLengths(kr, lensT, NB, S, node) : undefined;
  const ragged = lens !== undefined && lens.some((l) => l < S);
  const layout = attrs.layout;

  // All scratch in one block (one arena call per run matters for one-step streaming calls):
  // input projections, two hidden-state slots per row, cell state, GRU's z and r h.
  const chunk = projectionSteps(type, dims);
  const gruHalf = type === "GRU" && !attrs.linearBeforeReset;
  const parts = [chunk * NB * GH, 2 * NB * H, type === "LSTM" ? NB * H : 0, gruHalf ? H : 0];
  if (gruHalf) parts.push(H);
  const sizes = parts.map((n) => Math.ceil(n / 16) * 64);
  const block = kr.arena.alloc(sizes.reduce((a, n) => a + n, 0), `${node.name} scratch`);
  const at = (i: number) => (parts[i] ? block + sizes.slice(0, i).reduce((a, n) => a + n, 0) : 0);
  const [xw, hs, cs, zs, rh] = [at(0), at(1), at(2), at(3), gruHalf ? at(4) : 0];
  let packed = state.packed;
  try {
    if (!packed) {
      packed = packAll(kr, type, attrs, dims, w!.offset, r!.offset, b?.offset ?? 0, node.name);
    }
    if (y && ragged) kr.arena.f32(y.offset, S * dirs * NB * H).fill(0);
    const stateIndex = (d: number, bi: number) =>
      (layout === 0 ? d * NB + bi : bi * dirs + d) * H * 4;
    const yIndex = (t: number, d: number, bi: number) =>
      (layout === 0 ? (t * dirs + d) * NB + bi : (bi * S + t) * dirs + d) * H * 4;

    for (let d = 0; d < dirs; d++) {
      const reverse = attrs.direction === "reverse" || d === 1;
      const acts = attrs.activations[d];
      const pd = packed[d];
      // Initial state of every row into ping-pong slot 0.
      const slot = (bi: number, s: number) => hs + (s * NB + bi) * H * 4;
      const cur = new Uint8Array(NB);
      for (let bi = 0; bi < NB; bi++) {
        const hv = kr.arena.f32(slot(bi, 0), H);
        if (h0) hv.set(kr.arena.f32(h0.offset + stateIndex(d, bi), H));
        else hv.fill(0);
        if (cs) {
          const cv = kr.arena.f32(cs + bi * H * 4, H);
          if (c0) cv.set(kr.arena.f32(c0.offset + stateIndex(d, bi), H));
          else cv.fill(0);
        }
      }
      const p = peep ? peep.offset + d * 3 * H * 4 : 0;
      const [f, gg, ha] = [acts[0], acts[1] ?? acts[0], acts[2] ?? acts[0]];
      for (let c = 0; c < S; c += chunk) {
        // Blocks of steps in processing order: the reverse direction starts at the end.
        const t0 = reverse ? Math.max(0, S - c - chunk) : c;
        const t1 = reverse ? S - c : Math.min(S, c + chunk);
        const steps = t1 - t0;
        if (layout === 0) {
          gemm(kr, steps * NB, x!.offset + t0 * NB * I * 4, I, pd.w, xw, GH);
        } else {
          for (let bi = 0; bi < NB; bi++) {
            gemm(
              kr,
              steps,
              x!.offset + (bi * S + t0) * I * 4,
              I,
              pd.w,
              xw + bi * steps * GH * 4,
              GH,
            );
          }
        }
        for (let s = 0; s < steps; s++) {
          const t = reverse ? t1 - 1 - s : t0 + s;
          for (let bi = 0; bi < NB; bi++) {
            if (lens && t >= lens[bi]) continue;
            const row = layout === 0 ? (t - t0) * NB + bi : bi * steps + (t - t0);
            const xr = xw + row * GH * 4;
            const hp = slot(bi, cur[bi]);
            const hn = slot(bi, cur[bi] ^ 1);
            cur[bi] ^= 1;
            const yp = y ? y.offset + yIndex(t, d, bi) : 0;
            if (type === "LSTM") {
              kr.fn.f32_lstm_1x8(
                H,
                hp,
                pd.r[0],
                xr,
                p,
                cs + bi * H * 4,
                hn,
                yp,
                f.code,
                f.p0,
                f.p1,
                gg.code,
                gg.p0,
                gg.p1,
                ha.code,
                ha.p0,
                ha.p1,
                attrs.clip,
                attrs.inputForget ? 1 : 0,
              );
            } else if (type === "RNN") {
              kr.fn.f32_rnn_1x32(H, hp, pd.r[0], xr, hn, yp, f.code, f.p0, f.p1, attrs.clip);
            } else if (!gruHalf) {
              kr.fn.f32_gru_1x8(
                H,
                hp,
                pd.r[0],
                xr,
                hn,
                yp,
                f.code,
                f.p0,
                f.p1,
                gg.code,
                gg.p0,
                gg.p1,
                attrs.clip,
              );
            } else {
              kr.fn.f32_gru_reset_1x16(H, hp, pd.r[0], xr, zs, rh, f.code, f.p0, f.p1, attrs.clip);
              kr.fn.f32_gru_update_1x32(
                H,
                rh,
                pd.r[1],
                xr + 2 * H * 4,
                zs,
                hp,
                hn,
                yp,
                gg.code,
                gg.p0,
                gg.p1,
                attrs.clip,
              );
            }
          }
        }
      }
      for (let bi = 0; bi < NB; bi++) {
        // A row that ran no step (length 0, or an empty sequence) reports a zero state, as
        // onnxruntime does.
        const empty = (lens ? lens[bi] : S) === 0;
        for (const [o, src] of [[yh, slot(bi, cur[bi])], [yc, cs + bi * H * 4]] as const) {
          if (!o) continue;
          const dst = kr.arena.f32(o.offset + stateIndex(d, bi), H);
          if (empty) dst.fill(0);
          else dst.set(kr.arena.f32(src, H));
        }
      }
    }
  } finally {
    kr.arena.free(block);
    if (packed && packed !== state.packed) freePacked(kr, packed);
  }
}

/** Builds the Op of one recurrent cell type. */
export function recurrentOp(type: CellType): Op<RecurrentState> {
  return {
    type,
    check: (node) => checkRecurrent(node, type),
    inferShapes(node, inputs) {
      const attrs = recurrentAttributes(node, type);
      return recurrentOutputs(node, attrs, recurrentDims(node, type, attrs, inputs));
    },
    prepare: (ctx, node, inputs) => prepareRecurrent(ctx, node, type, inputs),
    run: (ctx, node, inputs, outputs, state) =>
      runRecurrent(ctx, node, type, inputs, outputs, state),
    release: releaseRecurrent,
  };
}
