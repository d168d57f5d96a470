/**
 * Runs a recurrent reference case through the LSTM / GRU / RNN ops on arena tensors, the way
 * the executor does (inferShapes, prepare, run, release), so the op tests only state cases.
 */
import type { Node } from "../../../engine/ir/graph.ts";
import { ops as gruOps } from "../../../engine/ops/gru.ts";
import { ops as lstmOps } from "../../../engine/ops/lstm.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { ops as rnnOps } from "../../../engine/ops/rnn.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { Random } from "../../_random.ts";
import { type RecurrentCase, recurrentReference } from "../../reference/rnn.ts";
import { assertClose } from "../../_assert.ts";

/** The op of each recurrent type. */
export const RECURRENT_OPS: Record<RecurrentCase["type"], Op> = {
  LSTM: lstmOps[0],
  GRU: gruOps[0],
  RNN: rnnOps[0],
};

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };
const TAKES_ALPHA = new Set(["hardsigmoid", "leakyrelu", "elu"]);
const TAKES_BETA = new Set(["hardsigmoid"]);

/** Options of `runCase`. */
export interface RunOptions {
  /** Give W, R, B as constants (packed in prepare) rather than run-time inputs. */
  constantWeights?: boolean;
  /** Which of Y, Y_h, Y_c the node lists (default all). */
  outputs?: boolean[];
  /** Extra or overriding attributes. */
  attributes?: Node["attributes"];
  /** sequence_lens element type. */
  lensType?: "int32" | "int64";
}

/** The node a case describes. */
export function caseNode(c: RecurrentCase, options: RunOptions = {}): Node {
  const names = ["X", "W", "R", c.b ? "B" : "", c.lens ? "L" : "", c.h0 ? "H0" : ""];
  if (c.type === "LSTM") names.push(c.c0 ? "C0" : "", c.p ? "P" : "");
  while (names.length && names[names.length - 1] === "") names.pop();
  const want = options.outputs ?? [true, true, c.type === "LSTM"];
  const outputs = ["Y", "Yh", "Yc"].slice(0, c.type === "LSTM" ? 3 : 2)
    .map((n, i) => (want[i] ? n : ""));
  const attributes: Node["attributes"] = { hidden_size: c.hidden };
  if (c.direction) attributes.direction = c.direction;
  if (c.layout) attributes.layout = c.layout;
  if (c.clip !== undefined) attributes.clip = c.clip;
  if (c.inputForget) attributes.input_forget = 1;
  if (c.linearBeforeReset !== undefined) {
    attributes.linear_before_reset = c.linearBeforeReset ? 1 : 0;
  }
  if (c.activations) {
    attributes.activations = c.activations.map((a) => a.name);
    const alphas: number[] = [];
    const betas: number[] = [];
    for (const a of c.activations) {
      const n = a.name.toLowerCase();
      if (TAKES_ALPHA.has(n) && a.alpha !== undefined) alphas.push(a.alpha);
      if (TAKES_BETA.has(n) && a.beta !== undefined) betas.push(a.beta);
    }
    if (alphas.length) attributes.activation_alpha = alphas;
    if (betas.length) attributes.activation_beta = betas;
  }
  return {
    name: `${c.type.toLowerCase()}_0`,
    op: c.type,
    domain: "",
    inputs: names,
    outputs,
    attributes: { ...attributes, ...options.attributes },
  };
}

/** Input values of a case, in ONNX input order (undefined where omitted). */
function caseInputs(c: RecurrentCase, lensType: "int32" | "int64"): (Tensor | undefined)[] {
  const dirs = c.direction === "bidirectional" ? 2 : 1;
  const G = GATES[c.type];
  const H = c.hidden;
  const x = c.layout === 1 ? [c.batch, c.seq, c.input] : [c.seq, c.batch, c.input];
  const s = c.layout === 1 ? [c.batch, dirs, H] : [dirs, c.batch, H];
  const f = (data: Float32Array | undefined, dims: number[]) =>
    data ? new Tensor("float32", data, dims) : undefined;
  const lens = c.lens
    ? lensType === "int64"
      ? new Tensor("int64", BigInt64Array.from(c.lens, BigInt), [c.batch])
      : new Tensor("int32", Int32Array.from(c.lens), [c.batch])
    : undefined;
  const out = [
    f(c.x, x),
    f(c.w, [dirs, G * H, c.input]),
    f(c.r, [dirs, G * H, H]),
    f(c.b, [dirs, 2 * G * H]),
    lens,
    f(c.h0, s),
  ];
  if (c.type === "LSTM") out.push(f(c.c0, s), f(c.p, [dirs, 3 * H]));
  return out;
}

function upload(kr: Kernels, t: Tensor): ArenaTensor {
  const bytes = t.data.byteLength;
  const offset = kr.arena.alloc(bytes);
  kr.arena.u8(offset, bytes).set(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
  return { type: t.type as DType, dims: [...t.dims], offset };
}

/** Y, Y_h, Y_c as the op computed them (undefined for outputs the node omits). */
export function runCase(
  kr: Kernels,
  c: RecurrentCase,
  options: RunOptions = {},
): (Float32Array | undefined)[] {
  const op = RECURRENT_OPS[c.type];
  const node = caseNode(c, options);
  const values = caseInputs(c, options.lensType ?? "int32");
  const infos: (InputInfo | undefined)[] = values.map((v, i) =>
    v
      ? {
        type: v.type,
        dims: [...v.dims],
        value: i === 0 || (!options.constantWeights && i <= 3) ? undefined : v,
      }
      : undefined
  );
  const shapes = op.inferShapes(node, infos);
  const ctx = { kernels: kr };
  const state = op.prepare?.(ctx, node, infos);
  const inputs = values.map((v) => (v ? upload(kr, v) : undefined));
  const outputs = shapes.map((s) => {
    const n = s.dims.reduce((a, b) => a * b, 1);
    const offset = kr.arena.alloc(n * 4);
    // Poison, so a value the op forgot to write shows up.
    kr.arena.f32(offset, n).fill(NaN);
    return { type: s.type, dims: s.dims, offset };
  });
  try {
    op.run(ctx, node, inputs, outputs, state);
    return outputs.map((o, i) =>
      node.outputs[i]
        ? kr.arena.f32(o.offset, o.dims.reduce((a, b) => a * b, 1)).slice()
        : undefined
    );
  } finally {
    op.release?.(ctx, state);
    for (const t of [...inputs, ...outputs]) if (t) kr.arena.free(t.offset);
  }
}

/** A random case; weights scaled so the gates are neither saturated nor flat. */
export function randomCase(
  rng: Random,
  type: RecurrentCase["type"],
  dims: { seq: number; batch: number; input: number; hidden: number },
  extra: Partial<RecurrentCase> = {},
): RecurrentCase {
  const { seq, batch, input, hidden } = dims;
  const dirs = extra.direction === "bidirectional" ? 2 : 1;
  const G = GATES[type];
  const sw = 2 / Math.sqrt(input + hidden);
  return {
    type,
    ...dims,
    x: rng.floats(seq * batch * input, -1.5, 1.5),
    w: rng.floats(dirs * G * hidden * input, -sw, sw),
    r: rng.floats(dirs * G * hidden * hidden, -sw, sw),
    ...extra,
  };
}

/** Optional inputs drawn at random (each present with probability 1/2). */
export function randomOptionals(
  rng: Random,
  type: RecurrentCase["type"],
  dims: { seq: number; batch: number; hidden: number },
  dirs: number,
): Partial<RecurrentCase> {
  const G = GATES[type];
  const { seq, batch, hidden } = dims;
  const out: Partial<RecurrentCase> = {};
  if (rng.next() < 0.5) out.b = rng.floats(dirs * 2 * G * hidden, -0.5, 0.5);
  if (rng.next() < 0.5) out.h0 = rng.floats(dirs * batch * hidden);
  if (type === "LSTM" && rng.next() < 0.5) out.c0 = rng.floats(dirs * batch * hidden);
  if (type === "LSTM" && rng.next() < 0.5) out.p = rng.floats(dirs * 3 * hidden, -0.5, 0.5);
  if (rng.next() < 0.3) out.lens = Array.from({ length: batch }, () => rng.int(1, seq));
  return out;
}

/** Tolerance for a recurrent case: float32 sums over input + hidden terms, a few steps. */
export function recurrentTolerance(c: RecurrentCase): { rtol: number; atol: number } {
  return { rtol: 1e-4, atol: 2e-5 * Math.sqrt(c.input + c.hidden + 1) };
}

/** The awkward shapes every recurrent op is swept over. */
export const HIDDEN = [1, 3, 17, 64];
export const INPUT = [1, 5, 33];
export const DIRECTIONS = ["forward", "reverse", "bidirectional"];

/**
 * Every (hidden, input) pair with a seeded draw of seq (1 or 7), batch (1 or 3), direction,
 * layout, optional inputs and where the weights come from: the cases of a randomized sweep.
 */
export function sweepCases(
  seed: number,
  type: RecurrentCase["type"],
  extra: (rng: Random) => Partial<RecurrentCase> = () => ({}),
): { c: RecurrentCase; constantWeights: boolean }[] {
  const rng = new Random(seed);
  const out: { c: RecurrentCase; constantWeights: boolean }[] = [];
  for (const hidden of HIDDEN) {
    for (const input of INPUT) {
      const seq = rng.next() < 0.5 ? 1 : 7;
      const batch = rng.next() < 0.5 ? 1 : 3;
      const direction = DIRECTIONS[rng.int(0, 2)];
      const layout = rng.int(0, 1);
      const dims = { seq, batch, input, hidden };
      const dirs = direction === "bidirectional" ? 2 : 1;
      const c = randomCase(rng, type, dims, {
        direction,
        layout,
        ...randomOptionals(rng, type, dims, dirs),
        ...extra(rng),
      });
      out.push({ c, constantWeights: rng.next() < 0.7 });
    }
  }
  return out;
}

/** Asserts the op's Y, Y_h, Y_c (those it produced) match the float64 reference. */
export function compareToReference(
  got: (Float32Array | undefined)[],
  c: RecurrentCase,
  what: string,
): void {
  const ref = recurrentReference(c);
  const tol = recurrentTolerance(c);
  if (got[0]) assertClose(got[0], ref.y, tol, `${what}: Y`);
  if (got[1]) assertClose(got[1], ref.yh, tol, `${what}: Y_h`);
  if (got[2]) assertClose(got[2], ref.yc, tol, `${what}: Y_c`);
}
