/**
 * Super-resolution: upscales an image with an ESRGAN-style model (TF.js layers or ONNX), tile
 * by tile with overlapping margins so memory stays bounded and tiles leave no seams.
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";
import { checkOptions } from "../../options.ts";
import { loadModel, type Model } from "../../model.ts";
import { Tensor } from "../../tensor.ts";
import type { KernelVariant } from "../../wasm/kernels.ts";
import { checkImage, decodePng, type Image } from "./image.ts";
import { SR_MODELS } from "./models.ts";

/** Options of `upscale`. */
export interface UpscaleOptions {
  /** A model name from SR_MODELS (default "esrgan-slim"), or the path/URL of a model. */
  model?: keyof typeof SR_MODELS | string;
  /** Scale factor of the named model: 2, 3 or 4 (default 2). */
  scale?: 2 | 3 | 4;
  /** Tile edge in input pixels, at least 8 (default 128). */
  tile?: number;
  /** Context around each tile in input pixels, cropped from the output, at least 0 (default 12). */
  overlap?: number;
  /** Refuse images with more input pixels than this (default 16 megapixels). */
  maxPixels?: number;
  /** Called after each tile. */
  onProgress?: (done: number, total: number) => void;
  /** Kernel build. */
  kernels?: KernelVariant | "auto";
  /**
   * A precompiled kernel module, for hosts such as Cloudflare workerd that forbid compiling
   * Wasm bytes at run time (see `LoadModelOptions.module`).
   */
  module?: WebAssembly.Module;
  /** Worker threads: 1 (default), a count or "auto" (see `LoadModelOptions.threads`). */
  threads?: number | "auto";
  /** Where named models are installed (default ".cache/models" under the working directory). */
  cacheDir?: string;
}

/** What `upscale` returns. */
export interface UpscaleResult {
  /** The upscaled image (RGB, or RGBA when the input had alpha). */
  image: Image;
  /** Wall time, ms. */
  ms: number;
  /** Output megapixels per second. */
  megapixelsPerSecond: number;
}

/** Resolves a model option to a path or URL. */
export async function srModelPath(options: UpscaleOptions): Promise<string> {
  const model = options.model ?? "esrgan-slim";
  const named = SR_MODELS[model as keyof typeof SR_MODELS];
  if (!named) return model;
  const scale = options.scale ?? 2;
  if (![2, 3, 4].includes(scale)) {
    throw new InvalidArgumentError(`Scale ${scale} is not available: use 2, 3 or 4`);
  }
  // Named models install with npm (Deno only): the installer loads on first use.
  const { npmModelFile } = await import("../model_store.ts");
  return await npmModelFile(
    named.pkg,
    named.version,
    `models/x${scale}/model.json`,
    options.cacheDir ?? `${Deno.cwd()}/.cache/models`,
  );
}

/** The options `UpscaleOptions` has. */
const UPSCALE_OPTIONS = [
  "model",
  "scale",
  "tile",
  "overlap",
  "maxPixels",
  "onProgress",
  "kernels",
  "module",
  "threads",
  "cacheDir",
];

/** A loaded SR model with the tiling pipeline. */
export class Upscaler {
  readonly #model: Model;
  readonly #input: string;
  readonly #output: string;

  /** Wraps a loaded model whose input is NHWC float 0–255 RGB. */
  constructor(model: Model) {
    this.#model = model;
    this.#input = model.inputNames[0];
    this.#output = model.outputNames[0];
  }

  /** Runs the model on an RGB float crop [h, w, 3]; returns [h·s, w·s, 3] and s. */
  #run(rgb: Float32Array, h: number, w: number): { out: Float32Array; s: number } {
    const res = this.#model.runSync({ [this.#input]: new Tensor("float32", rgb, [1, h, w, 3]) });
    const y = res[this.#output];
    // [1, h·s, w·s, 3] with one whole s: anything else would be read as a garbage image.
    const s = y.dims[1] / h;
    const [n, oh, ow, c] = y.dims;
    if (
      y.dims.length !== 4 || n !== 1 || c !== 3 || !Number.isInteger(s) || s < 1 || ow !== w * s
    ) {
      throw new InvalidArgumentError(
        `The model maps a [1, ${h}, ${w}, 3] image to [${y.dims.join(", ")}] (output ` +
          `"${this.#output}"), not to [1, ${h}·s, ${w}·s, 3] for a whole scale s`,
      );
    }
    return { out: y.data as Float32Array, s: oh / h };
  }

  /** Upscales an image tile by tile. */
  upscale(image: Image, options: UpscaleOptions = {}): UpscaleResult {
    options ??= {};
    checkOptions(options, UPSCALE_OPTIONS, "upscale()");
    checkImage(image);
    const { width: W, height: H, channels: C } = image;
    const maxPixels = options.maxPixels ?? 16 * 2 ** 20;
    if (typeof maxPixels !== "number" || !(maxPixels > 0)) {
      throw new InvalidArgumentError(
        `The maxPixels option must be a number above 0, not ${maxPixels}`,
      );
    }
    if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
      throw new InvalidArgumentError("The onProgress option must be a function");
    }
    if (W * H > maxPixels) {
      throw new InvalidArgumentError(
        `The image has ${W}x${H} pixels, more than the ${maxPixels} allowed (option maxPixels)`,
      );
    }
    const tile = options.tile ?? 128;
    const overlap = options.overlap ?? 12;
    if (!Number.isInteger(tile) || tile < 8 || !Number.isInteger(overlap) || overlap < 0) {
      throw new InvalidArgumentError(
        `The tile option must be a whole number of at least 8 and overlap one of at least 0, got ${tile} ` +
          `and ${overlap}`,
      );
    }
    const t0 = performance.now();
    // RGB planes as the model wants them (grey is repeated, alpha set aside).
    const rgb = new Float32Array(W * H * 3);
    for (let i = 0; i < W * H; i++) {
      for (let k = 0; k < 3; k++) rgb[i * 3 + k] = image.data[i * C + (C < 3 ? 0 : k)];
    }
    let out: Float32Array | undefined;
    let s = 0;
    const tiles: [number, number][] = [];
    for (let y = 0; y < H; y += tile) for (let x = 0; x < W; x += tile) tiles.push([y, x]);
    tiles.forEach(([y0, x0], index) => {
      const y1 = Math.min(H, y0 + tile);
      const x1 = Math.min(W, x0 + tile);
      const cy0 = Math.max(0, y0 - overlap);
      const cx0 = Math.max(0, x0 - overlap);
      const cy1 = Math.min(H, y1 + overlap);
      const cx1 = Math.min(W, x1 + overlap);
      const ch = cy1 - cy0;
      const cw = cx1 - cx0;
      const crop = new Float32Array(ch * cw * 3);
      for (let y = 0; y < ch; y++) {
        crop.set(rgb.subarray(((cy0 + y) * W + cx0) * 3, ((cy0 + y) * W + cx1) * 3), y * cw * 3);
      }
      const r = this.#run(crop, ch, cw);
      if (!out) {
        s = r.s;
        out = new Float32Array(W * s * H * s * 3);
      } else if (r.s !== s) {
        throw new InvalidArgumentError(`The model upscales one tile ${s}x and another ${r.s}x`);
      }
      const OW = W * s;
      for (let y = (y0 - cy0) * s; y < (y1 - cy0) * s; y++) {
        const src = (y * cw * s + (x0 - cx0) * s) * 3;
        const dst = ((cy0 * s + y) * OW + x0 * s) * 3;
        out.set(r.out.subarray(src, src + (x1 - x0) * s * 3), dst);
      }
      options.onProgress?.(index + 1, tiles.length);
    });
    const OC = C === 2 || C === 4 ? 4 : 3;
    const OW = W * s;
    const OH = H * s;
    const data = new Uint8ClampedArray(OW * OH * OC);
    for (let y = 0; y < OH; y++) {
      for (let x = 0; x < OW; x++) {
        const i = y * OW + x;
        for (let k = 0; k < 3; k++) data[i * OC + k] = Math.round(out![i * 3 + k]);
        // Alpha is upscaled by repeating pixels.
        if (OC === 4) {
          data[i * 4 + 3] = image.data[(Math.floor(y / s) * W + Math.floor(x / s)) * C + C - 1];
        }
      }
    }
    const ms = performance.now() - t0;
    return {
      image: { width: OW, height: OH, channels: OC as 3 | 4, data },
      ms,
      megapixelsPerSecond: (OW * OH) / 1e6 / (ms / 1000),
    };
  }

  /** The kernel build the model runs on. */
  get variant(): string {
    return this.#model.summary().kernels.variant;
  }

  /** Frees the model. */
  dispose(): void {
    this.#model.dispose();
  }
}

/** Loads the SR model an options object names. */
export async function loadUpscaler(options: UpscaleOptions = {}): Promise<Upscaler> {
  checkOptions(options, UPSCALE_OPTIONS, "loadUpscaler()");
  return new Upscaler(
    await loadModel(await srModelPath(options), {
      kernels: options.kernels,
      module: options.module,
      threads: options.threads,
    }),
  );
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
  const image = input instanceof Uint8Array ? decodePng(input) : input;
  checkImage(image);
  const up = await loadUpscaler(options);
  try {
    return up.upscale(image, options);
  } finally {
    up.dispose();
  }
}
