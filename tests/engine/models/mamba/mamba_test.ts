import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import {
  InvalidArgumentError,
  ModelFormatError,
  OutOfMemoryError,
} from "../../../../engine/errors.ts";
import { parseSafetensors } from "../../../../engine/formats/safetensors/safetensors.ts";
import { loadMamba, MambaModel } from "../../../../engine/models/mamba/mamba.ts";
import { loadKernels } from "../../../../engine/wasm/kernels.ts";
import { Random } from "../../../_random.ts";
import { c4nWeights } from "../../../reference/sparse.ts";
import { MAMBA_LINEAR, type MambaTensor, mambaWeights } from "../../../_mamba_weights.ts";
import { assertClose } from "../../../_assert.ts";
import { loadSparsePackers } from "../../../../engine/weights/sparse_packers.ts";

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

Deno.test("a model loaded from a local checkpoint reads its file only while it is built", async () => {
  // loadMamba reads each tensor from the file into the arena as it packs it, then closes the
  // file (the process has as many open files as before; Linux lists them in /proc/self/fd):
  // removing the file afterwards must change nothing.
  const dir = await Deno.makeTempDir();
  const openFiles = () => [...Deno.readDirSync("/proc/self/fd")].length;
  try {
    for (const f of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(`${FIXTURE}/${f}`, `${dir}/${f}`);
    }
    (await loadMamba(dir)).dispose(); // the first load may open files of its own (modules)
    const before = openFiles();
    const m = await loadMamba(dir);
    strictEqual(openFiles(), before, "files left open by loadMamba");
    await Deno.remove(`${dir}/model.safetensors`);
    const logits = m.forward(expected.prompt);
    assertClose(logits, expected.logits.flat(), { rtol: 1e-4, atol: 1e-4 }, "prompt logits");
    m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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

Deno.test("a prompt too long for the arena fails before any work, with the state untouched", async () => {
  // A vocabulary large next to the model: all the logits (tokens x vocab floats) are the
  // block that does not fit, and the layers would otherwise run (and move the state) first.
  const cfg = {
    dModel: 8,
    layers: 1,
    dInner: 16,
    dState: 4,
    dConv: 4,
    dtRank: 1,
    vocab: 40000,
    eps: 1e-5,
  };
  const rng = new Random(8);
  const w = mambaWeights(
    cfg,
    (_, dims) => rng.floats(dims.reduce((a, b) => a * b)).map((v) => v * 0.3),
    { lmHead: false },
  );
  const model = new MambaModel(await loadKernels({ maxMemoryBytes: 64 << 20 }), cfg, w);
  model.forward([1, 2, 3]);
  const before = model.saveState().data.slice();
  // 1000 tokens of logits are 160 MB; their activations (about 0.5 MB) would fit.
  throws(
    () => model.forward(Array.from({ length: 1000 }, (_, i) => i)),
    (e) => e instanceof OutOfMemoryError && /logits/.test(e.message),
  );
  deepStrictEqual([...model.saveState().data], [...before]);
  // The last token's logits alone fit: the same prompt runs.
  deepStrictEqual(
    model.forward(Array.from({ length: 1000 }, (_, i) => i), { lastOnly: true }).length,
    cfg.vocab,
  );
  model.dispose();
});

Deno.test("bad prompts and bad checkpoints give typed errors naming what is wrong", async () => {
  const m = await loadMamba(FIXTURE);
  throws(() => m.forward([]), InvalidArgumentError);
  throws(() => m.forward([300]), (e) => e instanceof InvalidArgumentError && /300/.test(e.message));
  throws(() => m.forward(null as unknown as number[]), InvalidArgumentError);
  throws(
    () => m.restoreState({ data: m.saveState().data.fill(NaN) }),
    (e) => e instanceof InvalidArgumentError && /NaN or infinite/.test(e.message),
  );
  await rejects(
    m.generate([1], { stopTokens: 5 as unknown as number[] }).next(),
    (e) => e instanceof InvalidArgumentError && /stopTokens/.test(e.message),
  );
  throws(() => m.tokenizer.decode(null as unknown as number[]), InvalidArgumentError);
  throws(() => m.tokenizer.encode(123 as unknown as string), InvalidArgumentError);
  // Two generations on one model would share (and corrupt) one recurrent state: the one whose
  // state was changed under it stops with a typed error, the other runs on.
  const first = m.generate([1, 2], { maxTokens: 4 });
  await first.next();
  const second = m.generate([3], { maxTokens: 2 });
  await second.next();
  await rejects(
    first.next(),
    (e) => e instanceof InvalidArgumentError && /state changed during generate/.test(e.message),
  );
  deepStrictEqual((await second.next()).done, false);
  for (const maxTokens of [NaN, 2.5, -1]) {
    await rejects(
      m.generate([1, 2], { maxTokens }).next(),
      (e) => e instanceof InvalidArgumentError && /maxTokens/.test(e.message),
    );
  }
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
    // config.json that is JSON but not an object, a key of the wrong type (it took the
    // default), fewer layers than the checkpoint (the rest were dropped).
    const base = JSON.parse(await Deno.readTextFile(`${FIXTURE}/config.json`));
    for (
      const [config, pattern] of [
        ["null", /holds null, not an object/],
        ["[1]", /holds an array/],
        [JSON.stringify({ ...base, state_size: "16" }), /"state_size" is "16", not a number/],
        [JSON.stringify({ ...base, num_hidden_layers: 1 }), /layers\.1\..* past the 1/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/config.json`, config);
      await rejects(
        loadMamba(dir),
        (e) => e instanceof ModelFormatError && pattern.test(e.message),
        config,
      );
    }
    // conv1d.weight stored the other way round: same size, wrong layout.
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(base));
    const reversed = structuredClone(header);
    const conv = "backbone.layers.0.mixer.conv1d.weight";
    reversed[conv].shape = [...reversed[conv].shape].reverse();
    await Deno.writeFile(`${dir}/model.safetensors`, withHeader(reversed));
    await rejects(
      loadMamba(dir),
      (e) => e instanceof ModelFormatError && /conv1d\.weight" is \[4,1,128\]/.test(e.message),
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
  // Nothing decodes to nothing (the library throws on an empty list); ids that are not ids
  // are refused with a typed error.
  deepStrictEqual(m.tokenizer.decode([]), "");
  throws(() => m.tokenizer.decode([-1]), InvalidArgumentError);
  throws(() => m.tokenizer.decode([1.5]), InvalidArgumentError);
  m.dispose();
});

Deno.test("a tokenizer.json whose ids are not whole numbers is refused at load, naming the token", async () => {
  const json = JSON.parse(await Deno.readTextFile(`${FIXTURE}/tokenizer.json`));
  const dir = await Deno.makeTempDir();
  try {
    for (const file of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(`${FIXTURE}/${file}`, `${dir}/${file}`);
    }
    // The library takes any JSON value as an id and encode() would hand it out.
    for (
      const [edit, message] of [
        [(j: typeof json) => (j.model.vocab.a = "x"), /token "a" has id "x"/],
        [(j: typeof json) => (j.model.vocab.a = -1), /token "a" has id -1/],
        [(j: typeof json) => (j.model.vocab.a = 2.5), /token "a" has id 2.5/],
        [
          (j: typeof json) => (j.added_tokens = [{ id: null, content: "<pad>" }]),
          /added token "<pad>" has id null/,
        ],
      ] as const
    ) {
      const bad = structuredClone(json);
      edit(bad);
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(bad));
      await rejects(
        loadMamba(dir),
        (e) => e instanceof ModelFormatError && message.test(e.message),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("C4n-pruned Mamba projections decode through the C4n GEMV and match the dense run", async () => {
  // Weights big enough (34 MB, mostly the embeddings and the untied LM head, 16500 x 256) that
  // the cost model counts every layer as streaming from memory: then both C4,3 and C4,2 send
  // in_proj (1024 x 256) and the LM head through the C4n GEMV, and the 5-token prompt runs
  // in_proj through the several-input kernel.
  const cfg = {
    dModel: 256,
    layers: 1,
    dInner: 512,
    dState: 8,
    dConv: 4,
    dtRank: 16,
    vocab: 16500,
    eps: 1e-5,
  };
  for (const zeros of [3, 2]) {
    const rng = new Random(40 + zeros);
    // Scale and shift per role; the projections and the LM head C4n-pruned.
    const values: Record<MambaTensor, [number, number?]> = {
      embeddings: [0.5],
      lm_head: [0.2],
      norm: [0.2, 1],
      in_proj: [0.2],
      "conv1d.weight": [0.5],
      "conv1d.bias": [0.1],
      x_proj: [0.1],
      "dt_proj.weight": [0.3],
      "dt_proj.bias": [0.5],
      A_log: [0.5, 0.5],
      D: [1],
      out_proj: [0.1],
      norm_f: [0.2, 1],
    };
    const w = mambaWeights(cfg, (role, dims) => {
      const [scale, shift = 0] = values[role];
      const v = MAMBA_LINEAR.has(role)
        ? c4nWeights(rng, dims[0], dims[1], zeros)
        : rng.floats(dims.reduce((a, b) => a * b));
      return v.map((x) => x * scale + shift);
    });
    const m = "backbone.layers.0.mixer.";
    // loadMamba loads the sparse formats for such weights; this test builds the model itself.
    await loadSparsePackers();
    const kr = await loadKernels({ kernels: "relaxed" });
    const sparse = new MambaModel(kr, cfg, w);
    const formats = kr.choices.map((c) => `${c.name}: ${c.format}`);
    const want = `c4n:${zeros}`;
    for (const name of [`${m}in_proj.weight`, "lm_head.weight"]) {
      deepStrictEqual(formats.includes(`${name}: ${want}`), true, formats.join("; "));
    }
    const offKr = await loadKernels({ kernels: "relaxed", sparse: "off" });
    const off = new MambaModel(offKr, cfg, w);
    // Only the survivors are kept: every product (the prompt's too) runs the C4n kernels, so
    // no dense copy.
    const ratio = kr.arena.liveBytes / offKr.arena.liveBytes;
    ok(
      ratio < (zeros === 3 ? 0.4 : 0.65),
      `C4,${zeros} model holds ${(ratio * 100).toFixed(0)} % of the dense bytes`,
    );
    const prompt = [3, 100, 7, 512, 42];
    sparse.forward(prompt);
    off.forward(prompt);
    for (const token of [9, 300, 16000, 5]) {
      const a = sparse.forward([token]);
      const b = off.forward([token]);
      assertClose(a, b, { rtol: 1e-4, atol: 1e-4 }, `C4,${zeros} token ${token}`);
    }
    sparse.dispose();
    off.dispose();
  }
});
