import { deepStrictEqual, ok } from "node:assert/strict";
import { fromBinary } from "npm:@bufbuild/protobuf@2.17.0";
import {
  type GraphProto,
  ModelProtoSchema,
  type TensorProto,
} from "../../../engine/formats/onnx/gen/onnx_pb.ts";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import { loadModel } from "../../../engine/model.ts";
import { pruneOnnx } from "../../../engine/prune/prune.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { realModel } from "../../_models.ts";
import { ort } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";
import {
  calibrationFeeds,
  CHUNK,
  chunks,
  clipSegments,
  readClip,
  streamProbabilities,
} from "../../fixtures/audio/vad_clips.ts";

/** Every float Constant / initializer of the model and its nested graphs, by name. */
function constants(bytes: Uint8Array): Map<string, { dims: number[]; data: Float32Array }> {
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  const floats = (t: TensorProto) => {
    if (t.floatData.length) return Float32Array.from(t.floatData);
    const v = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Float32Array.from(
      { length: t.rawData.byteLength / 4 },
      (_, i) => v.getFloat32(4 * i, true),
    );
  };
  const walk = (g: GraphProto) => {
    for (const t of g.initializer) out.set(t.name, { dims: t.dims.map(Number), data: floats(t) });
    for (const n of g.node) {
      const value = n.opType === "Constant"
        ? n.attribute.find((a) => a.name === "value")?.t
        : undefined;
      if (value && value.dataType === 1) {
        out.set(n.output[0], { dims: value.dims.map(Number), data: floats(value) });
      }
      for (const a of n.attribute) {
        if (a.g) walk(a.g);
        for (const s of a.graphs) walk(s);
      }
    }
  };
  walk(fromBinary(ModelProtoSchema, bytes).graph!);
  return out;
}

/** Fewest zeros in a full group of 4 along each row's last K elements. */
function fewestZeros(data: Float32Array, k: number): number {
  let fewest = 4;
  for (let r = 0; r < data.length / k; r++) {
    for (let g = 0; g + 4 <= k; g += 4) {
      let z = 0;
      for (let j = 0; j < 4; j++) if (data[r * k + g + j] === 0) z++;
      fewest = Math.min(fewest, z);
    }
  }
  return fewest;
}

Deno.test("silero VAD v5, C4,2: convs and LSTM inside If branches pruned exactly, runs in onnxruntime, decisions kept", async () => {
  const bytes = await Deno.readFile(await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"));
  const copy = bytes.slice();
  const calib = chunks(await readClip("calib.wav"));
  const { bytes: out, layers } = await pruneOnnx(bytes, {
    scheme: "c4n:2",
    calibration: calibrationFeeds(calib),
    carry: { stateN: "state" },
  });
  deepStrictEqual(bytes, copy, "the input model is never modified");
  const pruned = layers.filter((l) => l.n === 2);
  // 4 encoder convs + the LSTM in each sample-rate branch; refit on the 16 kHz path only.
  deepStrictEqual(pruned.length, 10);
  deepStrictEqual(pruned.filter((l) => l.errorRefit !== undefined).length, 5);
  ok(pruned.some((l) => l.op === "LSTM" && l.weight.includes("weight_hh")));

  const before = constants(bytes);
  const after = constants(out);
  for (const branch of ["If_0_then_branch__Inline_0__", "If_0_else_branch__Inline_0__"]) {
    for (let i = 0; i < 4; i++) {
      const w = after.get(`${branch}encoder.${i}.reparam_conv.weight`)!;
      deepStrictEqual(w.dims.length, 3);
      ok(fewestZeros(w.data, w.dims[1] * w.dims[2]) >= 2, `${branch} encoder ${i}`);
    }
    for (const name of ["weight_ih", "weight_hh"]) {
      const w = after.get(`${branch}decoder.rnn.${name}`)!;
      deepStrictEqual(w.dims, [512, 128]);
      ok(fewestZeros(w.data, 128) >= 2, `${branch} ${name}`);
    }
    // The STFT basis (first layer) stays as it was; the output conv (last) stays dense, refit
    // to the pruned layers' outputs (refitLast) where calibration ran: the 16 kHz branch.
    const stft = branch + "stft.forward_basis_buffer";
    deepStrictEqual(after.get(stft)!.data, before.get(stft)!.data, stft);
    const last = branch + "decoder.decoder.2.weight";
    const nonZero = (w: Map<string, { data: Float32Array }>) =>
      w.get(last)!.data.filter((v) => v !== 0).length;
    deepStrictEqual(nonZero(after), nonZero(before), `${last} stays dense`);
    const refit = branch.includes("then");
    deepStrictEqual(
      after.get(last)!.data.some((v, i) => v !== before.get(last)!.data[i]),
      refit,
      `${last} refit: ${refit}`,
    );
  }

  // The pruned file runs in onnxruntime, and Quartet agrees with it, state carried.
  const test = chunks(await readClip("test.wav"));
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
  const model = await loadModel(out);
  const piece = test.slice(150, 170);
  let state: Tensor = new Tensor("float32", new Float32Array(256), [2, 1, 128]);
  let ortState: ort.Tensor = new ort.Tensor("float32", new Float32Array(256), [2, 1, 128]);
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  for (const input of piece) {
    const ours = model.runSync({ input, sr, state });
    const theirs = await session.run({
      input: new ort.Tensor("float32", input.data as Float32Array, [1, CHUNK]),
      sr: new ort.Tensor("int64", new BigInt64Array([16000n]), []),
      state: ortState,
    });
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose(ours.output.data as Float32Array, theirs.output.data as Float32Array, tol);
    assertClose(ours.stateN.data as Float32Array, theirs.stateN.data as Float32Array, tol);
    state = ours.stateN;
    ortState = theirs.stateN;
  }
  await session.release();

  // Decisions on the held-out clip: close to dense, and no speech on noise or silence.
  const dense = await loadModel(bytes);
  const pd = streamProbabilities((f) => dense.runSync(f), test);
  const pp = streamProbabilities((f) => model.runSync(f), test);
  dense.dispose();
  model.dispose();
  const same = pd.filter((p, i) => (p > 0.5) === (pp[i] > 0.5)).length / pd.length;
  console.log(`silero v5 C4,2: ${(100 * same).toFixed(2)} % of ${pd.length} decisions as dense`);
  ok(same >= 0.95, `decision agreement ${same}`);
  for (const s of await clipSegments("test.wav")) {
    if (!["silence", "white", "pink"].includes(s.kind)) continue;
    const alarms = pp.slice(s.start / CHUNK, s.end / CHUNK).filter((p) => p > 0.5).length;
    deepStrictEqual(alarms, 0, `speech detected on ${s.kind}`);
  }
});

/** One LSTM layer (forward, seq × batch × I, H hidden), weights as initializers. */
function lstmModel(rng: Random, seq: number, batch: number, I: number, H: number) {
  const f = (dims: number[], s: number) =>
    new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1), -s, s), dims);
  return buildModel({
    nodes: [{
      op: "LSTM",
      inputs: ["x", "W", "R", "B", "", "h0"],
      outputs: ["y", "yh"],
      attributes: { hidden_size: H },
    }],
    inputs: [{ name: "x", dims: [seq, batch, I] }, { name: "h0", dims: [1, batch, H] }],
    outputs: [{ name: "y" }, { name: "yh" }],
    initializers: { W: f([1, 4 * H, I], 0.5), R: f([1, 4 * H, H], 0.5), B: f([1, 8 * H], 0.2) },
  });
}

/** Correlated inputs (a few latent factors plus noise), as real activations are. */
function lstmFeeds(rng: Random, count: number, seq: number, batch: number, I: number, H: number) {
  return Array.from({ length: count }, () => {
    const x = new Float32Array(seq * batch * I);
    const h = new Float32Array(batch * H);
    for (let b = 0; b < seq * batch; b++) {
      const z = [rng.uniform(), rng.uniform(), rng.uniform()];
      for (let i = 0; i < I; i++) {
        x[b * I + i] = z[i % 3] * Math.cos(i) + 0.5 * z[(i + 1) % 3] + 0.1 * rng.uniform();
      }
      if (b < batch) {
        for (let j = 0; j < H; j++) h[b * H + j] = Math.tanh(z[j % 3] - z[(j + 2) % 3] * 0.5);
      }
    }
    return {
      x: new Tensor("float32", x, [seq, batch, I]),
      h0: new Tensor("float32", h, [1, batch, H]),
    };
  });
}

/** ‖g_pruned − g_dense‖ / ‖g_dense‖ of the first step's gate pre-activations (float64). */
async function gateError(
  dense: Uint8Array,
  pruned: Uint8Array,
  feeds: ReturnType<typeof lstmFeeds>,
) {
  const weights = async (b: Uint8Array) => (await decodeOnnx(b)).graph.initializers;
  const [d, p] = [await weights(dense), await weights(pruned)];
  let err = 0;
  let norm = 0;
  for (const { x, h0 } of feeds) {
    const [batch, I] = [x.dims[1], x.dims[2]];
    const H = h0.dims[2];
    for (let b = 0; b < batch; b++) {
      const gates = (w: typeof d) => {
        const [W, R, B] = ["W", "R", "B"].map((n) => w.get(n)!.data as Float32Array);
        return Array.from({ length: 4 * H }, (_, r) => {
          let s = B[r] + B[4 * H + r];
          for (let i = 0; i < I; i++) s += W[r * I + i] * (x.data as Float32Array)[b * I + i];
          for (let j = 0; j < H; j++) s += R[r * H + j] * (h0.data as Float32Array)[b * H + j];
          return s;
        });
      };
      const gd = gates(d);
      const gp = gates(p);
      gd.forEach((v, r) => {
        err += (gp[r] - v) ** 2;
        norm += v ** 2;
      });
    }
  }
  return Math.sqrt(err / norm);
}

Deno.test("LSTM refit lowers the gate pre-activation error versus magnitude only; longer sequences refit through Y", async () => {
  const rng = new Random(57);
  const [I, H, batch] = [24, 12, 6];
  const bytes = lstmModel(rng, 1, batch, I, H);
  const calibration = lstmFeeds(rng, 30, 1, batch, I, H);
  const heldOut = lstmFeeds(rng, 10, 1, batch, I, H);
  const refit = await pruneOnnx(bytes, { scheme: "c4n:2", calibration, keepFirstLast: false });
  const magnitude = await pruneOnnx(bytes, { scheme: "c4n:2", keepFirstLast: false });
  deepStrictEqual(refit.layers.map((l) => [l.op, l.n, l.weight]), [["LSTM", 2, "R + W"]]);
  const eRefit = await gateError(bytes, refit.bytes, heldOut);
  const eMagnitude = await gateError(bytes, magnitude.bytes, heldOut);
  console.log(
    `held-out gate error: refit ${eRefit.toFixed(4)}, magnitude ${eMagnitude.toFixed(4)}`,
  );
  ok(eRefit < 0.6 * eMagnitude, `held-out gate error: refit ${eRefit}, magnitude ${eMagnitude}`);
  for (const name of ["W", "R"]) {
    const w = (await decodeOnnx(refit.bytes)).graph.initializers.get(name)!;
    ok(fewestZeros(w.data as Float32Array, w.dims[2]) >= 2, name);
  }

  // Sequence of 4: steps after the first take h from Y; the pruned model still runs.
  const long = lstmModel(rng, 4, batch, I, H);
  const { bytes: out, layers } = await pruneOnnx(long, {
    scheme: "c4n:2",
    calibration: lstmFeeds(rng, 20, 4, batch, I, H),
    keepFirstLast: false,
  });
  ok(layers[0].errorRefit! < layers[0].errorMagnitude!, JSON.stringify(layers[0]));
  const feed = lstmFeeds(rng, 1, 4, batch, I, H)[0];
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
  const want = await session.run({
    x: new ort.Tensor("float32", feed.x.data as Float32Array, [...feed.x.dims]),
    h0: new ort.Tensor("float32", feed.h0.data as Float32Array, [...feed.h0.dims]),
  });
  await session.release();
  const model = await loadModel(out);
  assertClose(model.runSync(feed).y.data as Float32Array, want.y.data as Float32Array, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  model.dispose();
});
