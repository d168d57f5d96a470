/**
 * The runtime a user holds: the loaded kernels, their arena, and direct tensor operations.
 *
 * @module
 */
import { DTypeError, InvalidArgumentError, QuartetError } from "./errors.ts";
import type { Activation } from "../kernels-as/activations.ts";
import { ACTIVATIONS } from "../kernels-as/activations.ts";
import { checkOptions } from "./options.ts";
import { matmulShape, runMatMul } from "./ops/matmul.ts";
import { Tensor } from "./tensor.ts";
import {
  disposeKernels,
  type Kernels,
  type KernelVariant,
  loadKernels,
  type ThreadInfo,
} from "./wasm/kernels.ts";
import type { WasmFeatures } from "./wasm/features.ts";

/** Options of `init`. */
export interface InitOptions {
  /**
   * Kernel build: "auto" (default) picks relaxed SIMD where its multiply-add is fused, then
   * SIMD, then scalar.
   */
  kernels?: KernelVariant | "auto";
  /**
   * A precompiled kernel module, for hosts such as Cloudflare workerd that forbid compiling
   * Wasm bytes at run time (import the .wasm file from `kernels-as/build/` and pass it).
   */
  module?: WebAssembly.Module;
  /** Most bytes the arena may grow to (default 4 GiB). */
  maxMemoryBytes?: number;
  /** Worker threads for big products: 1 (default), a count or "auto" (see `LoadModelOptions`). */
  threads?: number | "auto";
}

/** Options of `Runtime.matmul`. */
export interface MatMulOptions {
  /** Added to every row of the result (length N). */
  bias?: Float32Array;
  /** Activation applied to the result (default "none"). */
  activation?: Activation;
  /** Activation parameters: clamp bounds, LeakyRelu / HardSigmoid alpha (p0), beta (p1). */
  p0?: number;
  /** Second activation parameter. */
  p1?: number;
}

/** What the runtime chose, for logs and support requests. */
export interface RuntimeInfo {
  /** The kernel build in use. */
  variant: KernelVariant;
  /** Why it was chosen. */
  reason: string;
  /** What the host supports. */
  features: WasmFeatures;
  /** Current arena size in bytes. */
  memoryBytes: number;
  /** Threads in use and why. */
  threads: ThreadInfo;
}

/** Loaded kernels and the operations that run on them. Create with `init`. */
export class Runtime {
  #kernels: Kernels | undefined;

  /** Use `init()`. */
  constructor(kernels: Kernels) {
    this.#kernels = kernels;
  }

  #k(): Kernels {
    if (!this.#kernels) {
      throw new QuartetError("This runtime was disposed: create another with init()");
    }
    return this.#kernels;
  }

  /** The kernel build, why it was chosen, and the arena size. */
  get info(): RuntimeInfo {
    const k = this.#k();
    return {
      variant: k.variant,
      reason: k.reason,
      features: k.features,
      memoryBytes: k.arena.memoryBytes,
      threads: { ...k.threads },
    };
  }

  /** @internal The kernels, for engine code. */
  get kernels(): Kernels {
    return this.#k();
  }

  /**
   * Matrix product with numpy semantics (batch dims broadcast, 1-D operands promoted), with
   * an optional bias and activation fused into the kernel.
   *
   * @example
   * ```ts
   * import { init, Tensor } from "../mod.ts";
   * const q = await init();
   * const a = new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]);
   * const b = new Tensor("float32", new Float32Array([1, 0, 0, 1]), [2, 2]);
   * console.log(q.matmul(a, b).data); // Float32Array [1, 2, 3, 4]
   * ```
   */
  matmul(a: Tensor, b: Tensor, options: MatMulOptions = {}): Tensor<"float32"> {
    checkOptions(options, ["bias", "activation", "p0", "p1"], "Runtime.matmul()");
    const kr = this.#k();
    for (const [name, t] of [["a", a], ["b", b]] as const) {
      if (!(t instanceof Tensor)) {
        throw new InvalidArgumentError(`Runtime.matmul(): argument ${name} is not a Tensor`);
      }
      if (t.type !== "float32") {
        throw new DTypeError(
          `Runtime.matmul(): argument ${name} is "${t.type}", only "float32" is supported: ` +
            `pass a float32 tensor`,
        );
      }
    }
    const shape = matmulShape(a.dims, b.dims, "Runtime.matmul()");
    const activation = options.activation ?? "none";
    if (!ACTIVATIONS.includes(activation)) {
      throw new InvalidArgumentError(
        `Runtime.matmul(): unknown activation "${activation}": use one of ${
          ACTIVATIONS.join(", ")
        }`,
      );
    }
    if (options.bias && options.bias.length !== shape.n) {
      throw new InvalidArgumentError(
        `Runtime.matmul(): the bias has ${options.bias.length} values, the result has ` +
          `${shape.n} columns: pass one value per column`,
      );
    }
    const outSize = shape.dims.reduce((x, y) => x * y, 1);
    const arena = kr.arena;
    const blocks: number[] = [];
    const put = (data: Float32Array, what: string) => {
      const off = arena.alloc(data.byteLength, what);
      blocks.push(off);
      arena.f32(off, data.length).set(data);
      return off;
    };
    try {
      const pa = put(a.data as Float32Array, "matmul a");
      const pb = put(b.data as Float32Array, "matmul b");
      const pc = arena.alloc(outSize * 4, "matmul result");
      blocks.push(pc);
      const epilogue = { activation, p0: options.p0 ?? 0, p1: options.p1 ?? 0 };
      const pbias = options.bias ? put(options.bias, "matmul bias") : 0;
      runMatMul(kr, shape, pa, pb, pc, epilogue, pbias);
      return new Tensor("float32", arena.f32(pc, outSize).slice(), shape.dims);
    } finally {
      for (const off of blocks) arena.free(off);
    }
  }

  /** Frees the arena. The runtime cannot be used afterwards. */
  dispose(): void {
    if (!this.#kernels) return;
    this.#kernels.arena.reset();
    disposeKernels(this.#kernels);
    this.#kernels = undefined;
  }
}

/**
 * Loads the kernels (the best build for this host unless told otherwise) and returns a
 * runtime.
 *
 * @example
 * ```ts
 * import { init } from "../mod.ts";
 * const q = await init({ kernels: "auto" });
 * console.log(q.info.variant); // "relaxed", "simd" or "scalar"
 * ```
 */
export async function init(options: InitOptions = {}): Promise<Runtime> {
  checkOptions(options, ["kernels", "module", "maxMemoryBytes", "threads"], "init()");
  return new Runtime(await loadKernels(options));
}
