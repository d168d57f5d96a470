/**
 * onnxruntime-node (native CPU) as the independent oracle in tests. Deno skips its install
 * script (which would try to download GPU files); the CPU binary ships inside the package.
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import type { Tensor } from "../engine/tensor.ts";

export { ort };

const TYPES: Record<string, string> = {
  float32: "float32",
  int64: "int64",
  int32: "int32",
  bool: "bool",
  uint8: "uint8",
  int8: "int8",
};

/** Runs a model in onnxruntime-node (one thread) and returns its outputs by name. */
export async function runOrt(
  model: Uint8Array | string,
  feeds: Record<string, Tensor>,
): Promise<Record<string, { dims: number[]; data: ArrayLike<number | bigint> }>> {
  const session = await ort.InferenceSession.create(model as Uint8Array, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "disabled",
  });
  try {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) {
      f[k] = new ort.Tensor(TYPES[t.type] as "float32", t.data as Float32Array, [...t.dims]);
    }
    const out = await session.run(f);
    const res: Record<string, { dims: number[]; data: ArrayLike<number | bigint> }> = {};
    for (const [k, v] of Object.entries(out)) {
      res[k] = { dims: [...v.dims], data: v.data as ArrayLike<number | bigint> };
    }
    return res;
  } finally {
    await session.release();
  }
}
