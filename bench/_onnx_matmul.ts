/**
 * A one-node ONNX model C = A · B with B a float32 initializer, encoded with a few lines of
 * protobuf wire format so the GEMM bench needs nothing else. Field numbers are the ONNX IR's.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function field(num: number, payload: Uint8Array | number[] | string): number[] {
  const bytes = typeof payload === "string" ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
}

function intField(num: number, v: number): number[] {
  return [...varint(num << 3), ...varint(v)];
}

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => field(1, intField(1, d)));
  const tensorType = [...intField(1, 1), ...field(2, shape)];
  return [...field(1, name), ...field(2, field(1, tensorType))];
}

/** Encodes MatMul(a [m,k], b [k,n] constant) → c [m,n], opset 17. */
export function encodeMatMulModel(m: number, k: number, n: number, b: Float32Array): Uint8Array {
  const node = [...field(1, "a"), ...field(1, "b"), ...field(2, "c"), ...field(4, "MatMul")];
  const init = [
    ...intField(1, k),
    ...intField(1, n),
    ...intField(2, 1),
    ...field(8, "b"),
    ...field(9, new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  ];
  const graph = [
    ...field(1, node),
    ...field(2, "matmul"),
    ...field(5, init),
    ...field(11, valueInfo("a", [m, k])),
    ...field(12, valueInfo("c", [m, n])),
  ];
  const model = [...intField(1, 8), ...field(8, intField(2, 17)), ...field(7, graph)];
  return new Uint8Array(model);
}
