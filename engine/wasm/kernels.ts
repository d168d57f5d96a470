/**
 * Loads the kernel module: picks the best variant the host supports (relaxed → simd →
 * scalar) unless the caller forces one, instantiates it on a fresh arena, and reports what
 * it chose and why.
 *
 * @module
 */
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";
import { InvalidArgumentError, KernelLoadError, OutOfMemoryError, ThreadError } from "../errors.ts";
import { readSource } from "../formats/read_source.ts";
import type { ThreadPool } from "../threads/pool.ts";
// Evaluated with the engine, before any npm package can replace globalThis.Worker.
import "../threads/host_worker.ts";
import { Arena, formatBytes } from "./arena.ts";
import { detectFeatures, type WasmFeatures } from "./features.ts";

/** The three builds of the kernels. */
export type KernelVariant = "scalar" | "simd" | "relaxed";

const VARIANTS: readonly KernelVariant[] = ["scalar", "simd", "relaxed"];

/** Options for loading the kernels. */
export interface LoadKernelsOptions {
  /** Which build to use; "auto" (default) takes the best the host supports. */
  kernels?: KernelVariant | "auto";
  /**
   * A precompiled kernel module (for hosts such as Cloudflare workerd that forbid compiling
   * Wasm bytes at run time). Its variant is read from the module itself.
   */
  module?: WebAssembly.Module;
  /** Upper bound for the arena in bytes (default 4 GiB). */
  maxMemoryBytes?: number;
  /**
   * Sparse kernels: "auto" (default) runs a layer sparse when its weights have the structure
   * and the cost model says it is faster; "off" keeps every layer dense.
   */
  sparse?: "auto" | "off";
  /**
   * Worker threads for the big kernels (GEMM, convolutions): 1 (default), a count from 2 to
   * 16, or "auto" (the host's cores, up to 4). Threads need SharedArrayBuffer, so in browsers
   * a cross-origin isolated page; when they are unavailable the engine runs on one thread
   * and says why (`threads` in the summary; a warning when a count was asked for). A pool
   * keeps the process alive until `dispose()`. With threads the arena's maximum defaults to
   * 1 GiB (shared memory must declare it up front; pages are committed as it grows).
   */
  threads?: number | "auto";
}

/** How many threads run the kernels, and why. */
export interface ThreadInfo {
  /** What was asked for. */
  requested: number | "auto";
  /** Threads in use, the calling thread included. */
  count: number;
  /** Why this count. */
  reason: string;
}

/** Which kernel a weight-carrying layer got, and why (for summaries). */
export interface KernelChoice {
  /** The weights' name. */
  name: string;
  /** "dense" or a sparse format such as "c4n:2". */
  format: string;
  /** Why this kernel was chosen. */
  reason: string;
}

/** An instantiated kernel module with its arena. */
export interface Kernels {
  /** The build in use. */
  variant: KernelVariant;
  /** Why this build was chosen. */
  reason: string;
  /** What the host supports. */
  features: WasmFeatures;
  /** The kernel functions (byte offsets in, results in the arena). */
  fn: KernelExports;
  /** The compiled module they come from (compiled once per process, shared by models). */
  module: WebAssembly.Module;
  /** The arena the kernels work in. */
  arena: Arena;
  /** Sparse kernel policy. */
  sparse: "auto" | "off";
  /** Kernel choices made while packing weights, in order. */
  choices: KernelChoice[];
  /** Worker threads that share the arena, or null on one thread. */
  pool: ThreadPool | null;
  /** Thread count and why (updated if the pool falls back to one thread). */
  threads: ThreadInfo;
  /**
   * Set once kernels that stay on one thread have a plain (unshared) instance ready (see
   * `unshareLater`); the arena's owner calls it between runs to move over.
   */
  unshare?: () => void;
}

/** Largest thread count accepted. */
const MAX_THREADS = 16;
/**
 * Arena maxima a threaded arena tries, largest first, when maxMemoryBytes is not given:
 * shared memory declares its maximum up front, and some hosts (iOS Safari, 32-bit browsers)
 * refuse large reservations; a smaller arena with threads beats no threads.
 */
const SHARED_MAX_BYTES_TRIED = [2 ** 30, 2 ** 28, 2 ** 26];

/** Validates the threads option and decides how many threads to try. */
function planThreads(requested: number | "auto", f: WasmFeatures): ThreadInfo {
  if (requested !== "auto") {
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1) {
      throw new InvalidArgumentError(
        `Invalid threads option ${JSON.stringify(requested)}: use "auto" or a whole number ` +
          `from 1 to ${MAX_THREADS}`,
      );
    }
    if (requested > MAX_THREADS) {
      throw new InvalidArgumentError(
        `Invalid threads option ${requested}: at most ${MAX_THREADS} threads are supported`,
      );
    }
  }
  if (requested === 1) return { requested, count: 1, reason: "one thread requested (default)" };
  if (!f.threads) {
    return { requested, count: 1, reason: `threads unavailable: ${f.threadsMissing}` };
  }
  if (requested !== "auto") return { requested, count: requested, reason: "requested" };
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency ?? 1;
  const count = Math.max(1, Math.min(cores, 4));
  if (count === 1) return { requested, count, reason: "the host reports one core" };
  return { requested, count, reason: `auto: ${count} of ${cores} cores` };
}

function warnSingleThread(info: ThreadInfo): void {
  if (typeof info.requested === "number" && info.requested > 1) {
    console.warn(`Quartet: running on one thread instead of ${info.requested}: ${info.reason}`);
  }
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // Native where the host has it (Deno, Chrome 140+, Firefox 133+, Safari 18.2+): 2-5 ms less
  // start-up than decoding 170 KB in a loop before the loop is optimised.
  const native = (Uint8Array as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> })
    .fromBase64;
  if (native) return native(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A kernel build module. In the source tree (`kernels-as/build/quartet_<variant>.ts`) it embeds
 * the Wasm as base64, so a URL import or a local run needs no file access or permission; the
 * bundle (bundle/build.ts) swaps it for one that locates the `.wasm` file shipped beside the
 * bundle, a third smaller than its base64.
 */
type KernelBuild = { WASM_BASE64: string } | { wasmUrl(): URL };

function importBuild(variant: KernelVariant): Promise<KernelBuild> {
  // Separate modules so a bundler or URL import only loads the variant in use.
  switch (variant) {
    case "relaxed":
      return import("../../kernels-as/build/quartet_relaxed.ts");
    case "simd":
      return import("../../kernels-as/build/quartet_simd.ts");
    case "scalar":
      return import("../../kernels-as/build/quartet_scalar.ts");
  }
}

function isWasmResponse(res: Response): boolean {
  return res.headers.get("content-type")?.split(";")[0].trim() === "application/wasm" &&
    typeof WebAssembly.compileStreaming === "function";
}

/**
 * Compiles a kernel build; with `sharedPages` its memory import is first made shared with that
 * maximum. A `.wasm` served as application/wasm compiles while it downloads.
 */
/** Compiled builds by variant and shared page count: each is compiled once per process. */
const COMPILED = new Map<string, Promise<WebAssembly.Module>>();

/**
 * The compiled kernel build (its memory import made shared with `sharedPages` maximum pages,
 * when given). Compiled once and reused by every later model: a second model then skips the
 * decode and compile (cls loaded again: 1–3 ms of loadKernels before).
 */
function compileBuild(variant: KernelVariant, sharedPages?: number): Promise<WebAssembly.Module> {
  const key = `${variant}:${sharedPages ?? "plain"}`;
  let compiled = COMPILED.get(key);
  if (!compiled) {
    compiled = compileBuildOnce(variant, sharedPages);
    COMPILED.set(key, compiled);
    // A failure is not kept: the next model tries again (a network error may pass).
    compiled.catch(() => COMPILED.delete(key));
  }
  return compiled;
}

async function compileBuildOnce(
  variant: KernelVariant,
  sharedPages?: number,
): Promise<WebAssembly.Module> {
  let bytes: Uint8Array<ArrayBuffer>;
  let url: URL | undefined;
  try {
    const build = await importBuild(variant);
    if ("WASM_BASE64" in build) {
      bytes = decodeBase64(build.WASM_BASE64);
    } else {
      try {
        url = build.wasmUrl();
      } catch (cause) {
        throw new KernelLoadError(
          `Cannot locate the ${variant} kernel module beside the bundle (${cause}): on hosts ` +
            "that do not give modules a URL, such as workerd, pass the .wasm file as a " +
            "compiled module with the module option",
          { cause },
        );
      }
      if (url.protocol === "file:") {
        // Node and Bun cannot fetch file: URLs.
        bytes = new Uint8Array(await readSource(url, "kernel module"));
      } else {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        if (!sharedPages && isWasmResponse(res)) return await WebAssembly.compileStreaming(res);
        bytes = new Uint8Array(await res.arrayBuffer());
      }
    }
    if (sharedPages) {
      // Threads are opt-in: their code loads with the first threaded model.
      const { shareMemoryImport } = await import("./shared_memory_module.ts");
      bytes = shareMemoryImport(bytes, sharedPages);
    }
    return await WebAssembly.compile(bytes);
  } catch (cause) {
    if (cause instanceof KernelLoadError) throw cause;
    const from = url ? ` from "${url}"` : "";
    throw new KernelLoadError(
      `Cannot compile the ${variant} kernel module${from}: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}

/**
 * The kernel build for a `kernels` option on a host with features `f`, and why: "auto" takes
 * relaxed SIMD where its multiply-add is fused, else plain SIMD, else scalar.
 */
export function chooseBuild(
  requested: KernelVariant | "auto",
  f: WasmFeatures,
): [KernelVariant, string] {
  if (!["auto", ...VARIANTS].includes(requested)) {
    throw new InvalidArgumentError(
      `Unknown kernels option "${requested}": use "auto", "scalar", "simd" or "relaxed"`,
    );
  }
  if (requested === "relaxed" && !f.relaxedSimd) {
    throw new KernelLoadError(
      'Cannot use the "relaxed" kernels: this host does not support relaxed SIMD ' +
        '(use "simd", or "auto" to pick the best available)',
    );
  }
  if (requested === "simd" && !f.simd) {
    throw new KernelLoadError(
      'Cannot use the "simd" kernels: this host does not support WebAssembly SIMD ' +
        '(use "scalar", or "auto")',
    );
  }
  if (requested !== "auto") return [requested, "requested"];
  if (f.relaxedSimd && f.relaxedFused) return ["relaxed", "relaxed SIMD (FMA) is supported"];
  if (f.relaxedSimd) {
    return [
      "simd",
      "relaxed SIMD is supported but its multiply-add is not fused here: the plain SIMD " +
      "build's smaller tiles run faster",
    ];
  }
  if (f.simd) return ["simd", "SIMD is supported, relaxed SIMD is not"];
  return ["scalar", "this host has no WebAssembly SIMD: running the slower scalar build"];
}

async function instantiate(module: WebAssembly.Module, arena: Arena): Promise<KernelExports> {
  try {
    const instance = await WebAssembly.instantiate(module, { env: { memory: arena.memory } });
    return instance.exports as unknown as KernelExports;
  } catch (cause) {
    throw new KernelLoadError(`Cannot instantiate the kernel module: ${cause}`, { cause });
  }
}

// The kernel module keeps its static data in the first page; the arena starts after it.
const STATIC_BYTES = 65536;

/** Loads and instantiates the kernels. */
export async function loadKernels(options: LoadKernelsOptions = {}): Promise<Kernels> {
  const features = detectFeatures();
  const sparse = options.sparse ?? "auto";
  const threads = planThreads(options.threads ?? 1, features);
  let module = options.module;
  if (module) {
    if (!(module instanceof WebAssembly.Module)) {
      throw new KernelLoadError(
        "The module option must be a WebAssembly.Module (hosts like workerd forbid compiling " +
          "bytes at run time: import the .wasm file as a module and pass it)",
      );
    }
    if (threads.count > 1) {
      threads.count = 1;
      threads.reason = "threads unavailable: a precompiled module was given and its memory " +
        "is not shared";
      warnSingleThread(threads);
    }
    const arena = new Arena({ base: STATIC_BYTES, maxBytes: options.maxMemoryBytes });
    const fn = await instantiate(module, arena);
    const variant = VARIANTS[fn.kernel_variant()];
    checkStatic(fn);
    return {
      variant,
      reason: "precompiled module given",
      features,
      fn,
      module,
      arena,
      sparse,
      choices: [],
      pool: null,
      threads,
    };
  }
  const [variant, reason] = chooseBuild(options.kernels ?? "auto", features);
  let arena: Arena | undefined;
  if (threads.count > 1) {
    const tried = options.maxMemoryBytes !== undefined
      ? [options.maxMemoryBytes]
      : SHARED_MAX_BYTES_TRIED;
    let refused: unknown;
    for (const maxBytes of tried) {
      try {
        arena = new Arena({ base: STATIC_BYTES, maxBytes, shared: true });
        break;
      } catch (cause) {
        if (cause instanceof OutOfMemoryError) throw cause;
        refused ??= cause;
      }
    }
    if (!arena) {
      threads.count = 1;
      threads.reason = `threads unavailable: the host refused a shared memory of ` +
        `${formatBytes(tried[tried.length - 1])} (${refused})`;
    } else if (refused) {
      threads.reason += `; the arena is capped at ${formatBytes(arena.maxBytes)} (the host ` +
        `refused ${formatBytes(tried[0])} of shared memory: ${refused})`;
    }
  }
  arena ??= new Arena({ base: STATIC_BYTES, maxBytes: options.maxMemoryBytes });
  module = await compileBuild(
    variant,
    arena.shared ? Math.floor(arena.maxBytes / 65536) : undefined,
  );
  const fn = await instantiate(module, arena);
  checkStatic(fn);
  let pool: ThreadPool | null = null;
  if (threads.count > 1) {
    try {
      const { ThreadPool } = await import("../threads/pool.ts");
      pool = await ThreadPool.start(
        module,
        arena.memory,
        threads.count,
        fn as unknown as Record<string, (...a: number[]) => unknown>,
        workerTailScratch(fn, threads.count - 1),
        {
          onDegrade: (why) => {
            threads.count = 1;
            threads.reason = `fell back to one thread: ${why}`;
            console.warn(`Quartet: ${threads.reason}`);
          },
        },
      );
    } catch (cause) {
      if (!(cause instanceof ThreadError)) throw cause;
      threads.count = 1;
      threads.reason = `threads unavailable: ${cause.message}`;
    }
  }
  if (!pool) warnSingleThread(threads);
  return { variant, reason, features, fn, module, arena, sparse, choices: [], pool, threads };
}

/** Largest arena `unshareLater` moves (the move holds the old and the new copy at once). */
const UNSHARE_MAX_BYTES = 2 ** 28;

/**
 * Prepares to move kernels that stay on one thread off their shared arena: in Deno a kernel
 * on shared memory runs up to about 10 % slower (vector add 9.4 → 10.6 µs, GEMV 4.2 → 4.6 µs),
 * which left a model that "auto" kept on one thread about 5 % slower than `threads: 1`. The
 * plain build compiles and instantiates in the background; `kr.unshare` is then set, and the
 * owner calls it between runs: the arena's contents move to the plain memory, offsets intact.
 * Arenas over `UNSHARE_MAX_BYTES` stay shared: the move briefly holds both copies.
 */
export function unshareLater(kr: Kernels): void {
  if (kr.pool || !kr.arena.shared || kr.arena.memoryBytes > UNSHARE_MAX_BYTES) return;
  const pages = (bytes: number) => Math.ceil(bytes / 65536);
  compileBuild(kr.variant).then(async (module) => {
    const memory = new WebAssembly.Memory({
      initial: pages(kr.arena.memoryBytes),
      maximum: Math.floor(kr.arena.maxBytes / 65536),
    });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    if (kr.pool || !kr.arena.shared || kr.arena.memoryBytes > UNSHARE_MAX_BYTES) return;
    kr.unshare = () => {
      kr.unshare = undefined;
      kr.arena.moveTo(memory);
      kr.fn = instance.exports as unknown as KernelExports;
      kr.module = module;
      kr.threads.reason += "; moved to an unshared arena";
    };
  }).catch(() => {
    // Staying on the shared arena costs a few percent, nothing more.
  });
}

/** Releases what the kernels hold outside the arena: the worker threads. */
export function disposeKernels(kr: Kernels): void {
  kr.pool?.dispose();
  kr.pool = null;
}

/**
 * Each worker's tail scratch (kernels-as/common/tail_scratch.ts): blocks in the unused part
 * of the static page, above the module's own data and below the arena.
 */
function workerTailScratch(fn: KernelExports, workers: number): number[] {
  const size = fn.kernel_tail_scratch_size();
  const base = Math.ceil(fn.kernel_heap_base() / 64) * 64;
  return Array.from({ length: workers }, (_, i) => base + i * size);
}

function checkStatic(fn: KernelExports): void {
  const workerScratch = (MAX_THREADS - 1) * fn.kernel_tail_scratch_size();
  if (fn.kernel_heap_base() + 64 + workerScratch > STATIC_BYTES) {
    throw new KernelLoadError(
      `The kernel module's static data (${fn.kernel_heap_base()} bytes) and the workers' ` +
        `scratch (${workerScratch} bytes) overlap the arena`,
    );
  }
}
