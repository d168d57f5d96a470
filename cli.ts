/**
 * Quartet's command line. Thin: parses arguments, calls the library, prints progress and
 * results.
 *
 *   deno run -A cli.ts <command> [options]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { init, QuartetError, Tensor, VERSION } from "./mod.ts";
import type { KernelVariant } from "./mod.ts";

const USAGE = `Quartet ${VERSION}: run pruned neural networks fast with WebAssembly SIMD.

Usage: deno run -A cli.ts <command> [options]

Commands:
  info                 Show the kernel build this host gets and why
  bench [--quick]      Dense GEMM/GEMV benchmark: Quartet vs onnxruntime-web and TensorFlow.js
                       (wasm), one thread; writes bench/results/gemm.{md,svg,json}
  demo                 The benchmark table plus a tiny built-in model run

Options:
  --kernels <build>    scalar | simd | relaxed | auto (default auto)
  -h, --help           Show this help
  -v, --version        Show the version
`;

class UsageError extends Error {}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        kernels: { type: "string", default: "auto" },
        quick: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function kernelsOption(value: string): KernelVariant | "auto" {
  if (!["auto", "scalar", "simd", "relaxed"].includes(value)) {
    throw new UsageError(`Unknown --kernels value "${value}": use scalar, simd, relaxed or auto`);
  }
  return value as KernelVariant | "auto";
}

async function info(kernels: KernelVariant | "auto"): Promise<void> {
  const q = await init({ kernels });
  const i = q.info;
  console.log(`Quartet ${VERSION}`);
  console.log(`kernels: ${i.variant} (${i.reason})`);
  console.log(
    `host: simd ${i.features.simd ? "yes" : "no"}, relaxed simd ${
      i.features.relaxedSimd ? "yes" : "no"
    }, shared memory ${i.features.threads ? "yes" : "no"}`,
  );
  q.dispose();
}

/** A tiny built-in model: a 2-layer MLP (64 → 256 → 10) on fixed pseudo-random weights. */
async function tinyModel(kernels: KernelVariant | "auto"): Promise<void> {
  const q = await init({ kernels });
  let seed = 1;
  const rand = (n: number) =>
    Float32Array.from(
      { length: n },
      () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5),
    );
  const x = new Tensor("float32", rand(8 * 64), [8, 64]);
  const w1 = new Tensor("float32", rand(64 * 256), [64, 256]);
  const w2 = new Tensor("float32", rand(256 * 10), [256, 10]);
  const t0 = performance.now();
  const h = q.matmul(x, w1, { bias: rand(256), activation: "gelu_erf" });
  const y = q.matmul(h, w2, { bias: rand(10) });
  const ms = performance.now() - t0;
  const top = [...y.data.subarray(0, 10)].map((v) => v.toFixed(3)).join(" ");
  console.log(`Tiny MLP (8x64 → 256 GELU → 10) on ${q.info.variant} kernels: ${ms.toFixed(2)} ms`);
  console.log(`first row of logits: ${top}`);
  q.dispose();
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version) {
    console.log(VERSION);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const kernels = kernelsOption(values.kernels!);
  switch (command) {
    case "info":
      await info(kernels);
      return 0;
    case "bench": {
      const { runGemmBench } = await import("./bench/gemm.ts");
      await runGemmBench({ quick: values.quick });
      return 0;
    }
    case "demo": {
      await info(kernels);
      console.log();
      await tinyModel(kernels);
      console.log();
      const { runGemmBench } = await import("./bench/gemm.ts");
      await runGemmBench({ quick: true });
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${command}"${rest.length ? "" : ""}`);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${USAGE}`);
      Deno.exit(2);
    }
    if (e instanceof QuartetError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
