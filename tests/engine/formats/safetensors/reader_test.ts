import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { ModelFormatError } from "../../../../engine/errors.ts";
import {
  bytesAsRanges,
  openSafetensors,
  safetensorsIn,
} from "../../../../engine/formats/safetensors/reader.ts";
import { writeSafetensors } from "../../../../engine/formats/safetensors/write.ts";
import { fromFloat16Bits, toFloat16Bits } from "../../../../engine/formats/float16.ts";
import { isMissingSource } from "../../../../engine/formats/read_source.ts";

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer.slice(0));

// w at data offset 0 (the header is padded to 8 bytes: aligned), then 3 halves (6 bytes), so x
// starts at data offset 30: not aligned for a Float32Array view; then 2 bfloat16.
const w = new Float32Array([1.5, -2, 0, 3.25, 7, -0.5]);
const halves = [0.5, -1, 65504];
const x = new Float32Array([9, -8]);
const bf = new Float32Array([-3.5, 1 / 3]);
const bfBits = new Uint16Array(new Uint32Array(bf.buffer).map((u) => u >>> 16));
const file = writeSafetensors([
  { name: "w", dtype: "F32", shape: [2, 3], data: bytesOf(w) },
  {
    name: "h",
    dtype: "F16",
    shape: [3],
    data: bytesOf(new Uint16Array(halves.map(toFloat16Bits))),
  },
  { name: "x", dtype: "F32", shape: [2], data: bytesOf(x) },
  { name: "b", dtype: "BF16", shape: [1, 2], data: bytesOf(bfBits) },
]);
// Written from the definitions: bfloat16 keeps a float32's top 16 bits.
const expected: Record<string, number[]> = {
  w: [...w],
  h: halves.map((v) => fromFloat16Bits(toFloat16Bits(v))),
  x: [...x],
  b: [...new Float32Array(new Uint32Array([...bfBits].map((b) => b << 16)).buffer)],
};

/** Reads every tensor into an odd place of a larger buffer (like an arena offset). */
function readAll(
  r: {
    tensors: ReadonlyMap<string, { size: number }>;
    read: (n: string, into: Float32Array) => void;
  },
) {
  const out: Record<string, number[]> = {};
  for (const [name, info] of r.tensors) {
    const into = new Float32Array(new ArrayBuffer(4 * (info.size + 3)), 4, info.size);
    r.read(name, into);
    out[name] = [...into];
  }
  return out;
}

Deno.test("safetensors reader: a local file and the same bytes in memory give every dtype's values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/model.safetensors`, file);
    const local = await openSafetensors(`${dir}/model.safetensors`, "model.safetensors");
    const fromUrl = await openSafetensors(
      new URL(`file://${dir}/model.safetensors`),
      "model.safetensors",
    );
    const inMemory = await safetensorsIn(
      bytesAsRanges(file, "model.safetensors"),
      "model.safetensors",
    );
    for (const r of [local, fromUrl, inMemory]) {
      deepStrictEqual(readAll(r), expected);
      deepStrictEqual(r.tensors.get("b")!.dims, [1, 2]);
      strictEqual(r.tensors.get("h")!.dtype, "F16");
      throws(() => r.read("w", new Float32Array(5)), /tensor "w" is 6 elements, not 5/);
      throws(() => r.read("nope", new Float32Array(1)), /tensor "nope" is missing/);
      r.close();
      throws(() => r.read("x", new Float32Array(2)), ModelFormatError);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors reader: a file cut short after it was opened fails the read, naming the tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    await Deno.writeFile(path, file);
    const r = await openSafetensors(path, "model.safetensors");
    await Deno.truncate(path, file.length - 4);
    deepStrictEqual(readAll({ tensors: new Map([["w", { size: 6 }]]), read: r.read.bind(r) }), {
      w: [...w],
    });
    throws(
      () => r.read("b", new Float32Array(2)),
      (e: Error) =>
        e instanceof ModelFormatError && /tensor "b" ends past the end of the file/.test(e.message),
    );
    r.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors reader: bad local files are typed errors (truncated, lying header, missing, a directory)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const open = (bytes: Uint8Array) =>
      Deno.writeFile(`${dir}/f.safetensors`, bytes).then(() =>
        openSafetensors(`${dir}/f.safetensors`, "f.safetensors")
      );
    await rejects(open(file.subarray(0, 5)), /shorter than its 8-byte header length/);
    await rejects(open(file.subarray(0, 40)), /the header claims \d+ bytes, the file has 32/);
    await rejects(open(file.subarray(0, file.length - 2)), /tensor "b" ends at byte 42, past/);
    const huge = file.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    await rejects(open(huge), /the header claims 1099511627776 bytes/);
    const missing = await openSafetensors(`${dir}/none.safetensors`, "none").catch((e) => e);
    ok(missing instanceof ModelFormatError && isMissingSource(missing), String(missing));
    await rejects(
      openSafetensors(dir, "model.safetensors"),
      (e: Error) => e instanceof ModelFormatError && /is a directory/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
