/**
 * Pruning a TF.js layers model to a TF.js layers model: TensorFlow.js itself runs the written
 * files and must compute what Quartet computes from them; the written kernels satisfy the
 * scheme in Keras's own layout; dense layers come out unchanged.
 */
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { ModelFormatError } from "../../../engine/errors.ts";
import { decodeTfjsLayers, loadTfjsLayers } from "../../../engine/formats/tfjs/layers.ts";
import { encodeTfjsLayers } from "../../../engine/formats/tfjs/write.ts";
import { loadModel } from "../../../engine/model.ts";
import { pruneTfjs } from "../../../engine/prune/api.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { Random } from "../../_random.ts";
import { realModel } from "../../_models.ts";

await tf.setBackend("cpu");
const rng = new Random(2027);

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale: number; min: number };
}

/**
 * A small Functional model: conv 3x3 (3→8, relu) → depthwise 3x3 → conv 3x3 (8→12, relu)
 * → conv 1x1 (12→8) → conv 3x3 (8→3). The second conv's kernel is stored quantized to uint8.
 */
function tinyModel() {
  const layers: unknown[] = [];
  const specs: Spec[] = [];
  const data: Uint8Array[] = [];
  let prev = "in";
  layers.push({
    class_name: "InputLayer",
    name: "in",
    config: { name: "in", batch_input_shape: [null, null, null, 3] },
    inbound_nodes: [],
  });
  const conv = (name: string, cin: number, cout: number, k: number, act: string, q = false) => {
    layers.push({
      class_name: "Conv2D",
      name,
      config: {
        name,
        filters: cout,
        kernel_size: [k, k],
        strides: [1, 1],
        padding: "same",
        data_format: "channels_last",
        dilation_rate: [1, 1],
        activation: act,
        use_bias: true,
      },
      inbound_nodes: [[[prev, 0, 0, {}]]],
    });
    prev = name;
    const kernel = rng.floats(k * k * cin * cout, -0.4, 0.4);
    if (q) {
      const [min, scale] = [-0.4, 0.8 / 255];
      specs.push({
        name: `${name}/kernel`,
        shape: [k, k, cin, cout],
        dtype: "float32",
        quantization: { dtype: "uint8", scale, min },
      });
      data.push(Uint8Array.from(kernel, (v) => Math.round((v - min) / scale)));
    } else {
      specs.push({ name: `${name}/kernel`, shape: [k, k, cin, cout], dtype: "float32" });
      data.push(new Uint8Array(kernel.buffer));
    }
    specs.push({ name: `${name}/bias`, shape: [cout], dtype: "float32" });
    data.push(new Uint8Array(rng.floats(cout, -0.1, 0.1).buffer));
  };
  conv("c1", 3, 8, 3, "relu");
  layers.push({
    class_name: "DepthwiseConv2D",
    name: "dw",
    config: {
      name: "dw",
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: "same",
      depth_multiplier: 1,
      activation: "linear",
      use_bias: false,
    },
    inbound_nodes: [[[prev, 0, 0, {}]]],
  });
  prev = "dw";
  specs.push({ name: "dw/depthwise_kernel", shape: [3, 3, 8, 1], dtype: "float32" });
  data.push(new Uint8Array(rng.floats(72, -0.5, 0.5).buffer));
  conv("c2", 8, 12, 3, "relu", true);
  conv("c3", 12, 8, 1, "linear");
  conv("out", 8, 3, 3, "linear");
  const shard = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of data) [shard.set(d, at), at += d.length];
  const json = {
    format: "layers-model",
    generatedBy: "quartet test",
    modelTopology: {
      model_config: {
        class_name: "Functional",
        config: {
          name: "tiny",
          layers,
          input_layers: [["in", 0, 0]],
          output_layers: [[prev, 0, 0]],
        },
      },
    },
    weightsManifest: [{ paths: ["w.bin"], weights: specs }],
  };
  return { json, shard };
}

/** Smooth NHWC images with noise. */
function image(h: number, w: number): Float32Array {
  const x = new Float32Array(h * w * 3);
  const phase = rng.uniform(0, 6);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.07 + phase) + 0.2 * rng.uniform();
  return x;
}

/** TensorFlow.js's output for model.json text + one shard. */
function tfjsRun(modelJson: string, shard: Uint8Array, x: Float32Array, h: number, w: number) {
  const json = JSON.parse(modelJson);
  const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const buf = shard.slice().buffer;
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: buf }),
  ).then((m) => (m.predict(tf.tensor4d(x, [1, h, w, 3])) as tf.Tensor).dataSync() as Float32Array);
}

async function writeModel(dir: string, modelJson: string, shardName: string, shard: Uint8Array) {
  await Deno.writeTextFile(`${dir}/model.json`, modelJson);
  await Deno.writeFile(`${dir}/${shardName}`, shard);
  return `${dir}/model.json`;
}

Deno.test("pruneTfjs writes a TF.js model that TensorFlow.js runs as Quartet does, C4n exact in HWIO", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { json, shard } = tinyModel();
    const source = await writeModel(dir, JSON.stringify(json), "w.bin", shard);
    const before = await Deno.readFile(`${dir}/w.bin`);
    const calibration = Array.from(
      { length: 4 },
      () => ({ in: new Tensor("float32", image(12, 10), [1, 12, 10, 3]) }),
    );
    const r = await pruneTfjs(source, { scheme: "c4n:2", calibration });
    deepStrictEqual(await Deno.readFile(`${dir}/w.bin`), before, "the input files are kept");
    deepStrictEqual(
      r.layers.map((l) => [l.node, l.n ?? 0]),
      [["c1", 0], ["dw", 0], ["c2", 2], ["c3", 2], ["out", 0]],
    );
    const out = await Deno.makeTempDir({ dir });
    const path = await writeModel(out, r.modelJson, r.shardName, r.shard);

    // Read the written shard by hand: float32 weights in manifest order.
    const manifest = JSON.parse(r.modelJson).weightsManifest;
    deepStrictEqual(manifest.length, 1);
    const values = new Map<string, Float32Array>();
    let at = 0;
    for (const s of manifest[0].weights as Spec[]) {
      deepStrictEqual([s.dtype, s.quantization], ["float32", undefined], s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      values.set(s.name, new Float32Array(r.shard.slice(at, at + 4 * n).buffer));
      at += 4 * n;
    }
    deepStrictEqual(at, r.shard.length);
    // C4n along each filter's reduction axis (input channel, then kernel row, then column):
    // read from HWIO here, independently of the writer's transpose.
    for (const [name, [k, cin, cout]] of [["c2", [3, 8, 12]], ["c3", [1, 12, 8]]] as const) {
      const w = values.get(`${name}/kernel`)!;
      for (let o = 0; o < cout; o++) {
        const row: number[] = [];
        for (let i = 0; i < cin; i++) {
          for (let y = 0; y < k; y++) {
            for (let x = 0; x < k; x++) row.push(w[((y * k + x) * cin + i) * cout + o]);
          }
        }
        for (let g = 0; g + 4 <= row.length; g += 4) {
          const zeros = row.slice(g, g + 4).filter((v) => v === 0).length;
          deepStrictEqual(zeros, 2, `${name} filter ${o} group ${g / 4}`);
        }
      }
    }
    // Dense layers keep their values exactly.
    const original = new Float32Array(shard.slice(0, 3 * 3 * 3 * 8 * 4).buffer);
    deepStrictEqual(values.get("c1/kernel"), original);

    // TensorFlow.js runs the written files; Quartet must agree on the same files.
    const [h, w] = [9, 11];
    const x = image(h, w);
    const want = await tfjsRun(r.modelJson, r.shard, x, h, w);
    const m = await loadModel(path);
    const got = (await m.run({ in: new Tensor("float32", x, [1, h, w, 3]) }))[m.outputNames[0]];
    m.dispose();
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs((got.data as Float32Array)[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    ok(worst <= 1e-5 * scale + 1e-6, `worst ${worst} of ${scale}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeTfjsLayers writes ESRGAN-slim back unchanged: TensorFlow.js output equal", async () => {
  const path = await realModel("@upscalerjs/esrgan-slim", "x2");
  const original = JSON.parse(await Deno.readTextFile(path));
  const files = encodeTfjsLayers(original, await loadTfjsLayers(path));
  const [h, w] = [10, 8];
  const x = image(h, w).map((v) => 128 + 100 * v);
  const dir = path.replace(/model\.json$/, "");
  const shards = original.weightsManifest.flatMap((g: { paths: string[] }) =>
    g.paths.map((p) => Deno.readFileSync(dir + p))
  );
  const shard = new Uint8Array(shards.reduce((n: number, b: Uint8Array) => n + b.length, 0));
  let at = 0;
  for (const b of shards) [shard.set(b, at), at += b.length];
  const want = await tfjsRun(JSON.stringify(original), shard, x, h, w);
  const got = await tfjsRun(files.modelJson, files.shard, x, h, w);
  deepStrictEqual(got, want);
});

Deno.test("encodeTfjsLayers names the weight it cannot write", async () => {
  const { json, shard } = tinyModel();
  const ir = await decodeTfjsLayers(json, () => Promise.resolve(shard));
  ir.graph.initializers.delete("c3/weight");
  throws(
    () => encodeTfjsLayers(json, ir),
    (e) => e instanceof ModelFormatError && /"c3\/kernel".*"c3\/weight"/.test(e.message),
  );
  throws(() => encodeTfjsLayers({}, ir), ModelFormatError);
  await rejects(pruneTfjs("/nonexistent/model.json", { scheme: "c4n:2" }), ModelFormatError);
});
