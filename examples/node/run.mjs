// Quartet under Node 20+, from the bundle:
//   node examples/node/run.mjs <dist/quartet.mjs> [silero_vad.onnx [threads]]
// Prints JSON: the kernel build Node got and why, a small matmul, and with a silero VAD model
// (v5 or legacy) the speech probabilities of 10 chunks of a test tone, state carried, and the
// threads the model ran on (worker_threads when threads > 1).
import { pathToFileURL } from "node:url";

const [bundle, modelPath, threads = "1"] = process.argv.slice(2);
const { init, loadModel, Tensor } = await import(pathToFileURL(bundle).href);

const q = await init();
const a = new Tensor("float32", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
const b = new Tensor("float32", new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
const result = { variant: q.info.variant, reason: q.info.reason, matmul: [...q.matmul(a, b).data] };
q.dispose();

if (modelPath) {
  const model = await loadModel(modelPath, { threads: Number(threads) });
  result.threads = model.summary().threads;
  const v5 = model.inputNames.includes("state");
  let state = v5 ? { state: new Tensor("float32", new Float32Array(256), [2, 1, 128]) } : {
    h: new Tensor("float32", new Float32Array(128), [2, 1, 64]),
    c: new Tensor("float32", new Float32Array(128), [2, 1, 64]),
  };
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  result.speech = [];
  for (let chunk = 0; chunk < 10; chunk++) {
    const x = new Float32Array(512).map((_, i) => 0.3 * Math.sin((chunk * 512 + i) * 0.05));
    const out = await model.run({ input: new Tensor("float32", x, [1, 512]), sr, ...state });
    result.speech.push(out.output.data[0]);
    state = v5 ? { state: out.stateN } : { h: out.hn, c: out.cn };
  }
  model.dispose();
}
console.log(JSON.stringify(result));
