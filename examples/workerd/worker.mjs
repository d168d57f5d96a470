// A Cloudflare Worker running Quartet. workerd forbids compiling Wasm bytes at run time, so
// the kernel build is bound as a Wasm module (see config.capnp) and passed to init().
import { init, loadMamba, loadModel, Tensor } from "./quartet.mjs";
import kernels from "./kernels.wasm";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (url.searchParams.has("bytes")) {
        // What a worker must not do: hand raw bytes instead of the bound module.
        await init({ module: new Uint8Array(8) });
      }
      const q = await init({ module: kernels });
      const a = new Tensor("float32", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const b = new Tensor("float32", new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
      const body = {
        variant: q.info.variant,
        reason: q.info.reason,
        matmul: [...q.matmul(a, b).data],
      };
      q.dispose();
      const mamba = url.searchParams.get("mamba");
      if (mamba) {
        // ?mamba=<base URL of a checkpoint>&prompt=…: greedy text, token ids in and out.
        const model = await loadMamba(mamba, { module: kernels });
        const prompt = model.tokenizer.encode(url.searchParams.get("prompt") ?? "Hello");
        const tokens = [];
        for await (const t of model.generate(prompt, { maxTokens: 8 })) tokens.push(t);
        body.mamba = { prompt, tokens, variant: model.summary().kernels.variant };
        model.dispose();
      }
      if (request.method === "POST") {
        // POST an ONNX model whose single input is float32 [1, n]: it runs on ones.
        const model = await loadModel(new Uint8Array(await request.arrayBuffer()), {
          module: kernels,
        });
        const input = model.inputs[0];
        const n = input.dims.map((d) => (typeof d === "number" ? d : 1)).reduce((x, y) => x * y, 1);
        const dims = input.dims.map((d) => (typeof d === "number" ? d : 1));
        const out = await model.run({
          [input.name]: new Tensor("float32", new Float32Array(n).fill(1), dims),
        });
        body.outputs = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, [...t.data]]));
        model.dispose();
      }
      return Response.json(body);
    } catch (e) {
      return Response.json({ error: e.name, message: e.message }, { status: 500 });
    }
  },
};
