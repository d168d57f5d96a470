/**
 * Images in and out of super-resolution: PNG decode/encode (png.ts) to 8-bit RGB(A) pixels.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError } from "../../errors.ts";
import { readPng, writePng } from "./png.ts";

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

/** Most pixels a decoded PNG may have (256 megapixels: 1 GiB as RGBA). */
const MAX_PNG_PIXELS = 2 ** 28;

/**
 * Decodes a PNG (any colour type and bit depth, palettes, transparency, interlacing) to 8-bit
 * pixels: grey, grey + alpha, RGB or RGBA (palette images become RGB, or RGBA with a tRNS
 * chunk; 16-bit samples keep their high byte).
 */
export function decodePng(bytes: Uint8Array, name = "image"): Image {
  // The header's size is checked before anything is allocated for it.
  const header = bytes instanceof Uint8Array && bytes.length >= 24
    ? new DataView(bytes.buffer, bytes.byteOffset, 24)
    : undefined;
  const pixels = header ? header.getUint32(16) * header.getUint32(20) : 0;
  if (pixels > MAX_PNG_PIXELS) {
    throw new ModelFormatError(
      `Cannot decode PNG "${name}": its header says ${header!.getUint32(16)}x${
        header!.getUint32(20)
      } pixels, more than the ${MAX_PNG_PIXELS} decoded here`,
    );
  }
  try {
    return readPng(bytes);
  } catch (cause) {
    throw new ModelFormatError(`Cannot decode PNG "${name}": ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Encodes 8-bit pixels as PNG. */
export function encodePng(image: Image): Uint8Array {
  checkImage(image);
  const { data } = image;
  return writePng({
    ...image,
    data: data instanceof Uint8Array
      ? data
      : new Uint8Array(data.buffer, data.byteOffset, data.length),
  });
}

/** Throws unless the image's fields agree. */
export function checkImage(image: Image): void {
  const { width, height, channels, data } = image ?? {};
  const problem = !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1
    ? `its size ${width}x${height} is not whole pixels`
    : ![1, 2, 3, 4].includes(channels)
    ? `it has ${channels} channels, not 1, 2, 3 or 4`
    : !(data instanceof Uint8Array || data instanceof Uint8ClampedArray)
    ? "its data is not a Uint8Array or Uint8ClampedArray of 8-bit samples"
    : data.length !== width * height * channels
    ? `${width}x${height} with ${channels} channels needs ${
      width * height * channels
    } bytes, its data has ${data.length}`
    : undefined;
  if (problem) throw new InvalidArgumentError(`Invalid image: ${problem}`);
}
