/**
 * Sparse packages of safetensors checkpoints (a Mamba `model.qsp`): a pruned fixture packs
 * smaller and loads with the logits of its safetensors file; float16 packing gives the logits
 * of the same weights rounded to halves (Math.f16round, the host's own rounding, as oracle);
 * a package of the wrong kind or with a tensor both packed and inline is a typed error; the
 * CLI packs a checkpoint directory.
 */
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { ModelFormatError } from "../../../engine/errors.ts";
import { parseSafetensors } from "../../../engine/formats/safetensors/safetensors.ts";
import { writeSafetensors } from "../../../engine/formats/safetensors/write.ts";
import { packSparseModel as packOnnx } from "../../../engine/formats/sparse_package/pack.ts";
import { loadMamba } from "../../../engine/models/mamba/mamba.ts";
import { openSafetensorsPackage } from "../../../engine/formats/sparse_package/safetensors_package.ts";
import { loadModel } from "../../../engine/model.ts";
import { packSparseModel, pruneMamba, readMambaFiles } from "../../../mod.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { serveRanges } from "../../_range_server.ts";

const FIXTURE = new URL("../../fixtures/mamba", import.meta.url).pathname;
const CLI = new URL("../../../cli.ts", import.meta.url).pathname;
const PROMPT = [...new TextEncoder().encode("Hello, sparse world")];
const f16round = (Math as unknown as { f16round(x: number): number }).f16round;

/** The fixture pruned to C4,2 (magnitude): its config and model.safetensors. */
const input = await readMambaFiles(FIXTURE);
const pruned = (await pruneMamba(input, { scheme: "c4n:2" })).files["model.safetensors"];

/** Logits of PROMPT from a directory holding config.json and `files`. */
async function logits(files: Record<string, Uint8Array>): Promise<number[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURE}/config.json`, `${dir}/config.json`);
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
    }
    const m = await loadMamba(dir);
    try {
      return [...m.forward(PROMPT)];
    } finally {
      m.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `file` with every tensor of at least 256 elements rounded to float16 values, as F32. */
function roundedToHalves(file: Uint8Array): Uint8Array {
  return writeSafetensors(
    [...parseSafetensors(file)].map(([name, t]) => {
      const v = t.data as Float32Array;
      const data = v.length >= 256 ? v.map(f16round) : v;
      return { name, dtype: "F32" as const, shape: t.dims, data: new Uint8Array(data.buffer) };
    }),
  );
}

Deno.test("a packed pruned Mamba checkpoint is smaller and loads with its safetensors' logits", async () => {
  const { bytes, tensors, inputBytes } = await packSparseModel(pruned);
  deepStrictEqual(inputBytes, pruned.length);
  ok(bytes.length < 0.75 * pruned.length, `${bytes.length} vs ${pruned.length}`);
  const proj = tensors.filter((t) => /mixer\.(in|out)_proj/.test(t.name));
  ok(proj.length > 0 && proj.every((t) => t.layout === "mask" && t.zeros >= 0.5), "C4,2 masks");
  deepStrictEqual(
    await logits({ "model.qsp": bytes }),
    await logits({ "model.safetensors": pruned }),
  );
});

Deno.test("float16 packing gives the logits of the weights rounded to halves; F16 checkpoints pack as halves", async () => {
  const half = await packSparseModel(pruned, { float16: true });
  ok(half.tensors.every((t) => t.dtype === "float16"));
  // The same values; the f16 GEMV may sum in another order than the f32 one.
  assertClose(
    await logits({ "model.qsp": half.bytes }),
    await logits({ "model.safetensors": roundedToHalves(pruned) }),
    { atol: 1e-5, rtol: 1e-5 },
    "float16 package vs rounded weights",
  );
  // Stored as F16, the tensors are halves already: packed as float16 without asking, exactly.
  const asF16 = writeSafetensors(
    [...parseSafetensors(pruned)].map(([name, t]) => {
      const v = t.data as Float32Array;
      return {
        name,
        dtype: "F16" as const,
        shape: t.dims,
        data: new Uint8Array(new Float16Array(v).buffer),
      };
    }),
  );
  const packed = await packSparseModel(asF16);
  ok(packed.tensors.every((t) => t.dtype === "float16"), "F16 tensors stay halves");
  assertClose(
    await logits({ "model.qsp": packed.bytes }),
    await logits({ "model.safetensors": asF16 }),
    { atol: 1e-5, rtol: 1e-5 },
    "F16 checkpoint's package vs the checkpoint",
  );
});

Deno.test("packages of the wrong kind, or with a tensor both packed and inline, are typed errors", async () => {
  const { bytes } = await packSparseModel(pruned);
  // A Mamba package given to loadModel, and an ONNX package in a Mamba checkpoint.
  await rejects(
    loadModel(bytes),
    (e) => e instanceof ModelFormatError && /safetensors checkpoint.*loadMamba/.test(e.message),
  );
  const onnx = packOnnx(buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [1, 4] }],
    outputs: [{ name: "y" }],
    initializers: { w: new Tensor("float32", new Float32Array(300), [300]) },
  })).bytes;
  await rejects(
    logits({ "model.qsp": onnx }),
    (e) => e instanceof ModelFormatError && /ONNX model.*loadModel/.test(e.message),
  );
  // Rename the first packed tensor to a tensor the inner safetensors keeps (same header length).
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const length = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  const first = header.tensors[0].name;
  header.tensors[0].name = "backbone.norm_f.weight";
  const text = JSON.stringify(header);
  ok(text.length <= length);
  const edited = bytes.slice();
  edited.set(new TextEncoder().encode(text.padEnd(length, " ")), 16);
  await rejects(
    logits({ "model.qsp": edited }),
    (e) =>
      e instanceof ModelFormatError &&
      /tensor "backbone\.norm_f\.weight" is both packed and in the model/.test(e.message),
    `renamed ${first}`,
  );
});

Deno.test("cli.ts pack on a Mamba checkpoint directory writes a loadable model.qsp beside its config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/in`);
    for (const f of ["config.json", "tokenizer.json"]) {
      await Deno.copyFile(`${FIXTURE}/${f}`, `${dir}/in/${f}`);
    }
    await Deno.writeFile(`${dir}/in/model.safetensors`, pruned);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "pack", `${dir}/in`, "--out", `${dir}/out`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    deepStrictEqual(r.code, 0, new TextDecoder().decode(r.stderr));
    ok(/wrote .*model\.qsp: .*% of the .* model\.safetensors/.test(out), out);
    deepStrictEqual(
      [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(),
      ["config.json", "model.qsp", "tokenizer.json"],
    );
    // A directory without a single model.safetensors (here: the packed one) is refused.
    const again = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "pack", `${dir}/out`, "--out", `${dir}/again`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    deepStrictEqual(again.code, 2);
    ok(
      /has none \(sharded checkpoints are not packed\)/.test(
        new TextDecoder().decode(again.stderr),
      ),
    );
    const [a, b] = [await loadMamba(`${dir}/in`), await loadMamba(`${dir}/out`)];
    deepStrictEqual(b.tokenizer.encode("Hello"), a.tokenizer.encode("Hello"));
    deepStrictEqual([...b.forward(PROMPT)], [...a.forward(PROMPT)]);
    a.dispose();
    b.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a local model.qsp is read where its tensors lie: cut short before or after opening, a typed error", async () => {
  const { bytes } = await packSparseModel(pruned);
  const dir = await Deno.makeTempDir();
  try {
    // Truncated on disk: the header's sections run past the end.
    await rejects(
      logits({ "model.qsp": bytes.subarray(0, bytes.length - 100) }),
      (e) => e instanceof ModelFormatError && /model\.qsp.*past the end/.test(e.message),
    );
    await rejects(
      logits({ "model.qsp": bytes.subarray(0, 10) }),
      (e) => e instanceof ModelFormatError && /not a Quartet sparse package/.test(e.message),
    );
    // Cut after it was opened: the read of a tensor past the new end names it.
    const path = `${dir}/model.qsp`;
    await Deno.writeFile(path, bytes);
    const p = await openSafetensorsPackage(path, "model.qsp");
    const name = "backbone.layers.1.mixer.out_proj.weight";
    const size = p.dims.get(name)!.reduce((a, b) => a * b, 1);
    await Deno.truncate(path, 4096);
    throws(
      () => p.read(name, new Float32Array(size)),
      (e) => e instanceof ModelFormatError && e.message.includes(`tensor "${name}"`),
    );
    p.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model.qsp over HTTP is read in parts with Range requests and gives the safetensors' logits", async () => {
  const { bytes } = await packSparseModel(pruned);
  const log: string[] = [];
  const server = serveRanges({
    "config.json": await Deno.readFile(`${FIXTURE}/config.json`),
    "model.qsp": bytes as Uint8Array<ArrayBuffer>,
  }, log);
  try {
    const m = await loadMamba(`http://127.0.0.1:${server.addr.port}`);
    deepStrictEqual([...m.forward(PROMPT)], await logits({ "model.safetensors": pruned }));
    m.dispose();
    const reads = log.filter((l) => l.startsWith("model.qsp"));
    ok(reads.length > 0 && reads.every((l) => !l.endsWith("full")), reads.join(", "));
  } finally {
    await server.shutdown();
  }
});

Deno.test("a safetensors package keeps the file's metadata beside the tensors it does not pack", async () => {
  const { bytes } = await packSparseModel(pruned);
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  const dataStart = Math.ceil((16 + length) / 8) * 8;
  const inner = bytes.subarray(
    dataStart + header.model.offset,
    dataStart + header.model.offset + header.model.bytes,
  );
  const innerLength = Number(new DataView(inner.buffer, inner.byteOffset).getBigUint64(0, true));
  const innerHeader = JSON.parse(new TextDecoder().decode(inner.subarray(8, 8 + innerLength)));
  const original = JSON.parse(
    new TextDecoder().decode(
      pruned.subarray(
        8,
        8 + Number(new DataView(pruned.buffer, pruned.byteOffset).getBigUint64(0, true)),
      ),
    ),
  );
  ok(original.__metadata__, "the pruned fixture has metadata");
  deepStrictEqual(innerHeader.__metadata__, original.__metadata__);
});
