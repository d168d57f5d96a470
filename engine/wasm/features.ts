/**
 * Honest capability detection: tiny embedded modules are validated by the host, so what we
 * report is what the engine will actually get.
 *
 * @module
 */

// (func (result v128) v128.const 0)
// deno-fmt-ignore
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array(16).fill(0),
  0x0b,
]);

// (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))
// deno-fmt-ignore
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x3d, 0x01, 0x3b, 0x00,
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]),
  0xfd, 0x85, 0x02, 0x0b,
]);

// (func (export "f") (param f32 f32 f32) (result f32)
//   (f32x4.extract_lane 0 (f32x4.relaxed_madd (f32x4.splat a) (f32x4.splat b) (f32x4.splat c))))
// deno-fmt-ignore
const MADD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00,
  0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13,
  0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b,
]);

/**
 * Whether the host's relaxed multiply-add rounds once (fused), found by running it:
 * (1 + 2⁻¹²)² − (1 + 2⁻¹¹) is 2⁻²⁴ fused and 0 when the product is rounded first. V8 fuses it
 * on x86 with FMA and on ARM; JavaScriptCore (Safari, Bun) does not. A host that cannot
 * compile the probe (workerd forbids compiling at run time) is taken to fuse.
 */
function relaxedMaddFuses(): boolean {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MADD_PROBE));
    const f = instance.exports.f as (a: number, b: number, c: number) => number;
    return f(1 + 2 ** -12, 1 + 2 ** -12, -(1 + 2 ** -11)) !== 0;
  } catch {
    return true;
  }
}

let fusedMadd: boolean | undefined;

/** What the host's WebAssembly engine supports. */
export interface WasmFeatures {
  /** 128-bit SIMD. */
  simd: boolean;
  /** Relaxed SIMD (multiply-add and the like; whether it fuses: `relaxedFused`). */
  relaxedSimd: boolean;
  /**
   * With relaxed SIMD: whether its multiply-add is fused (one rounding). Where it is not
   * (JavaScriptCore: Safari, Bun) it costs what a multiply and an add do, and the plain SIMD
   * build's smaller register tiles run faster.
   */
  relaxedFused: boolean;
  /**
   * Worker threads on shared memory are possible: SharedArrayBuffer, cross-origin isolation
   * where that matters, shared WebAssembly memory and a Worker API.
   */
  threads: boolean;
  /** When `threads` is false: the missing requirement, in words a user can act on. */
  threadsMissing?: string;
}

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Why worker threads cannot run here, or "" when they can. */
function threadsMissing(): string {
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    Worker?: unknown;
    process?: { versions?: { node?: string } };
  };
  const isolation = "serve the page with the headers Cross-Origin-Opener-Policy: same-origin " +
    "and Cross-Origin-Embedder-Policy: require-corp";
  if (g.crossOriginIsolated === false) {
    return `the page is not cross-origin isolated (${isolation})`;
  }
  if (typeof SharedArrayBuffer === "undefined") {
    return `SharedArrayBuffer is unavailable (${isolation})`;
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return "this host cannot create shared WebAssembly memory";
  }
  if (typeof g.Worker !== "function" && !g.process?.versions?.node) {
    return "this host has no Worker API";
  }
  return "";
}

/** Detects the WebAssembly features of this host. */
export function detectFeatures(): WasmFeatures {
  const simd = validates(SIMD_PROBE);
  const relaxedSimd = simd && validates(RELAXED_PROBE);
  if (relaxedSimd) fusedMadd ??= relaxedMaddFuses();
  const missing = threadsMissing();
  return {
    simd,
    relaxedSimd,
    relaxedFused: relaxedSimd && fusedMadd === true,
    threads: missing === "",
    ...(missing ? { threadsMissing: missing } : {}),
  };
}
