/**
 * Softmax and normalisation kernels against float64 references over awkward sizes: the
 * contiguous and strided softmax paths, layer/RMS norm rows across vector-block edges (with
 * a large mean, where a one-pass variance would fail), group/instance and batch norm.
 */
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import {
  batchNormReference,
  groupNormReference,
  layerNormReference,
  rmsNormReference,
  softmaxReference,
} from "../reference/norm.ts";

const TOL = { rtol: 2e-5, atol: 2e-6 };

for (const variant of VARIANTS) {
  Deno.test(`f32_softmax_x8 matches the reference on both paths: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(41);
    const views: [number, number, number][] = [
      ...[1, 2, 3, 7, 8, 9, 16, 17, 33, 1000, 50000].map((
        n,
      ): [number, number, number] => [2, n, 1]),
      ...[2, 3, 4, 5, 9, 17].map((inner): [number, number, number] => [2, 6, inner]),
      [1, 21, 1024],
    ];
    for (const [outer, n, inner] of views) {
      const x = rng.floats(outer * n * inner, -30, 30);
      // A masked logit (-inf) and a huge one must not break the row.
      if (x.length > 3) x[1] = -Infinity;
      if (x.length > 5) x[4] = 80;
      for (const log of [0, 1]) {
        const px = upload(kr, x);
        const py = kr.arena.alloc(4 * x.length);
        kr.fn.f32_softmax_x8(outer, n, inner, px, py, log);
        const want = softmaxReference(x, [outer, n, inner], 1, log === 1);
        const what = `${log ? "log" : ""}softmax ${outer}x${n}x${inner}`;
        const got = download(kr, py, x.length);
        assertClose(got, want, log ? { rtol: 1e-5, atol: 1e-5 } : TOL, what);
        // In place.
        kr.fn.f32_softmax_x8(outer, n, inner, px, px, log);
        assertClose(download(kr, px, x.length), got, { rtol: 0, atol: 0 }, `${what} in place`);
        kr.arena.free(px);
        kr.arena.free(py);
      }
    }
  });

  Deno.test(`f32_softmax_x8 turns columns holding NaN into NaN only: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    for (const inner of [1, 4, 16, 19]) {
      const n = 9;
      const x = new Float32Array(n * inner).map((_, i) => (i % 7) - 3);
      x[3 * inner + inner - 1] = NaN;
      const px = upload(kr, x);
      const py = kr.arena.alloc(4 * x.length);
      kr.fn.f32_softmax_x8(1, n, inner, px, py, 0);
      const got = download(kr, py, x.length);
      for (let i = 0; i < x.length; i++) {
        const nanColumn = i % inner === inner - 1;
        if (Number.isNaN(got[i]) !== nanColumn) {
          throw new Error(`inner ${inner}: element ${i} is ${got[i]}`);
        }
      }
      kr.arena.free(px);
      kr.arena.free(py);
    }
  });

  Deno.test(`f32_layernorm_x8 and f32_rmsnorm_x8 match the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(43);
    for (const n of [1, 3, 4, 7, 8, 9, 17, 64, 100, 768]) {
      const rows = 3;
      // Offset by 100: a one-pass E[x^2] - E[x]^2 would lose the variance here.
      const x = rng.floats(rows * n, 99, 101);
      const scale = rng.floats(n, 0.5, 1.5);
      const bias = rng.floats(n);
      const [px, ps, pb] = [upload(kr, x), upload(kr, scale), upload(kr, bias)];
      const py = kr.arena.alloc(4 * rows * n);
      const pm = kr.arena.alloc(4 * rows);
      const pi = kr.arena.alloc(4 * rows);
      const eps = 1e-5;
      for (const withBias of [true, false]) {
        kr.fn.f32_layernorm_x8(rows, n, px, py, ps, withBias ? pb : 0, eps, pm, pi);
        const want = layerNormReference(x, [rows, n], 1, scale, withBias ? bias : undefined, eps);
        assertClose(
          download(kr, py, rows * n),
          want.y,
          { rtol: 1e-4, atol: 2e-4 },
          `layernorm n=${n}`,
        );
        assertClose(download(kr, pm, rows), want.mean, { rtol: 1e-6 }, `mean n=${n}`);
        assertClose(download(kr, pi, rows), want.invStd, { rtol: 3e-5 }, `invstd n=${n}`);
      }
      const xr = rng.floats(rows * n, -2, 2);
      const pxr = upload(kr, xr);
      kr.fn.f32_rmsnorm_x8(rows, n, pxr, py, ps, eps);
      assertClose(
        download(kr, py, rows * n),
        rmsNormReference(xr, [rows, n], 1, scale, eps),
        TOL,
        `rms n=${n}`,
      );
      for (const p of [px, ps, pb, py, pm, pi, pxr]) kr.arena.free(p);
    }
  });

  Deno.test(`f32_groupnorm_x8 and f32_batchnorm_x8 match the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(47);
    for (
      const [batch, channels, groups, hw] of [[1, 4, 2, 1], [2, 6, 3, 7], [1, 8, 8, 33], [
        2,
        32,
        4,
        17,
      ], [1, 3, 1, 100]]
    ) {
      const x = rng.floats(batch * channels * hw, -3, 3);
      const scale = rng.floats(channels, 0.5, 1.5);
      const bias = rng.floats(channels);
      const [px, ps, pb] = [upload(kr, x), upload(kr, scale), upload(kr, bias)];
      const py = kr.arena.alloc(4 * x.length);
      const cpg = channels / groups;
      kr.fn.f32_groupnorm_x8(batch, groups, cpg, hw, px, py, ps, pb, 1e-5);
      const want = groupNormReference(x, [batch, channels, hw], groups, scale, bias, 1e-5);
      // A single element per group has zero variance: y = bias exactly (eps keeps it finite).
      assertClose(
        download(kr, py, x.length),
        want,
        { rtol: 1e-4, atol: 1e-4 },
        `groupnorm ${batch}x${channels}/${groups}x${hw}`,
      );
      const mean = rng.floats(channels);
      const variance = rng.floats(channels, 0.1, 2);
      const a = scale.map((s, c) => s / Math.sqrt(variance[c] + 1e-5));
      const b = bias.map((v, c) => v - mean[c] * a[c]);
      const [pa, pbb] = [upload(kr, a), upload(kr, b)];
      kr.fn.f32_batchnorm_x8(batch, channels, hw, px, py, pa, pbb);
      const wantBn = batchNormReference(
        x,
        [batch, channels, hw],
        scale,
        bias,
        mean,
        variance,
        1e-5,
      );
      assertClose(download(kr, py, x.length), wantBn, TOL, `batchnorm ${batch}x${channels}x${hw}`);
      for (const p of [px, ps, pb, py, pa, pbb]) kr.arena.free(p);
    }
  });
}
