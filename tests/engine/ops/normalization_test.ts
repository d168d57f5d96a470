/**
 * Normalisation ops end to end: BatchNormalization (constant and runtime statistics),
 * LayerNormalization (axes, optional bias, Mean/InvStdDev outputs, broadcast scale),
 * RMSNormalization, InstanceNormalization, GroupNormalization (per-channel and per-group
 * parameters), zero-size inputs, and typed errors / check reasons.
 */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import {
  batchNormReference,
  groupNormReference,
  layerNormReference,
  rmsNormReference,
} from "../../reference/norm.ts";
import { f32, i64, node, opFor, runNode } from "./_elementwise_harness.ts";

const TOL = { rtol: 1e-5, atol: 1e-5 };
const size = (d: number[]) => d.reduce((a, b) => a * b, 1);

for (const variant of VARIANTS) {
  Deno.test(`BatchNormalization with constant and runtime statistics: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(107);
    for (const dims of [[2, 3, 4, 5], [1, 8], [2, 16, 7], [1, 5, 1, 1, 3]]) {
      const c = dims[1];
      const x = f32(rng.floats(size(dims), -3, 3), dims);
      const [scale, bias, mean] = [rng.floats(c), rng.floats(c), rng.floats(c)].map((v) => f32(v));
      const variance = f32(rng.floats(c, 0.1, 2));
      const eps = 1e-3;
      const want = batchNormReference(
        x.data,
        dims,
        scale.data,
        bias.data,
        mean.data,
        variance.data,
        eps,
      );
      for (const known of [[1, 2, 3, 4], []]) {
        const { outputs: [y] } = runNode(kr, node("BatchNormalization", 5, { epsilon: eps }), [
          x,
          scale,
          bias,
          mean,
          variance,
        ], { known });
        assertClose(y.data as Float32Array, want, TOL, `BN [${dims}] known ${known}`);
      }
    }
    const empty = runNode(kr, node("BatchNormalization", 5), [
      f32([], [0, 2, 3]),
      f32([1, 1]),
      f32([0, 0]),
      f32([0, 0]),
      f32([1, 1]),
    ]);
    assertEquals([...empty.outputs[0].dims], [0, 2, 3]);
  });

  Deno.test(`LayerNormalization over trailing axes with optional outputs: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(109);
    const dims = [2, 3, 4, 5];
    const x = f32(rng.floats(size(dims), -2, 2), dims);
    for (const axis of [-1, -2, 1, 0, 3]) {
      const a = axis < 0 ? axis + 4 : axis;
      const normalized = dims.slice(a);
      const scale = f32(rng.floats(size(normalized), 0.5, 1.5), normalized);
      const bias = f32(rng.floats(size(normalized)), normalized);
      for (const withBias of [true, false]) {
        const n = node("LayerNormalization", withBias ? 3 : 2, { axis, epsilon: 1e-4 }, 3);
        const { outputs } = runNode(kr, n, withBias ? [x, scale, bias] : [x, scale], {
          known: [1, 2],
        });
        const want = layerNormReference(
          x.data,
          dims,
          a,
          scale.data,
          withBias ? bias.data : undefined,
          1e-4,
        );
        const what = `LayerNorm axis ${axis} bias ${withBias}`;
        assertClose(outputs[0].data as Float32Array, want.y, TOL, what);
        const statDims = [...dims.slice(0, a), ...normalized.map(() => 1)];
        assertEquals([...outputs[1].dims], statDims);
        assertClose(outputs[1].data as Float32Array, want.mean, TOL, `${what} mean`);
        assertClose(
          outputs[2].data as Float32Array,
          want.invStd,
          { rtol: 1e-5, atol: 0 },
          `${what} invstd`,
        );
      }
    }
    // A scale broadcast along the normalised shape ([5] over [4, 5]) is expanded.
    const scale = f32(rng.floats(5, 0.5, 1.5));
    const { outputs: [y] } = runNode(kr, node("LayerNormalization", 2, { axis: 2 }), [x, scale]);
    const full = Float32Array.from({ length: 20 }, (_, i) => scale.data[i % 5]);
    assertClose(
      y.data as Float32Array,
      layerNormReference(x.data, dims, 2, full, undefined, 1e-5).y,
      TOL,
    );
  });

  Deno.test(`RMSNormalization (Mamba's RMSNorm): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(113);
    for (
      const [dims, axis] of [[[1, 768], -1], [[2, 3, 17], -1], [[2, 3, 4], 1], [[5], 0]] as [
        number[],
        number,
      ][]
    ) {
      const a = axis < 0 ? axis + dims.length : axis;
      const normalized = dims.slice(a);
      const x = f32(rng.floats(size(dims), -2, 2), dims);
      const scale = f32(rng.floats(size(normalized), 0.5, 1.5), normalized);
      const { outputs: [y] } = runNode(kr, node("RMSNormalization", 2, { axis, epsilon: 1e-6 }), [
        x,
        scale,
      ]);
      assertClose(
        y.data as Float32Array,
        rmsNormReference(x.data, dims, a, scale.data, 1e-6),
        TOL,
        `RMS [${dims}] axis ${axis}`,
      );
    }
  });

  Deno.test(`InstanceNormalization and GroupNormalization: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(127);
    for (const dims of [[2, 6, 5, 3], [1, 4, 17], [1, 8, 1, 1]]) {
      const c = dims[1];
      const x = f32(rng.floats(size(dims), -3, 3), dims);
      const scale = f32(rng.floats(c, 0.5, 1.5));
      const bias = f32(rng.floats(c));
      const { outputs: [yi] } = runNode(kr, node("InstanceNormalization", 3, { epsilon: 1e-4 }), [
        x,
        scale,
        bias,
      ]);
      assertClose(
        yi.data as Float32Array,
        groupNormReference(x.data, dims, c, scale.data, bias.data, 1e-4),
        TOL,
        `Instance [${dims}]`,
      );
      for (const groups of [1, 2, c]) {
        const attrs = { num_groups: groups, epsilon: 1e-4 };
        const { outputs: [y] } = runNode(kr, node("GroupNormalization", 3, attrs), [
          x,
          scale,
          bias,
        ]);
        const want = groupNormReference(x.data, dims, groups, scale.data, bias.data, 1e-4);
        assertClose(y.data as Float32Array, want, TOL, `Group [${dims}] G=${groups}`);
        // Opset 18: one scale and bias per group.
        const gs = f32(rng.floats(groups, 0.5, 1.5));
        const gb = f32(rng.floats(groups));
        const { outputs: [y18] } = runNode(kr, node("GroupNormalization", 3, attrs), [x, gs, gb]);
        const cpg = c / groups;
        const per = (v: Float32Array) =>
          Float32Array.from({ length: c }, (_, k) => v[Math.floor(k / cpg)]);
        assertClose(
          y18.data as Float32Array,
          groupNormReference(x.data, dims, groups, per(gs.data), per(gb.data), 1e-4),
          TOL,
          `Group18 G=${groups}`,
        );
      }
    }
  });
}

Deno.test("normalisation ops reject bad inputs with typed errors and check reasons", async () => {
  const kr = await kernelsFor("simd");
  const x = f32(new Array(24).fill(1), [2, 3, 4]);
  const p3 = f32([1, 1, 1]);
  throws(
    () => runNode(kr, node("BatchNormalization", 5), [x, p3, p3, p3, f32([1, 1])]),
    (e: Error) =>
      e instanceof ShapeError &&
      /\(BatchNormalization\): input "input_var" has dims \[2\], expected 3 values/.test(e.message),
  );
  throws(
    () => runNode(kr, node("BatchNormalization", 5), [f32([1, 2, 3]), p3, p3, p3, p3]),
    ShapeError,
  );
  throws(
    () => runNode(kr, node("BatchNormalization", 5), [x, p3, p3, p3, i64([1, 1, 1])]),
    DTypeError,
  );
  const bn = node("BatchNormalization", 5, { training_mode: 1 }, 3);
  assertEquals(opFor("BatchNormalization").check!(bn, 15), [
    "training_mode 1 is not supported (inference only)",
    "the running statistics outputs (training mode) are not supported",
  ]);
  assertEquals(
    runNode(kr, node("BatchNormalization", 5, { spatial: 0 }), [x, p3, p3, p3, p3]).reasons,
    ["spatial 0 is not supported"],
  );
  throws(() => runNode(kr, node("LayerNormalization", 2), [x, f32([1, 1, 1])]), ShapeError);
  throws(() => runNode(kr, node("LayerNormalization", 2, { axis: 3 }), [x, f32([1])]), ShapeError);
  throws(() => runNode(kr, node("RMSNormalization", 2), [x, f32([1, 1])]), ShapeError);
  throws(
    () => runNode(kr, node("GroupNormalization", 3, { num_groups: 2 }), [x, p3, p3]),
    /num_groups 2 does not divide the 3 channels/,
  );
  throws(
    () => runNode(kr, node("InstanceNormalization", 3), [x, f32([1, 1]), f32([1, 1])]),
    ShapeError,
  );
  const g0 = node("GroupNormalization", 3, { num_groups: 0 });
  assertEquals(opFor("GroupNormalization").check!(g0, 21), [
    "num_groups must be a positive integer",
  ]);
});
