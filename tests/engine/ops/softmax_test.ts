/**
 * Softmax and LogSoftmax end to end: every axis, both axis semantics (coerce-to-2D before
 * opset 13, single axis from 13), stability on huge logits, zero-size and typed errors.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { softmaxReference } from "../../reference/norm.ts";
import { f32, i64, node, runNode } from "./_elementwise_harness.ts";

for (const variant of VARIANTS) {
  Deno.test(`Softmax and LogSoftmax on every axis, both opset semantics: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(97);
    for (const dims of [[5], [3, 7], [2, 3, 4, 5], [1, 21, 9, 9], [2, 1, 17]]) {
      const x = f32(rng.floats(dims.reduce((a, b) => a * b, 1), -10, 10), dims);
      for (const type of ["Softmax", "LogSoftmax"]) {
        const log = type === "LogSoftmax";
        for (let axis = -dims.length; axis < dims.length; axis++) {
          const a = axis < 0 ? axis + dims.length : axis;
          for (const opset of [11, 13]) {
            const { outputs: [y] } = runNode(kr, node(type, 1, { axis }), [x], { opset });
            const want = softmaxReference(x.data, dims, a, log, opset < 13);
            assertClose(
              y.data as Float32Array,
              want,
              { rtol: 2e-6, atol: 1e-6 },
              `${type} [${dims}] axis ${axis} opset ${opset}`,
            );
          }
        }
        // Defaults: axis 1 coerced before 13, the last axis after.
        if (dims.length > 1) {
          const y11 = runNode(kr, node(type, 1), [x], { opset: 11 }).outputs[0];
          const want11 = softmaxReference(x.data, dims, 1, log, true);
          assertClose(y11.data as Float32Array, want11, { rtol: 2e-6, atol: 1e-6 });
        }
        const y13 = runNode(kr, node(type, 1), [x], { opset: 13 }).outputs[0];
        assertClose(
          y13.data as Float32Array,
          softmaxReference(x.data, dims, dims.length - 1, log),
          { rtol: 2e-6, atol: 1e-6 },
        );
      }
    }
  });

  Deno.test(`Softmax is stable for huge logits and handles zero-size input: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const x = f32([1000, 1001, 1002, -1e30, 0, -Infinity], [2, 3]);
    const y = runNode(kr, node("Softmax", 1), [x]).outputs[0];
    assertClose(y.data as Float32Array, softmaxReference(x.data, [2, 3], 1, false), {
      rtol: 1e-6,
      atol: 1e-7,
    });
    const l = runNode(kr, node("LogSoftmax", 1), [x]).outputs[0];
    assertClose(
      l.data.subarray(0, 3) as Float32Array,
      softmaxReference(x.data, [2, 3], 1, true).subarray(0, 3),
      { rtol: 1e-6, atol: 1e-6 },
    );
    const empty = runNode(kr, node("Softmax", 1, { axis: 0 }), [f32([], [0, 4])]).outputs[0];
    assertEquals([...empty.dims], [0, 4]);
  });
}

Deno.test("Softmax rejects bad axes and types", async () => {
  const kr = await kernelsFor("simd");
  throws(
    () => runNode(kr, node("Softmax", 1, { axis: 2 }), [f32([1, 2], [1, 2])]),
    (e: Error) =>
      e instanceof ShapeError &&
      /Node "softmax_\d+" \(Softmax\): axis 2 is out of range/.test(e.message),
  );
  throws(() => runNode(kr, node("LogSoftmax", 1), [i64([1, 2])]), DTypeError);
});
