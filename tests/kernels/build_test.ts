import { deepStrictEqual, ok } from "node:assert/strict";
import wabtInit from "npm:wabt@1.0.39";
import { buildKernels, VARIANTS } from "../../kernels-as/build.ts";

const BUILD = new URL("../../kernels-as/build/", import.meta.url);

Deno.test("committed kernel artefacts are exactly what the sources build", async () => {
  const fresh = await buildKernels();
  const stale: string[] = [];
  for (const [name, bytes] of fresh) {
    let committed: Uint8Array | undefined;
    try {
      committed = await Deno.readFile(new URL(name, BUILD));
    } catch {
      committed = undefined;
    }
    if (
      !committed || committed.length !== bytes.length || committed.some((b, i) => b !== bytes[i])
    ) {
      stale.push(name);
    }
  }
  deepStrictEqual(
    stale,
    [],
    `stale artefacts (run \`deno task build:kernels\`): ${stale.join(", ")}`,
  );
});

/** Function bodies of the text format by export name. */
async function functionsByExport(variant: string): Promise<Map<string, string>> {
  const wabt = await wabtInit();
  const bytes = await Deno.readFile(new URL(`quartet_${variant}.wasm`, BUILD));
  const mod = wabt.readWasm(bytes, { readDebugNames: true, simd: true, relaxed_simd: true });
  mod.generateNames();
  mod.applyNames();
  const wat = mod.toText({ foldExprs: false, inlineExport: true });
  mod.destroy();
  const out = new Map<string, string>();
  for (const chunk of wat.split(/\n\s*\(func /).slice(1)) {
    const m = chunk.match(/^\S+\s+\(export "([^"]+)"\)/);
    if (m) out.set(m[1], chunk);
  }
  return out;
}

const HOT = [
  "f32_gemm_4x8",
  "f32_gemm_6x8",
  "f32_gemm_nchw_6x8",
  "f32_gemv_1x8",
  "f32_gemv_f16w_4x8",
  "f32_spmm_c4n_1x48",
  "f32_lstm_1x8",
  "f32_scan_selective_step_x4",
];

Deno.test("the simd build's hot kernels really run f32x4 instructions", async () => {
  const fns = await functionsByExport("simd");
  for (const name of HOT) {
    const body = fns.get(name);
    ok(body, `export ${name} not found`);
    ok(/f32x4\.(mul|add)/.test(body), `${name} has no f32x4 arithmetic`);
    ok(!/relaxed/.test(body), `${name} uses relaxed SIMD in the plain simd build`);
  }
});

Deno.test("the relaxed build fuses multiply-add, the scalar build has no v128 at all", async () => {
  const relaxed = await functionsByExport("relaxed");
  for (const name of HOT) ok(/f32x4\.relaxed_madd/.test(relaxed.get(name) ?? ""), name);
  const scalar = await functionsByExport("scalar");
  for (const [name, body] of scalar) ok(!/v128|f32x4|i32x4/.test(body), `${name} uses SIMD`);
  deepStrictEqual(VARIANTS, ["scalar", "simd", "relaxed"]);
});
