import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { InvalidArgumentError } from "../../../engine/errors.ts";
import { parseSafetensors } from "../../../engine/formats/safetensors/safetensors.ts";
import {
  type SafetensorsEntry,
  writeSafetensors,
} from "../../../engine/formats/safetensors/write.ts";
import { toFloat16Bits } from "../../../engine/formats/float16.ts";
import {
  loadMamba,
  mambaConfig,
  MambaModel,
  readMambaCheckpoint,
} from "../../../engine/models/mamba/mamba.ts";
import { mambaProjections } from "../../../engine/prune/mamba_forward.ts";
import { type MambaFiles, pruneMamba, readMambaFiles } from "../../../engine/prune/mamba.ts";
import * as api from "../../../engine/prune/api.ts";
import { loadKernels } from "../../../engine/wasm/kernels.ts";
import { Random } from "../../_random.ts";
import { assertClose } from "../../_assert.ts";

const FIXTURE = new URL("../../fixtures/mamba", import.meta.url).pathname;
const expected = JSON.parse(await Deno.readTextFile(`${FIXTURE}/expected.json`)) as {
  prompt: number[];
  logits: number[][];
};
const encode = (text: string) => [...new TextEncoder().encode(text)];
const CALIBRATION = [
  encode("The quick brown fox jumps over the lazy dog, and the dog does not mind at all."),
  encode("Mamba is a state space model: a selective scan replaces attention over the sequence."),
];
const HELD_OUT = encode("Sparse weights with two zeros in every four still tell a story.");
const PROJECTIONS = /mixer\.(in|x|dt|out)_proj\.weight$/;

/** Every tensor's dtype, shape and raw bytes, read by hand from the format's definition. */
function rawTensors(file: Uint8Array) {
  let length = 0;
  for (let i = 7; i >= 0; i--) length = length * 256 + file[i];
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [a, b] } = e as {
      dtype: string;
      shape: number[];
      data_offsets: number[];
    };
    out.set(name, { dtype, shape, bytes: file.subarray(8 + length + a, 8 + length + b) });
  }
  return { metadata: header.__metadata__, tensors: out };
}

/** True when every full group of 4 along the last axis has at least n zeros. */
function isC4n(values: ArrayLike<number>, rows: number, k: number, n: number): boolean {
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g + 4 <= k; g += 4) {
      let zeros = 0;
      for (let j = 0; j < 4; j++) if (values[r * k + g + j] === 0) zeros++;
      if (zeros < n) return false;
    }
  }
  return true;
}

async function withCheckpoint<T>(
  config: Record<string, unknown>,
  model: Uint8Array,
  run: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.writeFile(`${dir}/model.safetensors`, model);
    return await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Logits of `tokens` from a checkpoint directory, through loadMamba (sparse kernels auto). */
async function logitsOf(dir: string, tokens: number[]): Promise<Float32Array> {
  const m = await loadMamba(dir);
  try {
    return m.forward(tokens);
  } finally {
    m.dispose();
  }
}

/** A random Mamba checkpoint in a chosen dtype, optionally with an untied LM head. */
function randomCheckpoint(
  o: { dModel: number; dtRank: number; vocab: number; untied?: boolean; seed?: number },
): MambaFiles {
  const rng = new Random(o.seed ?? 7);
  const dInner = 2 * o.dModel;
  const dState = 4;
  const entries: SafetensorsEntry[] = [];
  const add = (name: string, shape: number[], scale: number, shift = 0) => {
    const v = rng.floats(shape.reduce((a, b) => a * b, 1)).map((x) => x * scale + shift);
    entries.push({ name, dtype: "F32", shape, data: new Uint8Array(v.buffer) });
  };
  add("backbone.embeddings.weight", [o.vocab, o.dModel], 0.5);
  if (o.untied) add("lm_head.weight", [o.vocab, o.dModel], 0.3);
  const m = "backbone.layers.0.mixer.";
  add("backbone.layers.0.norm.weight", [o.dModel], 0.1, 1);
  add(`${m}in_proj.weight`, [2 * dInner, o.dModel], 0.3);
  add(`${m}conv1d.weight`, [dInner, 1, 4], 0.5);
  add(`${m}conv1d.bias`, [dInner], 0.1);
  add(`${m}x_proj.weight`, [o.dtRank + 2 * dState, dInner], 0.2);
  add(`${m}dt_proj.weight`, [dInner, o.dtRank], 0.5);
  add(`${m}dt_proj.bias`, [dInner], 0.5, -2);
  add(`${m}A_log`, [dInner, dState], 0.5, 0.5);
  add(`${m}D`, [dInner], 0.1, 1);
  add(`${m}out_proj.weight`, [o.dModel, dInner], 0.2);
  add("backbone.norm_f.weight", [o.dModel], 0.1, 1);
  const config = {
    hidden_size: o.dModel,
    num_hidden_layers: 1,
    state_size: dState,
    conv_kernel: 4,
    expand: 2,
    time_step_rank: o.dtRank,
    tie_word_embeddings: !o.untied,
  };
  return { config, files: { "model.safetensors": writeSafetensors(entries, { format: "pt" }) } };
}

/** The fixture with every tensor stored as F16 (or BF16, by truncation). */
function halfFixture(input: MambaFiles, dtype: "F16" | "BF16"): MambaFiles {
  const { tensors } = rawTensors(input.files["model.safetensors"]);
  const entries = [...tensors].map(([name, t]): SafetensorsEntry => {
    const f = new Float32Array(t.bytes.slice().buffer);
    const bits = dtype === "F16"
      ? Uint16Array.from(f, toFloat16Bits)
      : Uint16Array.from(new Uint32Array(f.buffer), (u) => u >>> 16);
    return { name, dtype, shape: t.shape, data: new Uint8Array(bits.buffer) };
  });
  return { config: input.config, files: { "model.safetensors": writeSafetensors(entries) } };
}

const fixture = await readMambaFiles(FIXTURE);

Deno.test("the TS calibration forward matches the fixture's float64 logits, per sequence", () => {
  const w = parseSafetensors(fixture.files["model.safetensors"]);
  const cfg = mambaConfig(fixture.config, w);
  const run = mambaProjections(cfg, (n) => w.get(n)?.data as Float32Array, [
    expected.prompt,
    [1, 2, 3],
    expected.prompt,
  ]);
  const seen: string[] = [];
  let step = run.next();
  for (; !step.done; step = run.next()) seen.push(step.value.weight);
  deepStrictEqual(seen.length, 2 * 4 + 1);
  const flat = expected.logits.flat();
  const L = expected.prompt.length;
  assertClose(step.value.subarray(0, flat.length), flat, { atol: 1e-5, rtol: 1e-5 }, "first");
  // The third sequence starts again from an empty state.
  assertClose(step.value.subarray((L + 3) * 256), flat, { atol: 1e-5, rtol: 1e-5 }, "third");
});

for (const scheme of ["c4n:1", "c4n:2", "c4n:3"] as const) {
  Deno.test(`pruneMamba ${scheme}: exact C4n, other tensors byte-identical, same logits as dense`, async () => {
    const before = fixture.files["model.safetensors"].slice();
    const n = Number(scheme.slice(4));
    const { files, layers } = pruneMamba(fixture, { scheme });
    deepStrictEqual(fixture.files["model.safetensors"], before, "input bytes unchanged");
    deepStrictEqual(Object.keys(files), ["model.safetensors"]);
    const out = rawTensors(files["model.safetensors"]);
    const inp = rawTensors(before);
    deepStrictEqual(out.metadata, { format: "pt" });
    deepStrictEqual([...out.tensors.keys()].sort(), [...inp.tensors.keys()].sort());
    let pruned = 0;
    for (const [name, t] of out.tensors) {
      const src = inp.tensors.get(name)!;
      deepStrictEqual([t.dtype, t.shape], [src.dtype, src.shape], name);
      if (!PROJECTIONS.test(name)) {
        deepStrictEqual(t.bytes, src.bytes, `${name} is copied byte for byte`);
        continue;
      }
      pruned++;
      const v = new Float32Array(t.bytes.slice().buffer);
      const d = new Float32Array(src.bytes.slice().buffer);
      ok(isC4n(v, t.shape[0], t.shape[1], n), `${name} is C4,${n}`);
      // Magnitude pruning: survivors keep their values, and each group keeps its largest.
      for (let g = 0; g < v.length; g += 4) {
        const kept = [0, 1, 2, 3].filter((j) => v[g + j] !== 0);
        for (const j of kept) deepStrictEqual(v[g + j], d[g + j]);
        const minKept = Math.min(...kept.map((j) => Math.abs(d[g + j])));
        for (let j = 0; j < 4; j++) if (v[g + j] === 0) ok(Math.abs(d[g + j]) <= minKept);
      }
    }
    deepStrictEqual(pruned, 8);
    deepStrictEqual(
      layers.map((l) => [l.node, l.scheme, l.sparsity]).slice(0, 2),
      [
        ["backbone.layers.0.mixer.in_proj", scheme, n / 4],
        ["backbone.layers.0.mixer.x_proj", scheme, n / 4],
      ],
    );
    // The pruned file through loadMamba (C4n kernels where chosen) against the same weights on
    // dense kernels only.
    const sparse = await withCheckpoint(
      fixture.config,
      files["model.safetensors"],
      (dir) => logitsOf(dir, expected.prompt),
    );
    const w = parseSafetensors(files["model.safetensors"]);
    const cfg = mambaConfig(fixture.config, w);
    const dense = new MambaModel(await loadKernels({ sparse: "off" }), cfg, w);
    assertClose(sparse, dense.forward(expected.prompt), { atol: 1e-4, rtol: 1e-4 }, scheme);
    dense.dispose();
  });
}

Deno.test("a pruned c4n:3 checkpoint runs on the C4n kernels and matches the dense kernels", async () => {
  // Shapes where the cost model sends C4,3 in_proj (1024 x 256) and the untied LM head through
  // the C4n GEMV (see mamba_test.ts); the fixture is too small for any sparse kernel.
  const big = randomCheckpoint({ dModel: 256, dtRank: 16, vocab: 640, untied: true });
  const { files } = pruneMamba(big, { scheme: "c4n:3", includeHead: true });
  await withCheckpoint(big.config, files["model.safetensors"], async (dir) => {
    const c = await readMambaCheckpoint(dir, { kernels: "relaxed" });
    const sparse = new MambaModel(c.kr, c.config, c.weights);
    const formats = c.kr.choices.map((x) => `${x.name}: ${x.format}`);
    for (const name of ["backbone.layers.0.mixer.in_proj.weight", "lm_head.weight"]) {
      ok(formats.includes(`${name}: c4n:3`), formats.join("; "));
    }
    const dense = new MambaModel(
      await loadKernels({ kernels: "relaxed", sparse: "off" }),
      c.config,
      c.weights,
    );
    c.weights.close(); // both models are built from the open file
    const prompt = [3, 100, 7, 512, 42];
    assertClose(
      sparse.forward(prompt),
      dense.forward(prompt),
      { atol: 1e-4, rtol: 1e-4 },
      "prefill",
    );
    for (const token of [9, 300, 77]) {
      assertClose(
        sparse.forward([token]),
        dense.forward([token]),
        { atol: 1e-4, rtol: 1e-4 },
        `token ${token}`,
      );
    }
    sparse.dispose();
    dense.dispose();
  });
});

Deno.test("pruneMamba keeps F16 and BF16 storage: survivors bit-identical, zeros stay zeros", () => {
  for (const dtype of ["F16", "BF16"] as const) {
    const half = halfFixture(fixture, dtype);
    const before = half.files["model.safetensors"].slice();
    const { files } = pruneMamba(half, { scheme: "c4n:2" });
    deepStrictEqual(half.files["model.safetensors"], before);
    const out = rawTensors(files["model.safetensors"]);
    const inp = rawTensors(before);
    for (const [name, t] of out.tensors) {
      deepStrictEqual(t.dtype, dtype, name);
      const src = inp.tensors.get(name)!;
      if (!PROJECTIONS.test(name)) {
        deepStrictEqual(t.bytes, src.bytes, name);
        continue;
      }
      const bits = new Uint16Array(t.bytes.slice().buffer);
      const orig = new Uint16Array(src.bytes.slice().buffer);
      // ±0 are the only zero bit patterns in both formats.
      const values = Array.from(bits, (b) => ((b & 0x7fff) === 0 ? 0 : 1));
      ok(isC4n(values, t.shape[0], t.shape[1], 2), `${dtype} ${name}`);
      for (let i = 0; i < bits.length; i++) if (values[i]) deepStrictEqual(bits[i], orig[i]);
    }
  }
  // With the refit, new survivor values are rounded to F16 and still C4n.
  const half = halfFixture(fixture, "F16");
  const { files } = pruneMamba(half, { scheme: "c4n:3", calibration: CALIBRATION });
  for (const [name, t] of rawTensors(files["model.safetensors"]).tensors) {
    deepStrictEqual(t.dtype, "F16");
    const values = Array.from(new Uint16Array(t.bytes.slice().buffer), (b) => b & 0x7fff);
    if (PROJECTIONS.test(name)) ok(isC4n(values, t.shape[0], t.shape[1], 3), name);
  }
});

Deno.test("pruneMamba: the layers option prunes only what it matches", () => {
  const { files, layers } = pruneMamba(fixture, {
    scheme: "c4n:2",
    layers: /layers\.1\.mixer\.in_proj/,
  });
  const out = rawTensors(files["model.safetensors"]).tensors;
  const inp = rawTensors(fixture.files["model.safetensors"]).tensors;
  for (const [name, t] of out) {
    const same = t.bytes.every((b, i) => b === inp.get(name)!.bytes[i]);
    deepStrictEqual(same, name !== "backbone.layers.1.mixer.in_proj.weight", name);
  }
  deepStrictEqual(layers.filter((l) => l.scheme).map((l) => l.node), [
    "backbone.layers.1.mixer.in_proj",
  ]);
  // A string is a RegExp source.
  const r = pruneMamba(fixture, { scheme: "c4n:1", layers: "x_proj" });
  deepStrictEqual(r.layers.filter((l) => l.scheme).length, 2);
});

Deno.test("pruneMamba LM head: a tied head stays dense (reported), an untied one is pruned", () => {
  const tied = pruneMamba(fixture, { scheme: "c4n:2", includeHead: true });
  const row = tied.layers.find((l) => l.node === "lm_head")!;
  ok(/tied to the embeddings/.test(row.skipped ?? ""), row.skipped);
  deepStrictEqual(
    rawTensors(tied.files["model.safetensors"]).tensors.get("backbone.embeddings.weight")!.bytes,
    rawTensors(fixture.files["model.safetensors"]).tensors.get("backbone.embeddings.weight")!
      .bytes,
  );
  const untied = randomCheckpoint({ dModel: 16, dtRank: 4, vocab: 40, untied: true });
  for (const includeHead of [false, true]) {
    const r = pruneMamba(untied, { scheme: "c4n:3", includeHead, calibration: [[1, 5, 9, 30]] });
    const out = rawTensors(r.files["model.safetensors"]).tensors;
    const head = new Float32Array(out.get("lm_head.weight")!.bytes.slice().buffer);
    deepStrictEqual(isC4n(head, 40, 16, 3), includeHead);
    deepStrictEqual(
      r.layers.find((l) => l.node === "lm_head")!.scheme,
      includeHead ? "c4n:3" : undefined,
    );
    deepStrictEqual(
      out.get("backbone.embeddings.weight")!.bytes,
      rawTensors(untied.files["model.safetensors"]).tensors.get("backbone.embeddings.weight")!
        .bytes,
    );
  }
});

Deno.test("pruneMamba: a sharded checkpoint comes back as one file equal to the unsharded result", async () => {
  const { tensors } = rawTensors(fixture.files["model.safetensors"]);
  const entries = [...tensors].map(([name, t]): SafetensorsEntry => ({
    name,
    dtype: "F32",
    shape: t.shape,
    data: t.bytes,
  }));
  const half = Math.floor(entries.length / 2);
  const sharded: MambaFiles = {
    config: fixture.config,
    files: {
      "model-00001-of-00002.safetensors": writeSafetensors(entries.slice(0, half)),
      "model-00002-of-00002.safetensors": writeSafetensors(entries.slice(half)),
    },
  };
  // Read from a directory through the public API's lazy wrappers, index and all.
  const dir = await Deno.makeTempDir();
  let a: Awaited<ReturnType<typeof api.pruneMamba>>;
  try {
    const weightMap: Record<string, string> = {};
    for (const [file, bytes] of Object.entries(sharded.files)) {
      await Deno.writeFile(`${dir}/${file}`, bytes);
      for (const name of rawTensors(bytes).tensors.keys()) weightMap[name] = file;
    }
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(fixture.config));
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ weight_map: weightMap }),
    );
    const read = await api.readMambaFiles(dir);
    deepStrictEqual(read, sharded);
    a = await api.pruneMamba(read, { scheme: "c4n:2" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const b = pruneMamba(fixture, { scheme: "c4n:2" });
  deepStrictEqual(Object.keys(a.files), ["model.safetensors"]);
  const ta = rawTensors(a.files["model.safetensors"]).tensors;
  const tb = rawTensors(b.files["model.safetensors"]).tensors;
  for (const [name, t] of tb) deepStrictEqual(ta.get(name)!.bytes, t.bytes, name);
});

/** Mean |Δlogit| of a pruned file against the dense fixture over the held-out prompt. */
async function heldOutError(files: Record<string, Uint8Array>, dense: Float32Array) {
  const got = await withCheckpoint(
    fixture.config,
    files["model.safetensors"],
    (dir) => logitsOf(dir, HELD_OUT),
  );
  let s = 0;
  for (let i = 0; i < got.length; i++) s += Math.abs(got[i] - dense[i]);
  return s / got.length;
}

Deno.test("pruneMamba calibration: activation-aware masks and the refit lower the held-out logit error", async () => {
  const dense = await logitsOf(FIXTURE, HELD_OUT);
  for (const scheme of ["c4n:2", "c4n:3"]) {
    const magnitude = await heldOutError(pruneMamba(fixture, { scheme }).files, dense);
    const aware = pruneMamba(fixture, { scheme, calibration: CALIBRATION, refit: false });
    const refit = pruneMamba(fixture, { scheme, calibration: CALIBRATION });
    const eAware = await heldOutError(aware.files, dense);
    const eRefit = await heldOutError(refit.files, dense);
    ok(eRefit < 0.8 * magnitude, `${scheme}: refit ${eRefit} vs magnitude ${magnitude}`);
    ok(eRefit < eAware, `${scheme}: refit ${eRefit} vs activation-aware ${eAware}`);
    for (const l of refit.layers.filter((l) => l.scheme)) {
      ok(l.errorRefit! <= l.errorMagnitude! + 1e-12, `${l.node} refit does not raise the error`);
    }
    ok(aware.layers.every((l) => !l.scheme || l.errorMagnitude! > 0));
  }
});

Deno.test("pruneMamba: bad options and checkpoints give typed errors naming the problem", () => {
  const bad = (options: Parameters<typeof pruneMamba>[1], pattern: RegExp, input = fixture) =>
    throws(
      () => pruneMamba(input, options),
      (e) => e instanceof InvalidArgumentError && pattern.test(e.message),
    );
  bad({ scheme: "c4n:4" }, /scheme "c4n:4".*c4n:1, c4n:2 or c4n:3/);
  bad({ scheme: "pattern" }, /scheme "pattern"/);
  bad({ scheme: "c4n:2", layers: /no_such_layer/ }, /matches none of the prunable projections/);
  bad({ scheme: "c4n:2", layers: "(" }, /not a valid regular expression/);
  bad({ scheme: "c4n:2", calibration: [] }, /at least one token sequence/);
  bad({ scheme: "c4n:2", calibration: [[1], []] }, /sequence 1 is empty/);
  bad({ scheme: "c4n:2", calibration: [[1, 256]] }, /token 256 is outside the vocabulary/);
  bad({ scheme: "c4n:2", maxColumns: 0 }, /maxColumns/);
  bad({ scheme: "c4n:2" }, /no safetensors file/, { config: fixture.config, files: {} });
  // dt_proj with 2 inputs has no group of 4: skipped by default, an error when asked for.
  const narrow = randomCheckpoint({ dModel: 16, dtRank: 2, vocab: 32 });
  const r = pruneMamba(narrow, { scheme: "c4n:2" });
  ok(/input dimension 2 < 4/.test(r.layers.find((l) => /dt_proj/.test(l.node))!.skipped!));
  bad(
    { scheme: "c4n:2", layers: /dt_proj/ },
    /"backbone\.layers\.0\.mixer\.dt_proj\.weight".*below 4/,
    narrow,
  );
});
