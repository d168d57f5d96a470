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
