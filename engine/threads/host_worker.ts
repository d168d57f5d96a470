/**
 * The host's Web Worker constructor, taken when the engine loads (engine/wasm/kernels.ts
 * imports this module statically, while the thread pool loads only when threads are asked
 * for). In Deno some npm packages later replace `globalThis.Worker` with a Node
 * `worker_threads` shim that cannot start a worker from source: the Emscripten glue of
 * onnxruntime-web does so when it creates its first session, so a pool started after that
 * would have had no threads.
 *
 * @module
 */

/** `globalThis.Worker` as it was when the engine loaded (undefined where there is none). */
export const HOST_WORKER: typeof Worker | undefined = (globalThis as { Worker?: typeof Worker })
  .Worker;
