/**
 * Super-resolution and PNG in the public API. The tiling pipeline (upscale.ts) and the PNG
 * codec (png.ts, zlib.ts) load on first use, so apps that only run ONNX models do not
 * download them.
 *
 * @module
 */
import type { Image } from "./image.ts";
import type { UpscaleOptions, Upscaler, UpscaleResult } from "./upscale.ts";

/** Loads the SR model an options object names (see `UpscaleOptions.model`). */
export async function loadUpscaler(options: UpscaleOptions = {}): Promise<Upscaler> {
  return (await import("./upscale.ts")).loadUpscaler(options);
}

/**
 * Upscales an image (pixels or PNG bytes) with an ESRGAN model.
 *
 * @example
 * ```ts ignore
 * import { upscale } from "./mod.ts";
 * const { image, megapixelsPerSecond } = await upscale(await Deno.readFile("in.png"), { scale: 2 });
 * ```
 */
export async function upscale(
  input: Image | Uint8Array,
  options: UpscaleOptions = {},
): Promise<UpscaleResult> {
  return (await import("./upscale.ts")).upscale(input, options);
}

/**
 * Decodes a PNG (any colour type and bit depth, palettes, transparency, interlacing) to 8-bit
 * pixels: grey, grey + alpha, RGB or RGBA (palette images become RGB, or RGBA with a tRNS
 * chunk; 16-bit samples keep their high byte). `name` appears in errors.
 *
 * @example
 * ```ts ignore
 * const image = await decodePng(await Deno.readFile("in.png"), "in.png");
 * console.log(image.width, image.height, image.channels);
 * ```
 */
export async function decodePng(bytes: Uint8Array, name = "image"): Promise<Image> {
  return (await import("./image.ts")).decodePng(bytes, name);
}

/**
 * Encodes 8-bit pixels as PNG.
 *
 * @example
 * ```ts ignore
 * await Deno.writeFile("out.png", await encodePng({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }));
 * ```
 */
export async function encodePng(image: Image): Promise<Uint8Array> {
  return (await import("./image.ts")).encodePng(image);
}
