/**
 * Images in and out of super-resolution: PNG decode/encode (fast-png) to 8-bit RGB(A) pixels.
 *
 * @module
 */
import { decode, encode } from "npm:fast-png@8.0.0";
import { InvalidArgumentError, ModelFormatError } from "../../errors.ts";

/** 8-bit pixels, row-major, interleaved: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
export interface Image {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel. */
  channels: 1 | 2 | 3 | 4;
  /** width × height × channels bytes. */
  data: Uint8Array | Uint8ClampedArray;
}

/** Decodes a PNG (8- or 16-bit, grey, RGB, palette, with or without alpha) to 8-bit pixels. */
export function decodePng(bytes: Uint8Array, name = "image"): Image {
  let png;
  try {
    png = decode(bytes);
  } catch (cause) {
    throw new ModelFormatError(`Cannot decode PNG "${name}": ${(cause as Error).message}`, {
      cause,
    });
  }
  const { width, height } = png;
  let channels = png.channels as 1 | 2 | 3 | 4;
  let data: Uint8Array;
  if (png.palette) {
    // Indexed colour: expand through the palette to RGB(A).
    const pal = png.palette as number[][];
    const alpha = pal.some((c) => c.length === 4);
    channels = alpha ? 4 : 3;
    data = new Uint8Array(width * height * channels);
    for (let i = 0; i < width * height; i++) {
      const c = pal[(png.data as Uint8Array)[i]] ?? [0, 0, 0, 255];
      for (let k = 0; k < channels; k++) data[i * channels + k] = c[k] ?? 255;
    }
  } else if (png.depth === 16) {
    data = Uint8Array.from(png.data as Uint16Array, (v) => v >> 8);
  } else if (png.depth === 8) {
    data = png.data as Uint8Array;
  } else {
    throw new ModelFormatError(
      `Cannot decode PNG "${name}": bit depth ${png.depth} is not supported`,
    );
  }
  return { width, height, channels, data };
}

/** Encodes 8-bit pixels as PNG. */
export function encodePng(image: Image): Uint8Array {
  checkImage(image);
  return encode({
    width: image.width,
    height: image.height,
    channels: image.channels,
    depth: 8,
    data: image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data),
  });
}

/** Throws unless the image's fields agree. */
export function checkImage(image: Image): void {
  const { width, height, channels, data } = image ?? {};
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
    ![1, 2, 3, 4].includes(channels) || !data || data.length !== width * height * channels
  ) {
    throw new InvalidArgumentError(
      `Invalid image: ${width}x${height} with ${channels} channels needs ${
        width * height * channels
      } bytes, got ${data?.length}`,
    );
  }
}
