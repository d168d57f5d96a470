import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { DTypeError, InvalidArgumentError, ShapeError } from "../../../engine/errors.ts";
import type { Node } from "../../../engine/ir/graph.ts";
import {
  causalConv1d,
  ops as convOps,
  packCausalConv1dWeights,
  releaseCausalConv1dWeights,
} from "../../../engine/ops/causal_conv1d.ts";
import type { ArenaTensor, InputInfo, Op } from "../../../engine/ops/op.ts";
import { ops as scanOps, selectiveScan } from "../../../engine/ops/selective_scan.ts";
import { Tensor } from "../../../engine/tensor.ts";
import type { Kernels } from "../../../engine/wasm/kernels.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, upload, VARIANTS, withKernels } from "../../_kernels.ts";
import { Random } from "../../_random.ts";
import { causalConv1dReference, selectiveScanReference } from "../../reference/scan.ts";

const TOL = { rtol: 1e-4, atol: 1e-5 };
const [conv, scan] = [convOps[0], scanOps[0]];

function node(op: string, inputs: string[], outputs: string[], attributes = {}): Node {
  return { name: `${op.toLowerCase()}_0`, op, domain: "", inputs, outputs, attributes };
}

/** inferShapes, prepare, run, release, as the executor does; returns the outputs. */
function runOp(
  kr: Kernels,
  op: Op,
  n: Node,
  values: (Tensor | undefined)[],
  constant: boolean[],
): Float32Array[] {
  const infos: (InputInfo | undefined)[] = values.map((v, i) =>
    v ? { type: v.type, dims: [...v.dims], value: constant[i] ? v : undefined } : undefined
  );
  const shapes = op.inferShapes(n, infos);
  const ctx = { kernels: kr };
  const state = op.prepare?.(ctx, n, infos);
  const inputs: (ArenaTensor | undefined)[] = values.map((v) =>
    v ? { type: v.type, dims: [...v.dims], offset: upload(kr, v.data as Float32Array) } : undefined
  );
  const outputs = shapes.map((s) => ({
    type: s.type,
    dims: s.dims,
    offset: kr.arena.alloc(Math.max(s.dims.reduce((a, b) => a * b, 1), 1) * 4),
  }));
  try {
    op.run(ctx, n, inputs, outputs, state);
    return outputs.map((o) => kr.arena.f32(o.offset, o.dims.reduce((a, b) => a * b, 1)).slice());
  } finally {
    op.release?.(ctx, state);
    for (const t of [...inputs, ...outputs]) if (t) kr.arena.free(t.offset);
  }
}

const t = (data: Float32Array, dims: number[]) => new Tensor("float32", data, dims);

for (const variant of VARIANTS) {
  Deno.test(`CausalConv1d op matches the reference, batched, state in and out: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(51);
    for (const [batch, L, D, K] of [[1, 5, 7, 4], [2, 3, 9, 4], [3, 1, 5, 3], [1, 4, 6, 2]]) {
      const x = rng.floats(batch * L * D);
      const w = rng.floats(D * K);
      const bias = rng.floats(D);
      const s0 = rng.floats(batch * (K - 1) * D);
      const n = node("CausalConv1d", ["x", "w", "b", "s"], ["y", "s_out"], {
        activation: "silu",
      });
      const lead = batch > 1 ? [batch] : [];
      const [y, s] = runOp(kr, conv, n, [
        t(x, [...lead, L, D]),
        t(w, [D, 1, K]),
        t(bias, [D]),
        t(s0, [...lead, K - 1, D]),
      ], [false, batch !== 2, true, false]);
      for (let bi = 0; bi < batch; bi++) {
        const want = causalConv1dReference({
          L,
          D,
          K,
          x: x.subarray(bi * L * D, (bi + 1) * L * D),
          w,
          bias,
          state: s0.subarray(bi * (K - 1) * D, (bi + 1) * (K - 1) * D),
          silu: true,
        });
        const what = `batch ${batch} L ${L} D ${D} K ${K} row ${bi}`;
        assertClose(y.subarray(bi * L * D, (bi + 1) * L * D), want.y, TOL, `${what}: y`);
        assertClose(
          s.subarray(bi * (K - 1) * D, (bi + 1) * (K - 1) * D),
          want.state,
          TOL,
          `${what}: state`,
        );
      }
    }
  });

  Deno.test(`SelectiveScan op matches the reference, batched, optional inputs: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(52);
    for (const [batch, L, D, N, full] of [[1, 1, 9, 16, 1], [2, 5, 6, 16, 1], [1, 19, 5, 3, 0]]) {
      const lead = batch > 1 ? [batch] : [];
      const x = rng.floats(batch * L * D);
      const dt = rng.floats(batch * L * D, -4, 0);
      const A = rng.floats(D * N, -8, -0.5);
      const B = rng.floats(batch * L * N);
      const C = rng.floats(batch * L * N);
      const skip = rng.floats(D);
      const z = rng.floats(batch * L * D);
      const bias = rng.floats(D, -1, 1);
      const h0 = rng.floats(batch * D * N);
      const dtPos = dt.map((v) => Math.exp(v) * 0.1);
      const inputs = full
        ? ["x", "dt", "A", "B", "C", "D", "z", "bias", "h0"]
        : ["x", "dt", "A", "B", "C"];
      const n = node("SelectiveScan", inputs, ["y", "h"], { dt_softplus: full });
      const xd = [...lead, L, D];
      const bd = [...lead, L, N];
      const values = [t(x, xd), t(full ? dt : dtPos, xd), t(A, [D, N]), t(B, bd), t(C, bd)];
      if (full) values.push(t(skip, [D]), t(z, xd), t(bias, [D]), t(h0, [...lead, D, N]));
      const [y, h] = runOp(kr, scan, n, values, values.map((_, i) => i === 2));
      for (let bi = 0; bi < batch; bi++) {
        const r = (a: Float32Array, n: number) => a.subarray(bi * n, (bi + 1) * n);
        const want = selectiveScanReference({
          L,
          D,
          N,
          x: r(x, L * D),
          dt: r(full ? dt : dtPos, L * D),
          dtBias: full ? bias : undefined,
          softplus: full === 1,
          A,
          B: r(B, L * N),
          C: r(C, L * N),
          Dskip: full ? skip : undefined,
          z: full ? r(z, L * D) : undefined,
          h0: full ? r(h0, D * N) : undefined,
        });
        const what = `batch ${batch} L ${L} D ${D} N ${N} row ${bi}`;
        assertClose(r(y, L * D), want.y, TOL, `${what}: y`);
        assertClose(r(h, D * N), want.h, TOL, `${what}: h`);
      }
    }
  });
}

Deno.test("causalConv1d on offsets: decode steps continue a prefill", async () => {
  const kr = await kernelsFor("relaxed");
  const rng = new Random(53);
  const [D, K, L] = [24, 4, 6];
  const wHost = rng.floats(D * K);
  const bias = rng.floats(D);
  const x = rng.floats(L * D);
  const w = packCausalConv1dWeights(kr, wHost, D, { bias });
  const state = kr.arena.alloc((K - 1) * D * 4);
  kr.arena.f32(state, (K - 1) * D).fill(0);
  const y = kr.arena.alloc(L * D * 4);
  const px = upload(kr, x);
  causalConv1d(kr, w, { tokens: 4, x: px, state, y, activation: "silu" });
  for (let i = 4; i < L; i++) {
    causalConv1d(kr, w, {
      tokens: 1,
      x: px + i * D * 4,
      state,
      y: y + i * D * 4,
      activation: "silu",
    });
  }
  const want = causalConv1dReference({ L, D, K, x, w: wHost, bias, silu: true });
  assertClose(kr.arena.f32(y, L * D), want.y, TOL, "y");
  assertClose(kr.arena.f32(state, (K - 1) * D), want.state, TOL, "state");
  releaseCausalConv1dWeights(kr, w);
  for (const p of [state, y, px]) kr.arena.free(p);
  throws(() => packCausalConv1dWeights(kr, new Float32Array(10), 4), InvalidArgumentError);
});

Deno.test("selectiveScan over a prompt splits its channels across 2 threads: the same bits as one thread, the reference's values", async () => {
  // Mamba's layout: B and C are column slices of one x_proj row (stride 2N + 8), z the second
  // half of in_proj's row (stride 2D); 262 channels is not a multiple of the split's 4.
  const [L, D, N] = [40, 262, 16];
  const rng = new Random(54);
  const ldbc = 2 * N + 8;
  const x = rng.floats(L * D);
  const dt = rng.floats(L * D, -4, 0);
  const bias = rng.floats(D, -1, 1);
  const A = rng.floats(D * N, -8, -0.5);
  const bc = rng.floats(L * ldbc);
  const skip = rng.floats(D);
  const xz = rng.floats(L * 2 * D);
  const h0 = rng.floats(D * N);
  const run = (kr: Kernels, tokens: number) => {
    const [px, pdt, pb, pA, pbc, pskip, pxz, ph] = [x, dt, bias, A, bc, skip, xz, h0].map((v) =>
      upload(kr, v)
    );
    const py = kr.arena.alloc(L * D * 4);
    selectiveScan(kr, {
      tokens,
      channels: D,
      stateSize: N,
      x: px,
      dt: pdt,
      dtBias: pb,
      softplus: true,
      A: pA,
      B: pbc + 8 * 4,
      ldb: ldbc,
      C: pbc + (8 + N) * 4,
      ldc: ldbc,
      D: pskip,
      z: pxz + D * 4,
      ldz: 2 * D,
      h: ph,
      y: py,
    });
    const out = { y: kr.arena.f32(py, tokens * D).slice(), h: kr.arena.f32(ph, D * N).slice() };
    for (const o of [px, pdt, pb, pA, pbc, pskip, pxz, ph, py]) kr.arena.free(o);
    return out;
  };
  const one = await withKernels(1, (kr) => run(kr, L));
  const two = await withKernels(2, (kr, split) => {
    const r = run(kr, L);
    ok(split(), "the prompt's scan was not split");
    run(kr, 1);
    ok(!split(), "a decode step was split");
    return r;
  });
  assertClose(two.y, one.y, { rtol: 0, atol: 0 }, "y, 2 threads");
  assertClose(two.h, one.h, { rtol: 0, atol: 0 }, "h, 2 threads");
  const col = (v: Float32Array, at: number) =>
    Float32Array.from({ length: L * N }, (_, i) => v[Math.floor(i / N) * ldbc + at + (i % N)]);
  const want = selectiveScanReference({
    L,
    D,
    N,
    x,
    dt,
    dtBias: bias,
    softplus: true,
    A,
    B: col(bc, 8),
    C: col(bc, 8 + N),
    Dskip: skip,
    z: Float32Array.from({ length: L * D }, (_, i) => xz[Math.floor(i / D) * 2 * D + D + (i % D)]),
    h0,
  });
  assertClose(one.y, want.y, TOL, "y");
  assertClose(one.h, want.h, TOL, "h");
});

Deno.test("CausalConv1d and SelectiveScan: zero sizes, typed errors, check", async () => {
  const kr = await kernelsFor("simd");
  const f = (dims: number[]) => ({ type: "float32" as const, dims });
  const cn = node("CausalConv1d", ["x", "w"], ["y"]);
  deepStrictEqual(conv.inferShapes(cn, [f([0, 8]), f([8, 4])]), [f([0, 8])]);
  const empty = runOp(kr, conv, cn, [
    t(new Float32Array(0), [0, 8]),
    t(new Float32Array(32), [8, 4]),
  ], [
    false,
    true,
  ]);
  deepStrictEqual(empty[0].length, 0);
  throws(
    () => conv.inferShapes(cn, [f([3, 8]), f([7, 4])]),
    (e) => e instanceof ShapeError && e.message.includes('Node "causalconv1d_0" (CausalConv1d)'),
  );
  throws(() => conv.inferShapes(cn, [{ type: "int32", dims: [3, 8] }, f([8, 4])]), DTypeError);
  const withState = node("CausalConv1d", ["x", "w", "", "s"], ["y"]);
  throws(
    () => conv.inferShapes(withState, [f([3, 8]), f([8, 4]), undefined, f([4, 8])]),
    ShapeError,
  );
  deepStrictEqual(conv.check!(cn, 1), []);
  ok(conv.check!(node("CausalConv1d", [], [], { activation: "clamp" }), 1).length === 1);

  const sn = node("SelectiveScan", ["x", "dt", "A", "B", "C"], ["y", "h"]);
  deepStrictEqual(
    scan.inferShapes(sn, [f([0, 4]), f([0, 4]), f([4, 16]), f([0, 16]), f([0, 16])]),
    [
      f([0, 4]),
      f([4, 16]),
    ],
  );
  throws(
    () => scan.inferShapes(sn, [f([2, 4]), f([2, 4]), f([5, 16]), f([2, 16]), f([2, 16])]),
    (e) =>
      e instanceof ShapeError && e.message.includes('Node "selectivescan_0" (SelectiveScan)') &&
      e.message.includes("A"),
  );
  throws(
    () => scan.inferShapes(sn, [f([2, 4]), f([2, 4]), f([4, 16]), f([2, 15]), f([2, 16])]),
    ShapeError,
  );
  throws(() => scan.inferShapes(sn, [f([2, 4]), f([2, 4]), f([4, 16]), f([2, 16])]), ShapeError);
  deepStrictEqual(scan.check!(sn, 1), []);
  ok(scan.check!(node("SelectiveScan", [], [], { dt_softplus: 2 }), 1).length === 1);
});
