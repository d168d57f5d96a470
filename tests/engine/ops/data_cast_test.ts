import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError } from "../../../engine/errors.ts";
import {
  castLikeOp,
  castOpImpl,
  fromFloat16Bits,
  ONNX_TYPE_CODES,
  toFloat16Bits,
} from "../../../engine/ops/cast.ts";
import type { Node } from "../../../engine/ir/graph.ts";
import type { KnownOutput } from "../../../engine/ops/_node_params.ts";
import type { InputInfo } from "../../../engine/ops/op.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { kernelsFor } from "../../_kernels.ts";
import { build } from "../../reference/data.ts";
import { assertTensorEqual, makeNode, Random, runOp } from "./_data_harness.ts";

const CODE: Record<string, number> = Object.fromEntries(
  Object.entries(ONNX_TYPE_CODES).map(([k, v]) => [v, Number(k)]),
);

/** Cast of one value by the definition (float64 arithmetic, C-style wrapping on integers). */
function castValue(x: number | bigint, from: DType, to: DType): number | bigint {
  const v = from === "float16" ? fromFloat16Bits(Number(x)) : x;
  if (to === "bool") return v !== 0 && v !== 0n ? 1 : 0;
  if (to === "float32") return Math.fround(Number(v));
  if (to === "float16") {
    // Nearest half by search over all finite halves (ties to the even pattern).
    const f = Math.fround(Number(v));
    // IEEE rounding overflows to infinity from halfway past the largest finite half (65504).
    if (Math.abs(f) >= 65520) return f > 0 ? 0x7c00 : 0xfc00;
    let best = 0;
    let err = Infinity;
    for (let h = 0; h < 0x7c00; h++) {
      for (const s of [h, h | 0x8000]) {
        const e = Math.abs(fromFloat16Bits(s) - f);
        if (e < err || (e === err && (s & 1) === 0 && (best & 1) === 1)) [best, err] = [s, e];
      }
    }
    return Object.is(f, -0) ? 0x8000 : best;
  }
  const t = typeof v === "bigint" ? v : BigInt(Math.trunc(v));
  if (to === "int64") return t;
  if (to === "int32") return Number(BigInt.asIntN(32, t));
  if (to === "int8") return Number(BigInt.asIntN(8, t));
  return Number(BigInt.asUintN(8, t));
}

function sample(rng: Random, type: DType, n: number): Tensor {
  return build(type, [n], () => {
    switch (type) {
      case "float32":
        return Math.fround(rng.uniform(-300, 300));
      case "float16":
        return toFloat16Bits(rng.uniform(-300, 300));
      case "int64":
        return BigInt(rng.int(-100000, 100000));
      case "int32":
        return rng.int(-100000, 100000);
      case "int8":
        return rng.int(-128, 127);
      case "uint8":
        return rng.int(0, 255);
      case "bool":
        return rng.int(0, 1);
    }
  });
}

Deno.test("Cast converts between every pair of stored types by the definition", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(51);
  const types = Object.values(ONNX_TYPE_CODES);
  for (const from of types) {
    for (const to of types) {
      const x = sample(rng, from, 37);
      if (from !== "bool") x.data[3] = from === "int64" ? 0n : 0;
      const want = build(to, [37], (i) => castValue(x.data[i], from, to));
      const node = makeNode("Cast", 1, 1, { to: CODE[to] });
      const r = runOp(kr, castOpImpl, node, [x], { known: [0] });
      assertTensorEqual(r.outputs[0], want, `${from} -> ${to}`);
      assertTensorEqual(r.inferred[0].value!, want, `${from} -> ${to} folded`);
      const like = runOp(kr, castLikeOp, makeNode("CastLike", 2), [x, build(to, [0], () => 0)]);
      assertTensorEqual(like.outputs[0], want, `CastLike ${from} -> ${to}`);
    }
  }
});

Deno.test("Cast: truncation toward zero, NaN/overflow to the integer minimum, NaN is true", () => {
  const fold = (n: Node, i: InputInfo[]) =>
    (castOpImpl.inferShapes(n, i) as KnownOutput[])[0].value!;
  const node = makeNode("Cast", 1, 1, { to: 7 });
  const x = new Tensor("float32", new Float32Array([2.9, -2.9, NaN, 1e30, -0.5]), [5]);
  const info = { type: "float32" as const, dims: [5], value: x };
  deepStrictEqual(
    Array.from(fold(makeNode("Cast", 1, 1, { to: 6 }), [info]).data as Int32Array),
    [2, -2, -2147483648, -2147483648, 0],
  );
  const i64 = fold(node, [info]).data as BigInt64Array;
  deepStrictEqual(Array.from(i64), [2n, -2n, -(2n ** 63n), -(2n ** 63n), 0n]);
  const b = fold(makeNode("Cast", 1, 1, { to: 9 }), [info]).data as Uint8Array;
  deepStrictEqual(Array.from(b), [1, 1, 1, 1, 1]);
});

Deno.test("Cast reports unsupported targets", () => {
  const node = makeNode("Cast", 1, 1, { to: 11 });
  deepStrictEqual(castOpImpl.check!(node, 13), ['casting to "double" is not supported']);
  throws(() => castOpImpl.inferShapes(node, [{ type: "float32", dims: [1] }]), DTypeError);
  deepStrictEqual(castOpImpl.check!(makeNode("Cast", 1), 13), ['the "to" attribute is required']);
});
