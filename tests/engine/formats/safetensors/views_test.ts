import { deepStrictEqual, notStrictEqual, strictEqual } from "node:assert/strict";
import { parseSafetensors } from "../../../../engine/formats/safetensors/safetensors.ts";
import { writeSafetensors } from "../../../../engine/formats/safetensors/write.ts";
import { toFloat16Bits } from "../../../../engine/formats/float16.ts";

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer.slice(0));

// w at data offset 0 (the header is padded to 8 bytes: aligned), then 3 halves (6 bytes), so x
// starts at data offset 30: not aligned for a Float32Array view.
const w = new Float32Array([1.5, -2, 0, 3.25, 7, -0.5]);
const halves = new Uint16Array([0.5, -1, 2].map(toFloat16Bits));
const x = new Float32Array([9, -8]);
const file = writeSafetensors([
  { name: "w", dtype: "F32", shape: [2, 3], data: bytesOf(w) },
  { name: "h", dtype: "F16", shape: [3], data: bytesOf(halves) },
  { name: "x", dtype: "F32", shape: [2], data: bytesOf(x) },
]);

Deno.test("parseSafetensors views: aligned F32 tensors share the file's bytes, the rest are copies, values alike", () => {
  const copies = parseSafetensors(file);
  const views = parseSafetensors(file, "model.safetensors", { views: true });
  for (const name of ["w", "h", "x"]) {
    deepStrictEqual([...views.get(name)!.data], [...copies.get(name)!.data], name);
    deepStrictEqual(views.get(name)!.dims, copies.get(name)!.dims, name);
    notStrictEqual(copies.get(name)!.data.buffer, file.buffer, `${name} copied by default`);
  }
  strictEqual(views.get("w")!.data.buffer, file.buffer, "aligned F32: a view");
  notStrictEqual(views.get("x")!.data.buffer, file.buffer, "unaligned F32: a copy");
  notStrictEqual(views.get("h")!.data.buffer, file.buffer, "F16: converted");
  // The same file one byte into a larger buffer: nothing is aligned, everything is copied.
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  const moved = parseSafetensors(shifted.subarray(1), "model.safetensors", { views: true });
  for (const name of ["w", "h", "x"]) {
    deepStrictEqual([...moved.get(name)!.data], [...copies.get(name)!.data], name);
    notStrictEqual(moved.get(name)!.data.buffer, shifted.buffer, name);
  }
});
