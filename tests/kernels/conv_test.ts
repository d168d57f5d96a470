import { activationCode } from "../../kernels-as/activations.ts";
import { DWCONV_SHAPES } from "../../kernels-as/conv/kernels.ts";
import { dwconvName } from "../../kernels-as/conv/f32_dwconv.tmpl.ts";
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";
import { gemmNchw, packNchwWeights } from "../../engine/ops/gemm.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference } from "../reference/activations.ts";
import { convAxis, convReference, convTransposeReference } from "../reference/conv.ts";

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pads: [number, number, number, number];
}

function geometry(t: Case) {
  const y = convAxis(t.h, t.kh, t.sh, t.dh, t.pads[0], t.pads[2], "NOTSET");
  const x = convAxis(t.w, t.kw, t.sw, t.dw, t.pads[1], t.pads[3], "NOTSET");
  return { oh: y.out, ow: x.out };
}

function attrs(t: Case, group = 1) {
  return {
    strides: [t.sh, t.sw],
    dilations: [t.dh, t.dw],
    pads: t.pads,
    group,
    kernel_shape: [t.kh, t.kw],
  };
}

function randomCase(rng: Random, maxC: number): Case {
  const kh = rng.int(1, 5);
  const kw = rng.int(1, 5);
  const dh = rng.next() < 0.2 ? 2 : 1;
  const dw = rng.next() < 0.2 ? 2 : 1;
  const h = rng.int((kh - 1) * dh + 1, 19);
  const w = rng.int((kw - 1) * dw + 1, 23);
  return {
    n: 1,
    c: rng.int(1, maxC),
    h,
    w,
    m: rng.int(1, 13),
    kh,
    kw,
    sh: rng.int(1, 3),
    sw: rng.int(1, 3),
    dh,
    dw,
    pads: [rng.int(0, kh - 1), rng.int(0, kw - 1), rng.int(0, kh - 1), rng.int(0, kw - 1)],
  };
}

for (const variant of VARIANTS) {
  Deno.test(`x32_im2col + f32_gemm_nchw match Conv over awkward shapes and tiles: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(101);
    const cases: Case[] = [];
    for (let i = 0; i < 40; i++) cases.push(randomCase(rng, 9));
    cases.push(
      {
        n: 1,
        c: 1,
        h: 1,
        w: 1,
        m: 1,
        kh: 1,
        kw: 1,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pads: [0, 0, 0, 0],
      },
      {
        n: 1,
        c: 3,
        h: 1,
        w: 37,
        m: 5,
        kh: 1,
        kw: 4,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pads: [0, 3, 0, 0],
      },
      {
        n: 1,
        c: 16,
        h: 17,
        w: 17,
        m: 16,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pads: [1, 1, 1, 1],
      },
    );
    for (const t of cases) {
      const { oh, ow } = geometry(t);
      const x = rng.floats(t.c * t.h * t.w);
      const w = rng.floats(t.m * t.c * t.kh * t.kw);
      const bias = rng.floats(t.m);
      const want = convReference(x, [1, t.c, t.h, t.w], w, [t.m, t.c, t.kh, t.kw], bias, attrs(t));
      const k = t.c * t.kh * t.kw;
      const px = upload(kr, x);
      const pw = upload(kr, w);
      const pb = upload(kr, bias);
      const packed = packNchwWeights(kr, pw, t.m, k, { bias: pb });
      const py = kr.arena.alloc(t.m * oh * ow * 4);
      // Tiles that cut output rows at odd places.
      const tile = rng.int(1, oh * ow);
      const col = kr.arena.alloc(k * tile * 4);
      const win = kr.arena.alloc(
        kr.fn.x32_im2col_scratch_size(t.c, t.kh, t.kw, t.sh, t.sw, t.dh, t.dw, ow, tile),
      );
      for (let p0 = 0; p0 < oh * ow; p0 += tile) {
        const np = Math.min(tile, oh * ow - p0);
        kr.fn.x32_im2col(
          px,
          t.c,
          t.h,
          t.w,
          t.kh,
          t.kw,
          t.sh,
          t.sw,
          t.dh,
          t.dw,
          t.pads[0],
          t.pads[1],
          ow,
          p0,
          np,
          col,
          np,
          win,
        );
        gemmNchw(kr, packed, col, np, np, py + p0 * 4, oh * ow);
      }
      assertClose(download(kr, py, t.m * oh * ow), want.data, tolerance(k), JSON.stringify(t));
      for (const p of [px, pw, pb, packed.offset, py, col, win]) kr.arena.free(p);
    }
  });

  Deno.test(`fixed-shape depthwise kernels match grouped Conv: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(202);
    for (const shape of DWCONV_SHAPES) {
      const fn = kr.fn[dwconvName(shape) as keyof KernelExports] as KernelExports[
        "f32_dwconv3x3s1_w4"
      ];
      const { k, s } = shape;
      for (let i = 0; i < 24; i++) {
        const c = rng.int(1, 5);
        const mult = i % 4 === 3 ? 2 : 1;
        const h = rng.int(k, 14);
        const w = i === 0 ? k : rng.int(k, 29);
        const t: Case = {
          n: 1,
          c,
          h,
          w,
          m: c * mult,
          kh: k,
          kw: k,
          sh: s,
          sw: s,
          dh: 1,
          dw: 1,
          pads: [rng.int(0, k - 1), rng.int(0, k - 1), rng.int(0, k - 1), rng.int(0, k - 1)],
        };
        if (i === 1) t.pads = [k >> 1, k >> 1, k >> 1, k >> 1];
        const { oh, ow } = geometry(t);
        const x = rng.floats(c * h * w);
        const wt = rng.floats(t.m * k * k);
        const withBias = i % 2 === 0;
        const bias = rng.floats(t.m);
        const residual = i % 3 === 0 ? rng.floats(t.m * oh * ow) : undefined;
        const act = i % 5 === 0
          ? "clamp" as const
          : i % 5 === 1
          ? "silu" as const
          : "none" as const;
        const f = activationReference(act, 0, 0.5);
        const conv = convReference(
          x,
          [1, c, h, w],
          wt,
          [t.m, 1, k, k],
          withBias ? bias : undefined,
          attrs(t, c),
        );
        const want = conv.data.map((v, j) => f(v + (residual ? residual[j] : 0)));
        const px = upload(kr, x);
        const pw = upload(kr, wt);
        const pb = withBias ? upload(kr, bias) : 0;
        const pr = residual ? upload(kr, residual) : 0;
        const py = kr.arena.alloc(t.m * oh * ow * 4);
        const scratch = kr.arena.alloc(kr.fn.f32_dwconv_scratch_size(w));
        fn(
          t.m,
          mult,
          px,
          h,
          w,
          py,
          oh,
          ow,
          t.pads[0],
          t.pads[1],
          pw,
          pb,
          pr,
          activationCode(act),
          0,
          0.5,
          scratch,
        );
        assertClose(
          download(kr, py, t.m * oh * ow),
          want,
          tolerance(k * k),
          `${dwconvName(shape)} ${JSON.stringify(t)}`,
        );
        // The generic kernel computes the same thing.
        kr.fn.f32_dwconv_w4(
          t.m,
          mult,
          px,
          h,
          w,
          py,
          oh,
          ow,
          k,
          k,
          s,
          s,
          1,
          1,
          t.pads[0],
          t.pads[1],
          pw,
          pb,
          pr,
          activationCode(act),
          0,
          0.5,
        );
        assertClose(
          download(kr, py, t.m * oh * ow),
          want,
          tolerance(k * k),
          `generic ${JSON.stringify(t)}`,
        );
        for (const p of [px, pw, pb, pr, py, scratch]) if (p) kr.arena.free(p);
      }
    }
  });

  Deno.test(`f32_dwconv_w4 matches Conv with any kernel, stride and dilation: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(303);
    for (let i = 0; i < 40; i++) {
      const t = randomCase(rng, 6);
      const mult = rng.int(1, 3);
      t.m = t.c * mult;
      const { oh, ow } = geometry(t);
      const x = rng.floats(t.c * t.h * t.w);
      const wt = rng.floats(t.m * t.kh * t.kw);
      const bias = rng.floats(t.m);
      const want = convReference(
        x,
        [1, t.c, t.h, t.w],
        wt,
        [t.m, 1, t.kh, t.kw],
        bias,
        attrs(t, t.c),
      );
      const px = upload(kr, x);
      const pw = upload(kr, wt);
      const pb = upload(kr, bias);
      const py = kr.arena.alloc(t.m * oh * ow * 4);
      kr.fn.f32_dwconv_w4(
        t.m,
        mult,
        px,
        t.h,
        t.w,
        py,
        oh,
        ow,
        t.kh,
        t.kw,
        t.sh,
        t.sw,
        t.dh,
        t.dw,
        t.pads[0],
        t.pads[1],
        pw,
        pb,
        0,
        0,
        0,
        0,
      );
      assertClose(
        download(kr, py, t.m * oh * ow),
        want.data,
        tolerance(t.kh * t.kw),
        JSON.stringify(t),
      );
      for (const p of [px, pw, pb, py]) kr.arena.free(p);
    }
  });

  Deno.test(`f32_gemm_nchw + f32_col2im match ConvTranspose: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(404);
    for (let i = 0; i < 30; i++) {
      const c = rng.int(1, 9);
      const m = rng.int(1, 7);
      const kh = rng.int(1, 4);
      const kw = rng.int(1, 4);
      const sh = rng.int(1, 3);
      const sw = rng.int(1, 3);
      const dh = rng.next() < 0.2 ? 2 : 1;
      const dw = rng.next() < 0.2 ? 2 : 1;
      const h = rng.int(1, 9);
      const w = rng.int(1, 13);
      const pads = [rng.int(0, kh - 1), rng.int(0, kw - 1), rng.int(0, kh - 1), rng.int(0, kw - 1)];
      const x = rng.floats(c * h * w);
      const wt = rng.floats(c * m * kh * kw);
      const want = convTransposeReference(x, [1, c, h, w], wt, [c, m, kh, kw], undefined, {
        strides: [sh, sw],
        dilations: [dh, dw],
        pads,
      });
      const [, , oh, ow] = want.dims;
      // W^T as rows (mo, ky, kx) over input channels.
      const rows = m * kh * kw;
      const wtT = new Float32Array(rows * c);
      for (let ci = 0; ci < c; ci++) {
        for (let r = 0; r < rows; r++) wtT[r * c + ci] = wt[ci * rows + r];
      }
      const px = upload(kr, x);
      const pw = upload(kr, wtT);
      const packed = packNchwWeights(kr, pw, rows, c);
      const py = kr.arena.alloc(m * oh * ow * 4);
      kr.arena.f32(py, m * oh * ow).fill(0);
      const tile = rng.int(1, h * w);
      const col = kr.arena.alloc(rows * tile * 4);
      for (let p0 = 0; p0 < h * w; p0 += tile) {
        const np = Math.min(tile, h * w - p0);
        gemmNchw(kr, packed, px + p0 * 4, h * w, np, col, np);
        kr.fn.f32_col2im(
          col,
          np,
          m,
          kh,
          kw,
          sh,
          sw,
          dh,
          dw,
          pads[0],
          pads[1],
          w,
          p0,
          np,
          py,
          oh,
          ow,
        );
      }
      assertClose(download(kr, py, m * oh * ow), want.data, tolerance(c * kh * kw), `case ${i}`);
      for (const p of [px, pw, packed.offset, py, col]) kr.arena.free(p);
    }
  });

  Deno.test(`f32_addact_w4 adds a strided residual and activates: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(505);
    for (const [m, n] of [[1, 1], [3, 7], [5, 16], [2, 33]]) {
      const ldy = n + 3;
      const ldr = n + 5;
      const y = rng.floats(m * ldy, -3, 3);
      const r = rng.floats(m * ldr, -3, 3);
      const f = activationReference("hardswish");
      const want = y.slice();
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) want[i * ldy + j] = f(y[i * ldy + j] + r[i * ldr + j]);
      }
      const py = upload(kr, y);
      const pr = upload(kr, r);
      kr.fn.f32_addact_w4(m, n, py, ldy, pr, ldr, activationCode("hardswish"), 0, 0);
      assertClose(download(kr, py, m * ldy), want, { rtol: 1e-5, atol: 1e-6 }, `${m}x${n}`);
      kr.arena.free(py);
      kr.arena.free(pr);
    }
  });
}
