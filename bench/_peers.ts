/**
 * The peers, run in the same process as Quartet: onnxruntime-web (wasm) and TensorFlow.js
 * (wasm backend, XNNPACK). Both are pinned and single-threaded unless asked otherwise.
 */
import * as ort from "npm:onnxruntime-web@1.30.0";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfwasm from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

import { measure, type MeasureOptions, type Timing } from "./_harness.ts";

export { ort, tf };

/** Times `session.run`, reading `output` back each time as a caller would. */
export function measureOrt(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  output: string,
  timing: MeasureOptions = {},
): Promise<Timing> {
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

/**
 * onnxruntime-web sizes its thread pool once per process, when its first session starts: a
 * 2-thread session created after a 1-thread one runs on one thread (no worker starts). A
 * bench that times it on 2 threads after 1 runs itself again in a child process with
 * `--ort-2t`, whose sessions are all 2-thread ones, and reads what the child prints (JSON, on
 * its last line of stdout). Its workers spin while a session is alive, so the child runs
 * after the rest, alone.
 */
export async function ortTwoThreadChild<T>(script: string | URL, quick: boolean): Promise<T> {
  console.error("  onnxruntime-web on 2 threads (child process)");
  const path = typeof script === "string" ? script : script.pathname;
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, "--ort-2t", ...(quick ? ["--quick"] : [])],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!child.success) throw new Error("The onnxruntime-web 2-thread child process failed");
  return JSON.parse(new TextDecoder().decode(child.stdout).trim().split("\n").at(-1)!);
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
