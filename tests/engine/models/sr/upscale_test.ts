import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { encode } from "npm:fast-png@8.0.0";
import { InvalidArgumentError, ModelFormatError } from "../../../../engine/errors.ts";
import { decodePng, encodePng } from "../../../../engine/models/sr/image.ts";
import { loadUpscaler, upscale } from "../../../../engine/models/sr/upscale.ts";
import { realModel } from "../../../_models.ts";

function picture(w: number, h: number, c: 3 | 4): Uint8Array {
  const d = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * c;
      d[i] = (x * 7 + y * 3) % 256;
      d[i + 1] = 128 + 100 * Math.sin(x / 5) * Math.cos(y / 7);
      d[i + 2] = ((x ^ y) * 5) % 256;
      if (c === 4) d[i + 3] = x < w / 2 ? 255 : 128;
    }
  }
  return d;
}

Deno.test("tiled upscaling equals untiled (PSNR ≥ 50 dB, no seams), alpha kept", async () => {
  const model = await realModel("@upscalerjs/esrgan-slim", "x2");
  const up = await loadUpscaler({ model });
  const image = { width: 90, height: 60, channels: 4 as const, data: picture(90, 60, 4) };
  const whole = up.upscale(image, { tile: 1024 });
  const tiled = up.upscale(image, { tile: 32, overlap: 12 });
  deepStrictEqual([tiled.image.width, tiled.image.height, tiled.image.channels], [180, 120, 4]);
  let se = 0;
  let n = 0;
  for (let i = 0; i < whole.image.data.length; i++) {
    if (i % 4 === 3) continue;
    se += (whole.image.data[i] - tiled.image.data[i]) ** 2;
    n++;
  }
  const psnr = se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
  ok(psnr >= 50, `PSNR ${psnr.toFixed(1)} dB`);
  deepStrictEqual(tiled.image.data[3], 255);
  deepStrictEqual(tiled.image.data[(179 + 0 * 180) * 4 + 3], 128);
  up.dispose();
});

Deno.test("PNG in and out: grey and 16-bit images convert, bad input is refused clearly", async () => {
  const model = await realModel("@upscalerjs/esrgan-slim", "x2");
  const grey = encode({
    width: 8,
    height: 6,
    channels: 1,
    depth: 8,
    data: new Uint8Array(48).fill(90),
  });
  const r = await upscale(grey, { model });
  deepStrictEqual([r.image.width, r.image.height, r.image.channels], [16, 12, 3]);
  const back = decodePng(encodePng(r.image));
  deepStrictEqual([back.width, back.height, back.channels], [16, 12, 3]);
  const deep = encode({
    width: 2,
    height: 2,
    channels: 3,
    depth: 16,
    data: new Uint16Array(12).fill(65535),
  });
  deepStrictEqual([...decodePng(deep).data.slice(0, 3)], [255, 255, 255]);
  throws(
    () => decodePng(new Uint8Array([1, 2, 3]), "x.png"),
    (e) => e instanceof ModelFormatError && /"x\.png"/.test(e.message),
  );
  await rejects(
    upscale({ width: 4, height: 4, channels: 3, data: new Uint8Array(5) }, { model }),
    InvalidArgumentError,
  );
  await rejects(
    upscale({ width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3) }, {
      model,
      maxPixels: 1000,
    }),
    (e) => e instanceof InvalidArgumentError && /maxPixels/.test(e.message),
  );
  await rejects(upscale(grey, { model: "esrgan-slim", scale: 5 as 2 }), InvalidArgumentError);
  // A tile or overlap that is not a whole number of pixels in range (NaN tiled nothing).
  for (const bad of [{ tile: NaN }, { tile: 4 }, { tile: 16.5 }, { overlap: -1 }]) {
    await rejects(
      upscale(grey, { model, ...bad }),
      (e) =>
        e instanceof InvalidArgumentError && /tile option must be a whole number/.test(e.message),
    );
  }
});

Deno.test("upscale refuses a model whose output is not [1, h·s, w·s, 3], and bad options", async () => {
  const { buildModel } = await import("../../../_onnx_builder.ts");
  const { Tensor } = await import("../../../../engine/tensor.ts");
  // Tile repeats the input: [1, 2, 2, 1] is a 2x upscale; the others are not images of it.
  const tileModel = (reps: number[]) =>
    buildModel({
      nodes: [{ op: "Tile", inputs: ["x", "r"], outputs: ["y"] }],
      inputs: [{ name: "x", dims: [1, "h", "w", 3] }],
      outputs: [{ name: "y" }],
      initializers: { r: new Tensor("int64", BigInt64Array.from(reps.map(BigInt)), [4]) },
    });
  const image = { width: 5, height: 4, channels: 3 as const, data: new Uint8Array(60).fill(9) };
  const dir = await Deno.makeTempDir();
  try {
    for (const reps of [[1, 2, 2, 1], [1, 2, 3, 1], [1, 2, 1, 1], [1, 2, 2, 2], [2, 2, 2, 1]]) {
      const path = `${dir}/tile_${reps.join("")}.onnx`;
      await Deno.writeFile(path, tileModel(reps));
      if (reps.join() === "1,2,2,1") {
        const r = await upscale(image, { model: path });
        deepStrictEqual([r.image.width, r.image.height], [10, 8]);
        ok(r.image.data.every((v) => v === 9));
        continue;
      }
      await rejects(
        upscale(image, { model: path }),
        (e) => e instanceof InvalidArgumentError && /not to \[1, 4·s, 5·s, 3\]/.test(e.message),
        reps.join(),
      );
    }
    const path = `${dir}/tile_1221.onnx`;
    for (
      const [options, pattern] of [
        [{ maxPixels: NaN }, /maxPixels option must be a number/],
        [{ onProgress: 5 }, /onProgress option must be a function/],
        [{ tiles: 8 }, /Unknown option "tiles"/],
      ] as const
    ) {
      await rejects(
        upscale(image, { model: path, ...options } as never),
        (e) => e instanceof InvalidArgumentError && pattern.test(e.message),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadUpscaler takes a precompiled kernel module (hosts that forbid compiling Wasm), not a misspelt option", async () => {
  const model = await realModel("@upscalerjs/esrgan-slim", "x2");
  const bytes = await Deno.readFile(
    new URL("../../../../kernels-as/build/quartet_simd.wasm", import.meta.url),
  );
  await rejects(
    loadUpscaler({ model, modul: null } as never),
    (e) =>
      e instanceof InvalidArgumentError &&
      /Unknown option "modul" for loadUpscaler/.test(e.message),
  );
  const up = await loadUpscaler({ model, module: new WebAssembly.Module(bytes) });
  const auto = await loadUpscaler({ model });
  try {
    deepStrictEqual(up.variant, "simd");
    const image = { width: 12, height: 10, channels: 3 as const, data: picture(12, 10, 3) };
    const a = up.upscale(image).image.data;
    const b = auto.upscale(image).image.data;
    // The same network on another build: pixels within rounding of each other.
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    ok(worst <= 1, `max pixel difference ${worst}`);
  } finally {
    up.dispose();
    auto.dispose();
  }
});
