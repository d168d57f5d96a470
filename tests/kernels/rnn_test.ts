import { ok } from "node:assert/strict";
import { activationCode } from "../../kernels-as/activations.ts";
import { KERNEL_NAMES } from "../../kernels-as/build/kernel_abi.ts";
import { RNN_KERNELS } from "../../kernels-as/rnn/kernels.ts";
import type { Kernels } from "../../engine/wasm/kernels.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { type RecurrentCase, recurrentReference, type RefActivation } from "../reference/rnn.ts";

const HIDDEN = [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100];

/** The identity as W: the reference's input projection is then exactly the given x·Wᵀ. */
function identity(n: number): Float32Array {
  const w = new Float32Array(n * n);
  for (let i = 0; i < n; i++) w[i * n + i] = 1;
  return w;
}

function packR(
  kr: Kernels,
  r: number,
  rb: number,
  hidden: number,
  first: number,
  gates: number,
  units: number,
): number {
  const out = kr.arena.alloc(kr.fn.x32_pack_rnn_size(hidden, hidden, gates, units));
  kr.fn.x32_pack_rnn(
    hidden,
    hidden,
    gates,
    units,
    r + first * hidden * hidden * 4,
    hidden,
    rb ? rb + first * hidden * 4 : 0,
    out,
  );
  return out;
}

function act(a: RefActivation): [number, number, number] {
  switch (a.name) {
    case "Relu":
      return [activationCode("clamp"), 0, Infinity];
    case "HardSigmoid":
      return [activationCode("hardsigmoid"), a.alpha ?? 0.2, a.beta ?? 0.5];
    default:
      return [activationCode(a.name.toLowerCase() as "sigmoid" | "tanh"), 0, 0];
  }
}

/** One step of one row: the kernel against the ONNX reference with seq = batch = 1. */
function step(
  kr: Kernels,
  rng: Random,
  type: "LSTM" | "GRU" | "RNN",
  hidden: number,
  opts: { lbr?: boolean; peep?: boolean; clip?: number; acts?: RefActivation[] } = {},
): void {
  const G = { LSTM: 4, GRU: 3, RNN: 1 }[type];
  const H = hidden;
  const xw = rng.floats(G * H, -2, 2);
  const r = rng.floats(G * H * H, -1 / Math.sqrt(H), 1 / Math.sqrt(H));
  const rb = rng.floats(G * H, -0.5, 0.5);
  const h0 = rng.floats(H);
  const c0 = rng.floats(H);
  const p = opts.peep ? rng.floats(3 * H) : undefined;
  const b = new Float32Array(2 * G * H);
  b.set(rb, G * H);
  const c: RecurrentCase = {
    type,
    seq: 1,
    batch: 1,
    input: G * H,
    hidden: H,
    x: xw,
    w: identity(G * H),
    r,
    b,
    h0,
    c0: type === "LSTM" ? c0 : undefined,
    p,
    clip: opts.clip,
    linearBeforeReset: opts.lbr,
    activations: opts.acts,
  };
  const ref = recurrentReference(c);
  const [pr, prb, pxw, ph, pc, pp] = [r, rb, xw, h0, c0, p ?? new Float32Array(1)].map((a) =>
    upload(kr, a)
  );
  const hout = kr.arena.alloc(H * 4);
  const y = kr.arena.alloc(H * 4);
  const clip = opts.clip ?? Infinity;
  const acts = (opts.acts ?? []).map(act);
  const [f, g, a] = [
    acts[0] ?? act({ name: "Sigmoid" }),
    acts[1] ?? act({ name: "Tanh" }),
    acts[2] ?? act({ name: "Tanh" }),
  ];
  const blocks = [pr, prb, pxw, ph, pc, pp, hout, y];
  if (type === "LSTM") {
    const w = packR(kr, pr, prb, H, 0, 4, 8);
    blocks.push(w);
    kr.fn.f32_lstm_1x8(H, ph, w, pxw, p ? pp : 0, pc, hout, y, ...f, ...g, ...a, clip, 0);
    assertClose(download(kr, pc, H), ref.yc, { rtol: 1e-5, atol: 1e-6 }, `LSTM ${H}: c`);
  } else if (type === "RNN") {
    const fr = acts[0] ?? act({ name: "Tanh" });
    const w = packR(kr, pr, prb, H, 0, 1, 32);
    blocks.push(w);
    kr.fn.f32_rnn_1x32(H, ph, w, pxw, hout, y, ...fr, clip);
  } else if (opts.lbr) {
    const w = packR(kr, pr, prb, H, 0, 3, 8);
    blocks.push(w);
    kr.fn.f32_gru_1x8(H, ph, w, pxw, hout, y, ...f, ...g, clip);
  } else {
    const wzr = packR(kr, pr, prb, H, 0, 2, 16);
    const wh = packR(kr, pr, prb, H, 2, 1, 32);
    const z = kr.arena.alloc(H * 4);
    const rh = kr.arena.alloc(H * 4);
    blocks.push(wzr, wh, z, rh);
    kr.fn.f32_gru_reset_1x16(H, ph, wzr, pxw, z, rh, ...f, clip);
    kr.fn.f32_gru_update_1x32(H, rh, wh, pxw + 2 * H * 4, z, ph, hout, y, ...g, clip);
  }
  const what = `${type}${opts.lbr ? " lbr" : ""} hidden ${H}`;
  assertClose(download(kr, hout, H), ref.yh, { rtol: 1e-5, atol: 1e-6 }, `${what}: h`);
  assertClose(download(kr, y, H), ref.yh, { rtol: 1e-5, atol: 1e-6 }, `${what}: y copy`);
  for (const off of blocks) kr.arena.free(off);
}

Deno.test("every kernel in the rnn manifest is built", () => {
  for (const k of RNN_KERNELS) ok(KERNEL_NAMES.includes(k.name as never), k.name);
});

for (const variant of VARIANTS) {
  Deno.test(`rnn step kernels match one ONNX step over awkward sizes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(77);
    for (const H of HIDDEN) {
      step(kr, rng, "LSTM", H);
      step(kr, rng, "LSTM", H, { peep: true });
      step(kr, rng, "GRU", H, { lbr: false });
      step(kr, rng, "GRU", H, { lbr: true });
      step(kr, rng, "RNN", H);
    }
  });

  Deno.test(`rnn step kernels: clip and non-default activations: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(78);
    const hs = { name: "HardSigmoid", alpha: 0.3, beta: 0.4 };
    for (const H of [5, 17, 40]) {
      step(kr, rng, "LSTM", H, { clip: 0.5, peep: true });
      step(kr, rng, "LSTM", H, { acts: [hs, { name: "Relu" }, { name: "Sigmoid" }] });
      step(kr, rng, "GRU", H, { clip: 0.5, lbr: true, acts: [hs, { name: "Relu" }] });
      step(kr, rng, "GRU", H, { clip: 0.7, acts: [{ name: "Sigmoid" }, { name: "Relu" }] });
      step(kr, rng, "RNN", H, { clip: 0.3, acts: [hs] });
    }
  });
}
