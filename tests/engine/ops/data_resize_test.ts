import { deepStrictEqual, throws } from "node:assert/strict";
import { DTypeError, ShapeError } from "../../../engine/errors.ts";
import { resizeOpImpl, upsampleOp } from "../../../engine/ops/resize.ts";
import { type DType, Tensor } from "../../../engine/tensor.ts";
import { assertClose } from "../../_assert.ts";
import { kernelsFor, VARIANTS } from "../../_kernels.ts";
import { type ResizeAxis, resizeRef, resizeTaps } from "../../reference/data.ts";
import {
  assertTensorEqual,
  f32,
  i64,
  makeNode,
  Random,
  randomDims,
  randomTensor,
  runOp,
} from "./_data_harness.ts";

const COORDS = [
  "half_pixel",
  "half_pixel_symmetric",
  "pytorch_half_pixel",
  "align_corners",
  "asymmetric",
  "tf_half_pixel_for_nn",
];
const NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];
const SCALES = [2, 3, 0.5, 1.5, 0.75, 1, 2.5];
const fr = Math.fround;

/** Nearest of any type through the reference's taps (one tap of weight 1 per axis). */
function nearestRef(x: Tensor, out: number[], axes: ResizeAxis[]): Tensor {
  const maps = axes.map((ax, k) =>
    Array.from({ length: out[k] }, (_, j) => resizeTaps(j, x.dims[k], out[k], ax)[0][0])
  );
  const n = out.reduce((a, b) => a * b, 1);
  const src = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let off = 0;
    let stride = 1;
    for (let k = out.length - 1; k >= 0; k--) {
      off += maps[k][rest % out[k]] * stride;
      stride *= x.dims[k];
      rest = Math.floor(rest / out[k]);
    }
    src[i] = off;
  }
  const Ctor = x.data.constructor as unknown as new (n: number) => Tensor["data"];
  const data = new Ctor(n);
  for (let i = 0; i < n; i++) (data as Float32Array)[i] = (x.data as Float32Array)[src[i]];
  return new Tensor(x.type, data as never, out);
}

/** One randomized case: dims, which axes change, scales or sizes. */
function randomCase(rng: Random, mode: string) {
  const rank = mode === "nearest" ? rng.int(1, 5) : rng.int(1, 4);
  const dims = randomDims(rng, rank, mode === "cubic" ? 300 : 900);
  const scales = dims.map((
    _,
    i,
  ) => (i >= rank - 2 || rng.next() < 0.2 ? SCALES[rng.int(0, 6)] : 1));
  const useSizes = rng.next() < 0.4;
  const out = useSizes
    ? dims.map((d, i) => (scales[i] === 1 ? d : rng.int(1, 2 * d + 3)))
    : dims.map((d, i) => Math.floor(fr(fr(scales[i]) * d)));
  const eff = useSizes ? out.map((o, i) => fr(o / dims[i])) : scales.map(fr);
  return { dims, scales, useSizes, out, eff };
}

for (const variant of VARIANTS) {
  Deno.test(`Resize nearest: every coordinate and nearest mode, any rank and type: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(71);
    const types: DType[] = ["float32", "int64", "uint8", "float16"];
    let rep = 0;
    for (const coord of COORDS) {
      for (const nearest of NEAREST) {
        for (let t = 0; t < 3; t++, rep++) {
          const { dims, scales, useSizes, out, eff } = randomCase(rng, "nearest");
          const x = randomTensor(rng, types[rep % 4], dims);
          const attrs = {
            mode: "nearest",
            coordinate_transformation_mode: coord,
            nearest_mode: nearest,
          };
          const node = makeNode(
            "Resize",
            useSizes ? [true, false, false, true] : [true, false, true],
            1,
            attrs,
          );
          const inputs = useSizes
            ? [x, undefined, undefined, i64(out)]
            : [x, undefined, f32(scales)];
          const { outputs } = runOp(kr, resizeOpImpl, node, inputs);
          const axes = eff.map((scale) => ({
            mode: "nearest",
            scale,
            coord,
            nearest,
            float32: true,
          }));
          assertTensorEqual(
            outputs[0],
            nearestRef(x, out, axes),
            `${coord}/${nearest} ${dims} -> ${out}`,
          );
        }
      }
    }
  });

  Deno.test(`Resize linear and cubic match the definition: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(72);
    for (const mode of ["linear", "cubic"]) {
      for (const coord of COORDS) {
        for (let t = 0; t < 4; t++) {
          const { dims, scales, useSizes, out, eff } = randomCase(rng, mode);
          const x = randomTensor(rng, "float32", dims) as Tensor<"float32">;
          const a = [-0.75, -0.5][t % 2];
          const excludeOutside = mode === "cubic" && t >= 2;
          const attrs = {
            mode,
            coordinate_transformation_mode: coord,
            cubic_coeff_a: a,
            exclude_outside: excludeOutside ? 1 : 0,
          };
          const node = makeNode(
            "Resize",
            useSizes ? [true, false, false, true] : [true, false, true],
            1,
            attrs,
          );
          const inputs = useSizes
            ? [x, undefined, undefined, i64(out)]
            : [x, undefined, f32(scales)];
          const { outputs } = runOp(kr, resizeOpImpl, node, inputs);
          const axes = eff.map((scale) => ({ mode, scale, coord, a, excludeOutside }));
          const want = resizeRef(x, out, axes);
          deepStrictEqual(outputs[0].dims, want.dims);
          assertClose(outputs[0].data as Float32Array, want.data as Float32Array, {
            rtol: 1e-5,
            atol: 2e-6,
          }, `${mode} ${coord} ${dims} -> ${out}`);
        }
      }
    }
  });

  Deno.test(`Resize 2x fast paths on NCHW (nearest dup, bilinear rows): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(73);
    for (const [n, c, h, w] of [[1, 3, 9, 13], [2, 2, 16, 17], [1, 1, 1, 8]]) {
      const x = randomTensor(rng, "float32", [n, c, h, w]) as Tensor<"float32">;
      for (
        const [mode, coord, nearest] of [
          ["nearest", "asymmetric", "floor"],
          ["nearest", "half_pixel", "round_prefer_floor"],
          ["linear", "half_pixel", ""],
          ["linear", "align_corners", ""],
        ]
      ) {
        const attrs = {
          mode,
          coordinate_transformation_mode: coord,
          nearest_mode: nearest || "floor",
        };
        const node = makeNode("Resize", 3, 1, attrs);
        const { outputs } = runOp(kr, resizeOpImpl, node, [x, f32([]), f32([1, 1, 2, 2])]);
        const out = [n, c, 2 * h, 2 * w];
        const axes = [1, 1, 2, 2].map((scale) => ({
          mode,
          scale,
          coord,
          nearest: nearest || "floor",
        }));
        const want = resizeRef(x, out, axes);
        assertClose(outputs[0].data as Float32Array, want.data as Float32Array, {
          rtol: 1e-5,
          atol: 2e-6,
        }, `${mode} ${coord}`);
      }
    }
  });
}

Deno.test("Resize-10 and Upsample use asymmetric coordinates and the legacy nearest rule", async () => {
  const kr = await kernelsFor("simd");
  const rng = new Random(74);
  const x = randomTensor(rng, "float32", [1, 2, 5, 6]) as Tensor<"float32">;
  const simple = (scale: number) => ({
    mode: "nearest",
    scale,
    coord: "asymmetric",
    nearest: "simple",
  });
  for (const scales of [[1, 1, 2, 3], [1, 1, 0.6, 0.5]]) {
    const out = x.dims.map((d, i) => Math.floor(fr(fr(scales[i]) * d)));
    const want = resizeRef(x, out, scales.map((s) => simple(fr(s))));
    const r10 = runOp(kr, resizeOpImpl, makeNode("Resize", 2, 1, { mode: "nearest" }), [
      x,
      f32(scales),
    ]);
    assertTensorEqual(r10.outputs[0], want, `Resize-10 ${scales}`);
  }
  const up = [1, 1, 2, 2];
  const out = [1, 2, 10, 12];
  const nearestWant = resizeRef(x, out, up.map(simple));
  const u7 = runOp(kr, upsampleOp, makeNode("Upsample", 1, 1, { scales: up }), [x]);
  assertTensorEqual(u7.outputs[0], nearestWant, "Upsample-7");
  const u9 = runOp(kr, upsampleOp, makeNode("Upsample", 2, 1, { mode: "linear" }), [x, f32(up)]);
  const linearWant = resizeRef(
    x,
    out,
    up.map((scale) => ({ mode: "linear", scale, coord: "asymmetric" })),
  );
  assertClose(u9.outputs[0].data as Float32Array, linearWant.data as Float32Array, {
    rtol: 1e-5,
    atol: 1e-6,
  });
});

Deno.test("Resize honours axes (opset 18) and keep_aspect_ratio_policy", () => {
  const x = { type: "float32" as const, dims: [1, 3, 100, 200] };
  const v = (vals: number[]) => ({ type: "int64" as const, dims: [vals.length], value: i64(vals) });
  const sizes = (attrs: Record<string, unknown>, s: number[]) =>
    resizeOpImpl.inferShapes(makeNode("Resize", [true, false, false, true], 1, attrs as never), [
      x,
      undefined,
      undefined,
      v(s),
    ])[0].dims;
  deepStrictEqual(sizes({ axes: [2, 3] }, [50, 60]), [1, 3, 50, 60]);
  deepStrictEqual(sizes({ axes: [2, 3], keep_aspect_ratio_policy: "not_larger" }, [50, 60]), [
    1,
    3,
    30,
    60,
  ]);
  deepStrictEqual(sizes({ axes: [2, 3], keep_aspect_ratio_policy: "not_smaller" }, [50, 60]), [
    1,
    3,
    50,
    100,
  ]);
  const s = { type: "float32" as const, dims: [2], value: f32([2, 0.5]) };
  const byScales = resizeOpImpl.inferShapes(
    makeNode("Resize", 3, 1, { axes: [-1, 2] }),
    [x, undefined, s],
  )[0].dims;
  deepStrictEqual(byScales, [1, 3, 50, 400]);
});

Deno.test("Resize reports unsupported modes and rejects bad parameters", () => {
  const node = makeNode("Resize", 3, 1, {
    coordinate_transformation_mode: "tf_crop_and_resize",
    antialias: 1,
  });
  deepStrictEqual(resizeOpImpl.check!(node, 18), [
    'coordinate_transformation_mode "tf_crop_and_resize" is not supported',
    "antialias is not supported",
  ]);
  deepStrictEqual(resizeOpImpl.check!(makeNode("Resize", 3, 1, { mode: "cubic" }), 13), []);
  const x = { type: "float32" as const, dims: [1, 1, 4, 4] };
  const sc = (vals: number[]) => ({
    type: "float32" as const,
    dims: [vals.length],
    value: f32(vals),
  });
  throws(
    () => resizeOpImpl.inferShapes(makeNode("Resize", 3), [x, undefined, sc([1, 2])]),
    /one value per axis/,
  );
  throws(
    () => resizeOpImpl.inferShapes(makeNode("Resize", 3), [x, undefined, sc([1, 1, 0, 2])]),
    (e: Error) => e instanceof ShapeError && /must be positive/.test(e.message),
  );
  throws(
    () =>
      resizeOpImpl.inferShapes(makeNode("Resize", 3, 1, { mode: "linear" }), [
        { type: "int64", dims: [1, 1, 4, 4] },
        undefined,
        sc([1, 1, 2, 2]),
      ]),
    DTypeError,
  );
  throws(
    () => resizeOpImpl.inferShapes(makeNode("Resize", 3), [x, undefined, undefined]),
    /needs scales or sizes/,
  );
});

Deno.test("Resize passes zero-size tensors through", async () => {
  const kr = await kernelsFor("simd");
  const x = randomTensor(new Random(5), "float32", [0, 3, 4, 4]);
  const r = runOp(kr, resizeOpImpl, makeNode("Resize", 3, 1, { mode: "linear" }), [
    x,
    undefined,
    f32([1, 1, 2, 2]),
  ]);
  deepStrictEqual(r.outputs[0].dims, [0, 3, 8, 8]);
});
