/**
 * Loads the kernel module: picks the best variant the host supports (relaxed → simd →
 * scalar) unless the caller forces one, instantiates it on a fresh arena, and reports what
 * it chose and why.
 *
 * @module
 */
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";
import { InvalidArgumentError, KernelLoadError } from "../errors.ts";
import { Arena } from "./arena.ts";
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
  /** The arena the kernels work in. */
  arena: Arena;
  /** Sparse kernel policy. */
  sparse: "auto" | "off";
  /** Kernel choices made while packing weights, in order. */
  choices: KernelChoice[];
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function embeddedBytes(variant: KernelVariant): Promise<Uint8Array<ArrayBuffer>> {
  // Separate modules so a bundler or URL import only loads the variant in use.
  switch (variant) {
    case "relaxed":
      return decodeBase64((await import("../../kernels-as/build/quartet_relaxed.ts")).WASM_BASE64);
    case "simd":
      return decodeBase64((await import("../../kernels-as/build/quartet_simd.ts")).WASM_BASE64);
    case "scalar":
      return decodeBase64((await import("../../kernels-as/build/quartet_scalar.ts")).WASM_BASE64);
  }
}

function choose(requested: KernelVariant | "auto", f: WasmFeatures): [KernelVariant, string] {
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
  if (f.relaxedSimd) return ["relaxed", "relaxed SIMD (FMA) is supported"];
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
  const arena = new Arena({ base: STATIC_BYTES, maxBytes: options.maxMemoryBytes });
  let module = options.module;
  let variant: KernelVariant;
  let reason: string;
  if (module) {
    if (!(module instanceof WebAssembly.Module)) {
      throw new KernelLoadError(
        "The module option must be a WebAssembly.Module (hosts like workerd forbid compiling " +
          "bytes at run time: import the .wasm file as a module and pass it)",
      );
    }
    const fn = await instantiate(module, arena);
    variant = VARIANTS[fn.kernel_variant()];
    reason = "precompiled module given";
    checkStatic(fn);
    return { variant, reason, features, fn, arena, sparse: options.sparse ?? "auto", choices: [] };
  }
  [variant, reason] = choose(options.kernels ?? "auto", features);
  try {
    module = await WebAssembly.compile(await embeddedBytes(variant));
  } catch (cause) {
    throw new KernelLoadError(`Cannot compile the ${variant} kernel module: ${cause}`, { cause });
  }
  const fn = await instantiate(module, arena);
  checkStatic(fn);
  return { variant, reason, features, fn, arena, sparse: options.sparse ?? "auto", choices: [] };
}

function checkStatic(fn: KernelExports): void {
  if (fn.kernel_heap_base() > STATIC_BYTES) {
    throw new KernelLoadError(
      `The kernel module's static data (${fn.kernel_heap_base()} bytes) overlaps the arena`,
    );
  }
}
