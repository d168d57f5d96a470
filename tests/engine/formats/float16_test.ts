import { deepStrictEqual, ok } from "node:assert/strict";
import {
  float16ToFloat32,
  float32ToFloat16,
  fromFloat16Bits,
} from "../../../engine/formats/float16.ts";
import { Random } from "../../_random.ts";
import { parseSafetensors } from "../../../engine/formats/safetensors/safetensors.ts";
import { isFloat16Origin } from "../../../engine/weights/f16_gemv.ts";

// The host's own float16 support (Math.f16round, Float16Array) is the independent reference.
// float16ToFloat32 widens through the host's Float16Array where there is one (as here), so
// fromFloat16Bits, the scalar path of hosts without it, is checked on its own below.
declare const Float16Array: {
  new (buffer: ArrayBufferLike): ArrayLike<number>;
};

Deno.test("float16 expansion matches the host's Float16Array for all 65536 bit patterns", () => {
  const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const ours = float16ToFloat32(bits);
  const host = new Float16Array(bits.buffer);
  for (let i = 0; i < bits.length; i++) {
    if (Number.isNaN(host[i])) ok(Number.isNaN(ours[i]) && Number.isNaN(fromFloat16Bits(i)));
    else {
      ok(Object.is(ours[i], host[i]), `bits 0x${i.toString(16)}: ${ours[i]} vs ${host[i]}`);
      ok(Object.is(fromFloat16Bits(i), host[i]), `scalar, bits 0x${i.toString(16)}`);
    }
  }
});

Deno.test("float32 → float16 rounds like Math.f16round (nearest, ties to even, overflow to Inf)", () => {
  const rng = new Random(16);
  const edge = [
    0,
    -0,
    1,
    -1,
    65504,
    65519.99,
    65520,
    -65520,
    1e9,
    -1e9,
    Infinity,
    -Infinity,
    NaN,
    6.1e-5,
    6.0975552e-5,
    5.96e-8,
    2.98e-8,
    2.9802322387695312e-8,
    8.9e-8,
    1e-10,
    -1e-10,
    1.00048828125,
    1.000732421875,
    1.0009765625,
    2049,
    2051,
    0.1,
    1 / 3,
  ];
  const values = new Float32Array([
    ...edge,
    ...Array.from({ length: 20000 }, () => (rng.next() - 0.5) * 2 ** rng.int(-30, 20)),
  ]);
  const halves = float32ToFloat16(values);
  const back = float16ToFloat32(halves);
  const f16round = (Math as unknown as { f16round(x: number): number }).f16round;
  for (let i = 0; i < values.length; i++) {
    const want = f16round(values[i]);
    if (Number.isNaN(want)) ok(Number.isNaN(back[i]), `${values[i]}`);
    else ok(Object.is(back[i], want), `${values[i]}: got ${back[i]}, want ${want}`);
  }
  deepStrictEqual(
    float32ToFloat16(new Float32Array([1, -2, 65504])),
    new Uint16Array([0x3c00, 0xc000, 0x7bff]),
  );
});

Deno.test("safetensors F16 and BF16 expand exactly; F16 tensors are marked as halves for the f16 GEMV", () => {
  const halves = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]); // 1, -2, 2^-24, 65504
  const header = new TextEncoder().encode(JSON.stringify({
    h: { dtype: "F16", shape: [4], data_offsets: [0, 8] },
    b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
    f: { dtype: "F32", shape: [1], data_offsets: [12, 16] },
  }));
  const file = new Uint8Array(8 + header.length + 16);
  new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
  file.set(header, 8);
  const data = new DataView(file.buffer, 8 + header.length);
  halves.forEach((h, i) => data.setUint16(2 * i, h, true));
  data.setUint16(8, 0x3f80, true); // bf16 1
  data.setUint16(10, 0xc040, true); // bf16 -3
  data.setFloat32(12, 0.5, true);
  const t = parseSafetensors(file, "t.safetensors");
  deepStrictEqual([...t.get("h")!.data], [1, -2, 2 ** -24, 65504]);
  deepStrictEqual([...t.get("b")!.data], [1, -3]);
  deepStrictEqual(
    ["h", "b", "f"].map((n) => isFloat16Origin(t.get(n))),
    [true, false, false],
  );
});
