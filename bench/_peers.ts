/**
 * The peers, run in the same process as Quartet: onnxruntime-web (wasm) and TensorFlow.js
 * (wasm backend, XNNPACK). Both are pinned and single-threaded unless asked otherwise.
 */
import * as ort from "npm:onnxruntime-web@1.30.0";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfwasm from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

import { measure, type MeasureOptions } from "./_harness.ts";

export { ort, tf };

/** Times `session.run`, reading `output` back each time as a caller would. */
export function measureOrt(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  output: string,
  timing: MeasureOptions = {},
): Promise<{ median_ms: number; min_ms: number; runs: number }> {
  return measure(async () => {
    const r = await session.run(feeds);
    await r[output].getData();
  }, timing);
}

let tfReady: Promise<void> | undefined;

/** Starts TensorFlow.js on its wasm backend with `threads` threads (once per process). */
export function startTfjs(threads = 1): Promise<void> {
  tfReady ??= (async () => {
    tfwasm.setThreadsCount(threads);
    await tf.setBackend("wasm");
    await tf.ready();
  })();
  return tfReady;
}

/** An onnxruntime-web session on the wasm backend with `threads` threads. */
export function ortSession(model: Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = "error";
  return ort.InferenceSession.create(model, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
}
