/**
 * Float64 references of the ONNX recurrent operators LSTM, GRU and RNN, written from the
 * equations in the ONNX operator documentation. Where the documentation is silent the
 * choices follow onnxruntime: `clip` bounds the inputs of the gate activations f and g (not
 * LSTM's output activation h on the cell state); `input_forget` makes f = 1 - i; positions
 * past a row's sequence length give zeros in Y, and Y_h / Y_c hold the state after the row's
 * last step, or zeros when it ran no step (length 0 or an empty sequence).
 */

/** One recurrent activation with ONNX's optional alpha and beta. */
export interface RefActivation {
  /** ONNX name: Sigmoid, Tanh, Relu, HardSigmoid, LeakyRelu, Elu, Softplus. */
  name: string;
  /** alpha (HardSigmoid 0.2, LeakyRelu 0.01, Elu 1 by default). */
  alpha?: number;
  /** beta (HardSigmoid 0.5 by default). */
  beta?: number;
}

/** A recurrent node's inputs and attributes, ONNX layouts. */
export interface RecurrentCase {
  /** The operator. */
  type: "LSTM" | "GRU" | "RNN";
  /** Time steps, batch rows, input features, hidden units. */
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  /** "forward" (default), "reverse" or "bidirectional". */
  direction?: string;
  /** 0: X [seq, batch, input]; 1: X [batch, seq, input]. */
  layout?: number;
  /** X in the layout above. */
  x: Float32Array;
  /** W [dirs, G*hidden, input]. */
  w: Float32Array;
  /** R [dirs, G*hidden, hidden]. */
  r: Float32Array;
  /** B [dirs, 2*G*hidden]. */
  b?: Float32Array;
  /** sequence_lens [batch]. */
  lens?: number[];
  /** initial_h, initial_c: [dirs, batch, hidden] (layout 0) or [batch, dirs, hidden]. */
  h0?: Float32Array;
  c0?: Float32Array;
  /** LSTM peepholes [dirs, 3*hidden] (i, o, f). */
  p?: Float32Array;
  /** Cell clip threshold. */
  clip?: number;
  /** LSTM input_forget. */
  inputForget?: boolean;
  /** GRU linear_before_reset. */
  linearBeforeReset?: boolean;
  /** Activations for all directions (per direction f, g, h / f, g / f), ONNX names. */
  activations?: RefActivation[];
}

/** The outputs: Y, Y_h and (LSTM) Y_c, in the case's layout. */
export interface RecurrentResult {
  y: Float64Array;
  yh: Float64Array;
  yc: Float64Array;
}

const DEFAULTS = {
  LSTM: ["Sigmoid", "Tanh", "Tanh"],
  GRU: ["Sigmoid", "Tanh"],
  RNN: ["Tanh"],
};

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };

/** The ONNX function of an activation name, as a float64 function. */
export function activationFunction(a: RefActivation): (x: number) => number {
  switch (a.name.toLowerCase()) {
    case "sigmoid":
      return (x) => 1 / (1 + Math.exp(-x));
    case "tanh":
      return Math.tanh;
    case "relu":
      return (x) => Math.max(0, x);
    case "hardsigmoid": {
      const alpha = a.alpha ?? 0.2;
      const beta = a.beta ?? 0.5;
      return (x) => Math.max(0, Math.min(1, alpha * x + beta));
    }
    case "leakyrelu": {
      const alpha = a.alpha ?? 0.01;
      return (x) => (x < 0 ? alpha * x : x);
    }
    case "elu": {
      const alpha = a.alpha ?? 1;
      return (x) => (x < 0 ? alpha * (Math.exp(x) - 1) : x);
    }
    case "softplus":
      return (x) => Math.log(1 + Math.exp(x));
    default:
      throw new Error(`No reference for activation "${a.name}"`);
  }
}

/** Runs the case in float64. */
export function recurrentReference(c: RecurrentCase): RecurrentResult {
  const { seq: S, batch: NB, input: I, hidden: H, type } = c;
  const direction = c.direction ?? "forward";
  const dirs = direction === "bidirectional" ? 2 : 1;
  const layout = c.layout ?? 0;
  const G = GATES[type];
  const per = DEFAULTS[type].length;
  const names = c.activations ??
    Array.from({ length: dirs }, () => DEFAULTS[type].map((name) => ({ name }))).flat();
  const clip = c.clip ?? Infinity;
  const clamp = (v: number) => Math.min(clip, Math.max(-clip, v));
  const y = new Float64Array(S * dirs * NB * H);
  const yh = new Float64Array(dirs * NB * H);
  const yc = new Float64Array(dirs * NB * H);
  const xAt = (t: number, bi: number, k: number) =>
    c.x[(layout === 0 ? t * NB + bi : bi * S + t) * I + k];
  const stateAt = (d: number, bi: number) => (layout === 0 ? d * NB + bi : bi * dirs + d) * H;
  const yAt = (t: number, d: number, bi: number) =>
    (layout === 0 ? (t * dirs + d) * NB + bi : (bi * S + t) * dirs + d) * H;

  for (let d = 0; d < dirs; d++) {
    const reverse = direction === "reverse" || d === 1;
    const fns = names.slice(d * per, d * per + per).map(activationFunction);
    const [f, g, hf] = [fns[0], fns[1], fns[2]];
    // Row j of W[d] (or R[d]) times a vector.
    const wDot = (j: number, v: (k: number) => number) => {
      let s = 0;
      for (let k = 0; k < I; k++) s += c.w[(d * G * H + j) * I + k] * v(k);
      return s;
    };
    const rDot = (j: number, v: ArrayLike<number>) => {
      let s = 0;
      for (let k = 0; k < H; k++) s += c.r[(d * G * H + j) * H + k] * v[k];
      return s;
    };
    const wb = (j: number) => (c.b ? c.b[d * 2 * G * H + j] : 0);
    const rb = (j: number) => (c.b ? c.b[d * 2 * G * H + G * H + j] : 0);
    for (let bi = 0; bi < NB; bi++) {
      const len = c.lens ? c.lens[bi] : S;
      const h = new Float64Array(H);
      const cell = new Float64Array(H);
      for (let u = 0; u < H; u++) {
        h[u] = c.h0 ? c.h0[stateAt(d, bi) + u] : 0;
        cell[u] = c.c0 ? c.c0[stateAt(d, bi) + u] : 0;
      }
      for (let s = 0; s < len; s++) {
        const t = reverse ? len - 1 - s : s;
        const xv = (k: number) => xAt(t, bi, k);
        const hn = new Float64Array(H);
        if (type === "LSTM") {
          const cn = new Float64Array(H);
          const p = (gate: number, u: number) => (c.p ? c.p[d * 3 * H + gate * H + u] : 0);
          for (let u = 0; u < H; u++) {
            const pre = (gate: number) =>
              wDot(gate * H + u, xv) + rDot(gate * H + u, h) + wb(gate * H + u) +
              rb(gate * H + u);
            const i = f(clamp(pre(0) + p(0, u) * cell[u]));
            const fg = c.inputForget ? 1 - i : f(clamp(pre(2) + p(2, u) * cell[u]));
            const cc = g(clamp(pre(3)));
            cn[u] = fg * cell[u] + i * cc;
            const o = f(clamp(pre(1) + p(1, u) * cn[u]));
            hn[u] = o * hf(cn[u]);
          }
          cell.set(cn);
        } else if (type === "GRU") {
          const z = new Float64Array(H);
          const rg = new Float64Array(H);
          for (let u = 0; u < H; u++) {
            z[u] = f(clamp(wDot(u, xv) + rDot(u, h) + wb(u) + rb(u)));
            rg[u] = f(clamp(wDot(H + u, xv) + rDot(H + u, h) + wb(H + u) + rb(H + u)));
          }
          const rh = h.map((v, u) => rg[u] * v);
          for (let u = 0; u < H; u++) {
            const j = 2 * H + u;
            const pre = c.linearBeforeReset
              ? wDot(j, xv) + rg[u] * (rDot(j, h) + rb(j)) + wb(j)
              : wDot(j, xv) + rDot(j, rh) + rb(j) + wb(j);
            const n = g(clamp(pre));
            hn[u] = (1 - z[u]) * n + z[u] * h[u];
          }
        } else {
          for (let u = 0; u < H; u++) {
            hn[u] = f(clamp(wDot(u, xv) + rDot(u, h) + wb(u) + rb(u)));
          }
        }
        h.set(hn);
        y.set(h, yAt(t, d, bi));
      }
      if (len > 0) {
        yh.set(h, stateAt(d, bi));
        yc.set(cell, stateAt(d, bi));
      }
    }
  }
  return { y, yh, yc };
}
