import { assertClose } from "../_assert.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import {
  globalPoolReference,
  type PoolAttributes,
  poolAxis,
  poolReference,
} from "../reference/pool.ts";

function randomAttrs(rng: Random): PoolAttributes {
  const kernel = [rng.int(1, 4), rng.int(1, 5)];
  const pads = [
    rng.int(0, kernel[0] - 1),
    rng.int(0, kernel[1] - 1),
    rng.int(0, kernel[0] - 1),
    rng.int(0, kernel[1] - 1),
  ];
  return {
    kernel_shape: kernel,
    strides: [rng.int(1, 3), rng.int(1, 3)],
    dilations: [rng.next() < 0.2 ? 2 : 1, rng.next() < 0.2 ? 2 : 1],
    pads,
    ceil_mode: rng.next() < 0.4 ? 1 : 0,
    count_include_pad: rng.next() < 0.5 ? 1 : 0,
  };
}

for (const variant of VARIANTS) {
  Deno.test(`f32_maxpool_w4 and f32_avgpool_w4 match the references: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(77);
    for (let i = 0; i < 60; i++) {
      const a = randomAttrs(rng);
      const [kh, kw] = a.kernel_shape;
      const [dh, dw] = a.dilations!;
      const c = rng.int(1, 4);
      const h = rng.int((kh - 1) * dh + 1, 13);
      const w = i === 0 ? 64 : rng.int((kw - 1) * dw + 1, 37);
      const x = rng.floats(c * h * w, -4, 4);
      const ay = poolAxis(
        h,
        kh,
        a.strides![0],
        dh,
        a.pads![0],
        a.pads![2],
        a.ceil_mode === 1,
        "NOTSET",
      );
      const ax = poolAxis(
        w,
        kw,
        a.strides![1],
        dw,
        a.pads![1],
        a.pads![3],
        a.ceil_mode === 1,
        "NOTSET",
      );
      const px = upload(kr, x);
      const py = kr.arena.alloc(c * ay.out * ax.out * 4);
      const scratch = kr.arena.alloc(ax.out * 4);
      const n = c * ay.out * ax.out;
      kr.fn.f32_maxpool_w4(
        c,
        px,
        h,
        w,
        py,
        ay.out,
        ax.out,
        kh,
        kw,
        ay.s,
        ax.s,
        dh,
        dw,
        ay.begin,
        ax.begin,
      );
      const what = JSON.stringify({ c, h, w, ...a });
      assertClose(
        download(kr, py, n),
        poolReference("max", x, [1, c, h, w], a).data,
        {},
        `max ${what}`,
      );
      const inc = a.count_include_pad === 1;
      kr.fn.f32_avgpool_w4(
        c,
        px,
        h,
        w,
        py,
        ay.out,
        ax.out,
        kh,
        kw,
        ay.s,
        ax.s,
        dh,
        dw,
        ay.begin,
        ax.begin,
        inc ? -ay.begin : 0,
        inc ? h + ay.end : h,
        inc ? -ax.begin : 0,
        inc ? w + ax.end : w,
        scratch,
      );
      assertClose(download(kr, py, n), poolReference("avg", x, [1, c, h, w], a).data, {
        rtol: 1e-5,
        atol: 1e-6,
      }, `avg ${what}`);
      for (const p of [px, py, scratch]) kr.arena.free(p);
    }
  });

  Deno.test(`global pooling kernels match the references: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(88);
    for (const [c, size] of [[1, 1], [3, 7], [2, 16], [5, 63], [4, 3137]]) {
      const x = rng.floats(c * size, -4, 4);
      const px = upload(kr, x);
      const py = kr.arena.alloc(c * 4);
      kr.fn.f32_global_avgpool_w4(c, px, size, py);
      assertClose(download(kr, py, c), globalPoolReference("avg", x, [1, c, size]).data, {
        rtol: 1e-5,
        atol: 1e-6,
      }, `avg ${c}x${size}`);
      kr.fn.f32_global_maxpool_w4(c, px, size, py);
      assertClose(
        download(kr, py, c),
        globalPoolReference("max", x, [1, c, size]).data,
        {},
        `max ${c}x${size}`,
      );
      kr.arena.free(px);
      kr.arena.free(py);
    }
  });
}
