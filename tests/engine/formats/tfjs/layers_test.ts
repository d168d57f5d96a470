/** TF.js layers import: the ESRGAN models against TensorFlow.js itself (cpu backend). */
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { decodeTfjsLayers, loadTfjsLayers } from "../../../../engine/formats/tfjs/layers.ts";
import { ModelFormatError, UnsupportedOpError } from "../../../../engine/errors.ts";
import { loadModel } from "../../../../engine/model.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { realModel } from "../../../_models.ts";

await tf.setBackend("cpu");

async function tfjsOutput(path: string, x: Float32Array, dims: [number, number, number, number]) {
  const json = JSON.parse(await Deno.readTextFile(path));
  const dir = path.replace(/model\.json$/, "");
  const parts = json.weightsManifest.flatMap((g: { paths: string[] }) =>
    g.paths.map((p) => Deno.readFileSync(dir + p))
  );
  const data = new Uint8Array(parts.reduce((s: number, b: Uint8Array) => s + b.length, 0));
  let o = 0;
  for (const b of parts) {
    data.set(b, o);
    o += b.length;
  }
  const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const model = await tfl.loadLayersModel(tf.io.fromMemory(json.modelTopology, specs, data.buffer));
  const y = model.predict(tf.tensor4d(x, dims)) as tf.Tensor;
  return { dims: y.shape, data: y.dataSync() as Float32Array };
}

for (const pkg of ["@upscalerjs/esrgan-slim", "@upscalerjs/esrgan-medium"] as const) {
  for (const scale of ["x2", "x4"]) {
    Deno.test(`${pkg} ${scale} matches TensorFlow.js on the same input`, async () => {
      const path = await realModel(pkg, scale);
      const dims: [number, number, number, number] = [1, 20, 24, 3];
      const x = new Float32Array(20 * 24 * 3).map((_, i) => (i * 37 + (i >> 5) * 11) % 256);
      const want = await tfjsOutput(path, x, dims);
      const model = await loadModel(path);
      const got = (await model.run({ LR: new Tensor("float32", x, dims) })).SR;
      deepStrictEqual(got.dims, want.dims);
      let worst = 0;
      for (let i = 0; i < got.size; i++) {
        worst = Math.max(worst, Math.abs((got.data as Float32Array)[i] - want.data[i]));
      }
      // 1e-4 of the output range (0–255).
      ok(worst <= 255e-4, `worst abs error ${worst}`);
      model.dispose();
    });
  }
}

Deno.test("TF.js import errors: unknown layers all at once, missing or short shards", async () => {
  const layer = (name: string, cls: string, from?: string) => ({
    class_name: cls,
    name,
    config: { name, batch_input_shape: [null, null, null, 3] },
    inbound_nodes: from ? [[[from, 0, 0, {}]]] : [],
  });
  const json = (layers: unknown[], weights: unknown[] = []) => ({
    format: "layers-model",
    modelTopology: {
      model_config: {
        class_name: "Functional",
        config: { layers, input_layers: [["in", 0, 0]], output_layers: [["b", 0, 0]] },
      },
    },
    weightsManifest: [{ paths: ["w.bin"], weights }],
  });
  await rejects(
    decodeTfjsLayers(
      json([layer("in", "InputLayer"), layer("a", "Fancy", "in"), layer("b", "Weird", "a")]),
      () => Promise.resolve(new Uint8Array(0)),
    ),
    (e) => e instanceof UnsupportedOpError && e.nodes.map((n) => n.node).join() === "a,b",
  );
  await rejects(
    decodeTfjsLayers(
      json([layer("in", "InputLayer")], [{ name: "k", shape: [4], dtype: "float32" }]),
      () => Promise.resolve(new Uint8Array(8)),
    ),
    (e) => e instanceof ModelFormatError && /"k".*short/.test(e.message),
  );
  await rejects(
    decodeTfjsLayers(
      json([layer("in", "InputLayer")]),
      () => Promise.reject(new Error("no such file")),
    ),
    (e) => e instanceof ModelFormatError && /"w\.bin"/.test(e.message),
  );
  await rejects(loadTfjsLayers("/nonexistent/model.json"), ModelFormatError);
  await rejects(
    decodeTfjsLayers({ hello: 1 }, () => Promise.resolve(new Uint8Array(0))),
    ModelFormatError,
  );
});

Deno.test("TF.js model.json that lies about its structure: ModelFormatError saying where", async () => {
  // A valid two-layer model: an input and a 1x1 Conv2D with a bias.
  const base = () => ({
    format: "layers-model",
    modelTopology: {
      model_config: {
        class_name: "Functional",
        config: {
          layers: [
            {
              class_name: "InputLayer",
              name: "in",
              config: { name: "in", batch_input_shape: [null, null, null, 2] },
              inbound_nodes: [],
            },
            {
              class_name: "Conv2D",
              name: "conv",
              config: { name: "conv", strides: [1, 1], padding: "same" },
              inbound_nodes: [[["in", 0, 0, {}]]],
            },
          ],
          input_layers: [["in", 0, 0]],
          output_layers: [["conv", 0, 0]],
        },
      },
    },
    weightsManifest: [{
      paths: ["w.bin"],
      weights: [
        { name: "conv/kernel", shape: [1, 1, 2, 3], dtype: "float32" },
        { name: "conv/bias", shape: [3], dtype: "float32" },
      ],
    }],
  });
  // deno-lint-ignore no-explicit-any
  type Json = any;
  const shard = () => Promise.resolve(new Uint8Array(9 * 4));
  const model = await decodeTfjsLayers(base(), shard);
  deepStrictEqual(model.graph.outputs.map((o) => o.name), ["conv"]);
  const cases: [string, (j: Json) => void, RegExp][] = [
    [
      "no paths",
      (j) => (j.weightsManifest[0].paths = null),
      /weightsManifest\[0\]\.paths is not a list/,
    ],
    ["no shape", (j) => delete j.weightsManifest[0].weights[0].shape, /weights\[0\]\.shape/],
    [
      "huge dim",
      (j) => (j.weightsManifest[0].weights[0].shape[3] = 1e308),
      /shape\[3\] is 1e\+308/,
    ],
    [
      "scale not a number",
      (j) => (j.weightsManifest[0].weights[1].quantization = { dtype: "uint8", scale: "x" }),
      /quantization\.scale is "x"/,
    ],
    [
      "bytes left over",
      (j) => (j.weightsManifest[0].weights[1].shape = [2]),
      /take 32 bytes, its shards \[w\.bin\] hold 36/,
    ],
    [
      "no config",
      (j) => delete j.modelTopology.model_config.config.layers[1].config,
      /layers\[1\]\.config/,
    ],
    [
      "open input dim negative",
      (j) => (j.modelTopology.model_config.config.layers[0].config.batch_input_shape[1] = -1),
      /batch_input_shape\[1\] is -1/,
    ],
    ["no outputs", (j) => (j.modelTopology.model_config.config.output_layers = []), /no output/],
    [
      "output names no layer",
      (j) => (j.modelTopology.model_config.config.output_layers = [["gone", 0, 0]]),
      /"gone", not a layer/,
    ],
    [
      "reads a missing layer",
      (j) => (j.modelTopology.model_config.config.layers[1].inbound_nodes = [[["gone", 0, 0, {}]]]),
      /"conv" \(Conv2D\) reads "gone"/,
    ],
    [
      "reads itself",
      (j) => (j.modelTopology.model_config.config.layers[1].inbound_nodes = [[["conv", 0, 0, {}]]]),
      /"conv" \(Conv2D\) reads "conv"/,
    ],
    [
      "kernel not 4-D",
      (j) => (j.weightsManifest[0].weights[0].shape = [2, 3]),
      /conv\/kernel" is \[2,3\]/,
    ],
  ];
  for (const [label, mutate, pattern] of cases) {
    const j = base();
    mutate(j);
    await rejects(
      decodeTfjsLayers(j, shard),
      (e) => e instanceof ModelFormatError && pattern.test(e.message),
      label,
    );
  }
  // Shards stay beside model.json: no parent directories, roots or other hosts are read.
  const dir = await Deno.makeTempDir();
  try {
    for (const path of ["../w.bin", "/etc/hostname", "https://example.com/w.bin"]) {
      const j = base();
      j.weightsManifest[0].paths = [path];
      await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(j));
      await rejects(
        loadTfjsLayers(`${dir}/model.json`),
        (e) => e instanceof ModelFormatError && /must stay beside the model/.test(e.message),
        path,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a TF.js model.json URL with a query or fragment loads as TF.js", async () => {
  const source = await realModel("@upscalerjs/esrgan-slim", "x2");
  const dir = source.replace(/[^/]*$/, "");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1);
    try {
      return new Response(await Deno.readFile(dir + name));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    for (const tail of ["?v=2", "#x2"]) {
      const m = await loadModel(`http://127.0.0.1:${server.addr.port}/model.json${tail}`);
      deepStrictEqual(m.inputNames, ["LR"]);
      m.dispose();
    }
  } finally {
    await server.shutdown();
  }
});
