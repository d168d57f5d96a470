import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import { InvalidArgumentError, ModelFormatError } from "../../../../engine/errors.ts";
import { parseSafetensors } from "../../../../engine/formats/safetensors/safetensors.ts";
import { loadMamba } from "../../../../engine/models/mamba/mamba.ts";
import { assertClose } from "../../../_assert.ts";

const FIXTURE = new URL("../../../fixtures/mamba", import.meta.url).pathname;
const expected = JSON.parse(await Deno.readTextFile(`${FIXTURE}/expected.json`)) as {
  prompt: number[];
  logits: number[][];
  greedy: number[];
};

for (const kernels of ["scalar", "simd", "relaxed"] as const) {
  Deno.test(`Mamba logits match the PyTorch fixture (float64 reference): ${kernels}`, async () => {
    const m = await loadMamba(FIXTURE, { kernels });
    const logits = m.forward(expected.prompt);
    assertClose(logits, expected.logits.flat(), { rtol: 1e-4, atol: 1e-4 }, "prompt logits");
    m.dispose();
  });
}

Deno.test("greedy continuation of 32 tokens is identical to the fixture", async () => {
  const m = await loadMamba(FIXTURE);
  const out: number[] = [];
  const it = m.generate(expected.prompt, { maxTokens: 32 });
  for await (const t of it) out.push(t);
  deepStrictEqual(out, expected.greedy);
  m.dispose();
});

Deno.test("prefill then decode equals decode-only; state save/restore resumes exactly", async () => {
  const m = await loadMamba(FIXTURE);
  const tokens = expected.prompt;
  const all = m.forward(tokens);
  m.reset();
  const v = m.config.vocab;
  for (let i = 0; i < tokens.length; i++) {
    const step = m.forward([tokens[i]]);
    assertClose(step, all.subarray(i * v, (i + 1) * v), { rtol: 1e-4, atol: 1e-4 }, `token ${i}`);
  }
  m.reset();
  m.forward(tokens.slice(0, 5));
  const saved = m.saveState();
  const a = m.forward(tokens.slice(5));
  m.restoreState(saved);
  const b = m.forward(tokens.slice(5));
  deepStrictEqual([...b], [...a]);
  throws(() => m.restoreState({ data: new Float32Array(3) }), InvalidArgumentError);
  m.dispose();
});

Deno.test("bad prompts and bad checkpoints give typed errors naming what is wrong", async () => {
  const m = await loadMamba(FIXTURE);
  throws(() => m.forward([]), InvalidArgumentError);
  throws(() => m.forward([300]), (e) => e instanceof InvalidArgumentError && /300/.test(e.message));
  m.dispose();
  const good = await Deno.readFile(`${FIXTURE}/model.safetensors`);
  const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLen)));
  const withHeader = (h: unknown, data = good.subarray(8 + headerLen)) => {
    const text = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(8 + text.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(data, 8 + text.length);
    return out;
  };
  const name = "backbone.norm_f.weight";
  const bad = (
    mutate: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
    pattern: RegExp,
  ) => {
    const h = structuredClone(header);
    mutate(h);
    throws(
      () => parseSafetensors(withHeader(h)),
      (e) => e instanceof ModelFormatError && pattern.test(e.message),
    );
  };
  bad((h) => (h[name].data_offsets[1] += 10_000_000), /past the .* data bytes/);
  bad((h) => (h[name].dtype = "I64"), /dtype "I64"/);
  bad((h) => (h[name].shape = [65]), /needs/);
  bad((h) => (h[name].data_offsets = h["backbone.layers.0.mixer.D"].data_offsets), /overlap|needs/);
  throws(() => parseSafetensors(good.subarray(0, 4)), ModelFormatError);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  throws(() => parseSafetensors(huge), /header claims/);
  throws(() => parseSafetensors(withHeader({ x: 1 }).subarray(0, 20)), ModelFormatError);
  // A checkpoint missing a tensor, or with one whose shape disagrees with the config.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURE}/config.json`, `${dir}/config.json`);
    const h = structuredClone(header);
    delete h["backbone.layers.1.mixer.D"];
    await Deno.writeFile(`${dir}/model.safetensors`, withHeader(h));
    await rejects(
      loadMamba(dir),
      (e) =>
        e instanceof ModelFormatError &&
        /"backbone\.layers\.1\.mixer\.D" is missing/.test(e.message),
    );
    const cfg = JSON.parse(await Deno.readTextFile(`${FIXTURE}/config.json`));
    cfg.state_size = 8;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
    await Deno.copyFile(`${FIXTURE}/model.safetensors`, `${dir}/model.safetensors`);
    await rejects(
      loadMamba(dir),
      (e) => e instanceof ModelFormatError && /A_log.*\[128, 16\].*\[128, 8\]/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenizer.json is loaded through @huggingface/tokenizers (ids = UTF-8 bytes here)", async () => {
  const m = await loadMamba(FIXTURE);
  deepStrictEqual(m.tokenizer.kind, "tokenizer.json");
  const text = "Quartet runs Mamba, déjà vu";
  // The fixture's byte-level BPE maps every byte to the id of its value and has no merges.
  deepStrictEqual(m.tokenizer.encode(text), [...new TextEncoder().encode(text)]);
  deepStrictEqual(m.tokenizer.decode(m.tokenizer.encode(text)), text);
  deepStrictEqual(m.tokenizer.encode("Quartet runs Mamba"), expected.prompt);
  m.dispose();
});
