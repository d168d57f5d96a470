import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { InvalidArgumentError, KernelLoadError } from "../../../engine/errors.ts";
import { detectFeatures } from "../../../engine/wasm/features.ts";
import { chooseBuild } from "../../../engine/wasm/kernels.ts";

const host = (simd: boolean, relaxedSimd: boolean, relaxedFused: boolean) => ({
  simd,
  relaxedSimd,
  relaxedFused,
  threads: false,
});

Deno.test('"auto" takes relaxed SIMD only where its multiply-add is fused', () => {
  deepStrictEqual(chooseBuild("auto", host(true, true, true))[0], "relaxed");
  // JavaScriptCore (Safari, Bun): relaxed SIMD without a fused multiply-add.
  const [variant, reason] = chooseBuild("auto", host(true, true, false));
  deepStrictEqual(variant, "simd");
  ok(reason.includes("not fused"), reason);
  deepStrictEqual(chooseBuild("auto", host(true, false, false))[0], "simd");
  deepStrictEqual(chooseBuild("auto", host(false, false, false))[0], "scalar");
  // Asked for by name, a build the host runs is used as it is.
  deepStrictEqual(chooseBuild("relaxed", host(true, true, false)), ["relaxed", "requested"]);
  throws(() => chooseBuild("relaxed", host(true, false, false)), KernelLoadError);
  throws(() => chooseBuild("simd", host(false, false, false)), KernelLoadError);
  throws(() => chooseBuild("fast" as never, host(true, true, true)), InvalidArgumentError);
});

Deno.test("the multiply-add probe runs here: V8 fuses relaxed multiply-adds on this machine", () => {
  const f = detectFeatures();
  // Deno's V8 on x86-64 with FMA (every CI and development machine of this project).
  deepStrictEqual([f.simd, f.relaxedSimd, f.relaxedFused], [true, true, true]);
});
