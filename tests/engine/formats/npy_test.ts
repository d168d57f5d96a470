import { deepStrictEqual, throws } from "node:assert/strict";
import { decodeNpy, encodeNpy } from "../../../engine/formats/npy.ts";
import { ModelFormatError } from "../../../engine/errors.ts";
import { Tensor } from "../../../engine/tensor.ts";

// Bytes numpy 1.x writes for np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)): header built by
// hand from the format description (magic, version, little-endian header length, dict, padding).
function numpyBytes(descr: string, shape: string, data: Uint8Array): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  h = h.padEnd(Math.ceil((h.length + 11) / 64) * 64 - 11) + "\n";
  const head = new TextEncoder().encode(h);
  const out = new Uint8Array(10 + head.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, head.length & 255, head.length >> 8]);
  out.set(head, 10);
  out.set(data, 10 + head.length);
  return out;
}

Deno.test("npy: reads numpy's layout and round-trips every dtype", () => {
  const f = new Float32Array([0, 1, 2, 3, 4, 5]);
  const t = decodeNpy(numpyBytes("<f4", "(2, 3)", new Uint8Array(f.buffer)));
  deepStrictEqual([t.type, t.dims, [...t.data as Float32Array]], ["float32", [2, 3], [
    0,
    1,
    2,
    3,
    4,
    5,
  ]]);
  const d = decodeNpy(
    numpyBytes("<f8", "(2,)", new Uint8Array(new Float64Array([1.5, -2]).buffer)),
  );
  deepStrictEqual([d.type, [...d.data as Float32Array]], ["float32", [1.5, -2]]);
  const scalar = decodeNpy(numpyBytes("<i8", "()", new Uint8Array(new BigInt64Array([7n]).buffer)));
  deepStrictEqual([scalar.dims, scalar.data[0]], [[], 7n]);
  const cases = [
    new Tensor("float32", new Float32Array([1, -2, 3.5]), [3]),
    new Tensor("int64", new BigInt64Array([1n, -2n]), [2, 1]),
    new Tensor("int32", new Int32Array([5, 6, 7, 8]), [2, 2]),
    new Tensor("uint8", new Uint8Array([255, 0]), [1, 2]),
    new Tensor("bool", new Uint8Array([1, 0, 1]), [3]),
    new Tensor("float32", new Float32Array(0), [0, 4]),
  ];
  for (const c of cases) {
    const bytes = encodeNpy(c);
    deepStrictEqual((bytes.length - c.data.byteLength) % 64, 0);
    const back = decodeNpy(bytes);
    deepStrictEqual([back.type, back.dims, [...back.data as ArrayLike<unknown> as number[]]], [
      c.type,
      c.dims,
      [...c.data as ArrayLike<unknown> as number[]],
    ]);
  }
});

Deno.test("npy: malformed files are ModelFormatErrors naming the file", () => {
  const good = encodeNpy(new Tensor("float32", new Float32Array(4), [4]));
  throws(
    () => decodeNpy(new Uint8Array(5), "a.npy"),
    (e) => e instanceof ModelFormatError && /"a\.npy"/.test(e.message),
  );
  throws(() => decodeNpy(good.subarray(0, good.length - 1)), /truncated/);
  throws(() => decodeNpy(good.subarray(0, 20)), /truncated/);
  throws(() => decodeNpy(numpyBytes("<c8", "(1,)", new Uint8Array(8))), /dtype "<c8"/);
  throws(() => decodeNpy(numpyBytes("<f4", "(-1,)", new Uint8Array(0))), /not a size/);
  throws(
    () => decodeNpy(numpyBytes("<f4", "(1099511627776,)", new Uint8Array(0))),
    /not a size|elements/,
  );
});
