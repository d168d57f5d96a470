import { deepStrictEqual, throws } from "node:assert/strict";
import { InvalidArgumentError } from "../../../../engine/errors.ts";
import { parseSafetensors } from "../../../../engine/formats/safetensors/safetensors.ts";
import { writeSafetensors } from "../../../../engine/formats/safetensors/write.ts";
import { toFloat16Bits } from "../../../../engine/formats/float16.ts";
import { isFloat16Origin } from "../../../../engine/weights/f16_gemv.ts";

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer.slice(0));

/** The header read by hand from the format's definition, independent of parseSafetensors. */
function readHeader(file: Uint8Array): { length: number; json: Record<string, unknown> } {
  let length = 0;
  for (let i = 7; i >= 0; i--) length = length * 256 + file[i];
  return { length, json: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) };
}

Deno.test("writeSafetensors: round trip through parseSafetensors and a by-hand header read", () => {
  const w = new Float32Array([1.5, -2, 0, 3.25, 7, -0.5]);
  const halves = new Uint16Array([0.5, -1, 65504, 2 ** -24].map(toFloat16Bits));
  const bf16 = new Uint16Array([0x3f80, 0xc000]); // 1, -2
  const scalar = new Float32Array([42]);
  const file = writeSafetensors([
    { name: "w", dtype: "F32", shape: [2, 3], data: bytesOf(w) },
    { name: "h", dtype: "F16", shape: [4], data: bytesOf(halves) },
    { name: "b", dtype: "BF16", shape: [1, 2], data: bytesOf(bf16) },
    { name: "s", dtype: "F32", shape: [], data: bytesOf(scalar) },
    { name: "empty", dtype: "F32", shape: [0, 5], data: new Uint8Array(0) },
  ], { format: "pt", note: "ü ✓" });
  const { length, json } = readHeader(file);
  deepStrictEqual(length % 8, 0);
  // Padding is spaces, and the data starts right after the padded header.
  const text = new TextDecoder().decode(file.subarray(8, 8 + length));
  deepStrictEqual(/^\{.*\} *$/s.test(text), true);
  deepStrictEqual(json.__metadata__, { format: "pt", note: "ü ✓" });
  deepStrictEqual(json.w, { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
  deepStrictEqual(json.h, { dtype: "F16", shape: [4], data_offsets: [24, 32] });
  deepStrictEqual(json.b, { dtype: "BF16", shape: [1, 2], data_offsets: [32, 36] });
  deepStrictEqual(json.s, { dtype: "F32", shape: [], data_offsets: [36, 40] });
  deepStrictEqual(json.empty, { dtype: "F32", shape: [0, 5], data_offsets: [40, 40] });
  deepStrictEqual(file.length, 8 + length + 40);
  const data = file.subarray(8 + length);
  deepStrictEqual([...data.subarray(0, 24)], [...bytesOf(w)]);
  deepStrictEqual([...data.subarray(24, 32)], [...bytesOf(halves)]);

  const parsed = parseSafetensors(file);
  deepStrictEqual([...parsed.keys()].sort(), ["b", "empty", "h", "s", "w"]);
  deepStrictEqual([...parsed.get("w")!.data], [...w]);
  deepStrictEqual(parsed.get("w")!.dims, [2, 3]);
  deepStrictEqual([...parsed.get("h")!.data], [0.5, -1, 65504, 2 ** -24]);
  deepStrictEqual(isFloat16Origin(parsed.get("h")), true);
  deepStrictEqual([...parsed.get("b")!.data], [1, -2]);
  deepStrictEqual(parsed.get("s")!.dims, []);
  deepStrictEqual([...parsed.get("s")!.data], [42]);
  deepStrictEqual(parsed.get("empty")!.dims, [0, 5]);
});

Deno.test("writeSafetensors: no or empty metadata writes no __metadata__; no tensors is valid", () => {
  for (const metadata of [undefined, {}]) {
    const file = writeSafetensors([], metadata);
    const { length, json } = readHeader(file);
    deepStrictEqual(json, {});
    deepStrictEqual(file.length, 8 + length);
    deepStrictEqual(length, 8); // "{}" padded to 8
    deepStrictEqual(parseSafetensors(file).size, 0);
  }
});

Deno.test("writeSafetensors: header lengths around multiples of 8 pad correctly", () => {
  for (let n = 1; n <= 12; n++) {
    const file = writeSafetensors([
      { name: "x".repeat(n), dtype: "F32", shape: [1], data: bytesOf(new Float32Array([n])) },
    ]);
    const { length } = readHeader(file);
    deepStrictEqual(length % 8, 0);
    deepStrictEqual([...parseSafetensors(file).get("x".repeat(n))!.data], [n]);
  }
});

Deno.test("writeSafetensors: bad entries are InvalidArgumentErrors naming the tensor", () => {
  const four = new Uint8Array(4);
  throws(
    () => writeSafetensors([{ name: "w", dtype: "F32", shape: [2], data: four }]),
    (e) => e instanceof InvalidArgumentError && /"w" has 4 bytes.*needs 8/.test(e.message),
  );
  throws(
    () =>
      writeSafetensors([
        { name: "w", dtype: "F32", shape: [1], data: four },
        { name: "w", dtype: "F32", shape: [1], data: four },
      ]),
    (e) => e instanceof InvalidArgumentError && /"w" is a reserved or repeated/.test(e.message),
  );
  throws(
    () => writeSafetensors([{ name: "__metadata__", dtype: "F32", shape: [1], data: four }]),
    InvalidArgumentError,
  );
  throws(
    () => writeSafetensors([{ name: "w", dtype: "F32", shape: [-1], data: four }]),
    (e) => e instanceof InvalidArgumentError && /invalid shape/.test(e.message),
  );
  throws(
    // deno-lint-ignore no-explicit-any
    () => writeSafetensors([{ name: "w", dtype: "I8" as any, shape: [4], data: four }]),
    (e) => e instanceof InvalidArgumentError && /dtype "I8"/.test(e.message),
  );
  throws(
    // deno-lint-ignore no-explicit-any
    () => writeSafetensors([], { n: 1 as any }),
    (e) => e instanceof InvalidArgumentError && /metadata "n"/.test(e.message),
  );
});
