/**
 * PNG files (ISO/IEC 15948) to and from 8-bit pixels: every colour type and bit depth,
 * palettes with transparency, Adam7 interlacing on read; 8-bit grey, grey + alpha, RGB or RGBA
 * with a per-row adaptive filter on write. Errors are plain `Error`s; image.ts names the file.
 *
 * @module
 */
import { deflate, inflate } from "./zlib.ts";

/** 8-bit pixels, row-major, interleaved. */
export interface Pixels {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Samples per pixel of each colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Allowed bit depths of each colour type, as bit masks of the depth. */
const DEPTHS: Record<number, number> = { 0: 0x10116, 2: 0x10100, 3: 0x116, 4: 0x10100, 6: 0x10100 };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (const b of bytes) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Reverses filter `type` on `row` in place, given the previous (unfiltered) row. */
function unfilter(type: number, row: Uint8Array, up: Uint8Array | undefined, bpp: number): void {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = up ? up[i] : 0;
    const c = up && i >= bpp ? up[i - bpp] : 0;
    row[i] += type === 1
      ? a
      : type === 2
      ? b
      : type === 3
      ? (a + b) >> 1
      : type === 4
      ? paeth(a, b, c)
      : 0;
  }
}

/** Decodes a PNG file to 8-bit pixels (16-bit samples keep their high byte). */
export function readPng(bytes: Uint8Array): Pixels {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new Error("not a PNG file (bad signature)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: { w: number; h: number; depth: number; type: number; interlace: number } | undefined;
  let palette: Uint8Array | undefined;
  let alpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let p = 8;;) {
    if (p + 12 > bytes.length) throw new Error("the file is truncated");
    const length = view.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    const start = p + 8;
    p = start + length + 4;
    if (p > bytes.length) throw new Error(`chunk ${type} is truncated`);
    const body = bytes.subarray(start, start + length);
    // Critical chunks (upper-case first letter) must be intact; the others are skipped.
    const critical = type.charCodeAt(0) < 97;
    if (critical && crc32(bytes.subarray(start - 4, start + length)) !== view.getUint32(p - 4)) {
      throw new Error(`chunk ${type} is corrupt (CRC mismatch)`);
    }
    if (!header && type !== "IHDR") throw new Error("the IHDR chunk is missing");
    if (type === "IHDR") {
      if (length < 13) throw new Error("chunk IHDR is truncated");
      header = {
        w: view.getUint32(start),
        h: view.getUint32(start + 4),
        depth: body[8],
        type: body[9],
        interlace: body[12],
      };
      if (!header.w || !header.h || header.w > 2 ** 31 || header.h > 2 ** 31) {
        throw new Error(`invalid size ${header.w}x${header.h}`);
      }
      if (header.depth > 16 || !((DEPTHS[header.type] ?? 0) & (1 << header.depth))) {
        throw new Error(`invalid colour type ${header.type} with bit depth ${header.depth}`);
      }
      if (body[10] || body[11] || header.interlace > 1) {
        throw new Error("unknown compression, filter or interlace method");
      }
    } else if (type === "PLTE") palette = body;
    else if (type === "tRNS") alpha = body;
    else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
  }
  const { w, h, depth, type, interlace } = header!;
  if (type === 3 && !palette) throw new Error("the palette (PLTE chunk) is missing");
  const samples = SAMPLES[type];
  const bpp = Math.max(1, (samples * depth) >> 3);
  const passes = (interlace ? ADAM7 : [[0, 0, 1, 1]]).map(([x0, y0, dx, dy]) => {
    const pw = Math.ceil((w - x0) / dx);
    const ph = Math.ceil((h - y0) / dy);
    return { x0, y0, dx, dy, pw, ph, stride: pw && ph ? Math.ceil((pw * samples * depth) / 8) : 0 };
  });
  const compressed = new Uint8Array(idat.reduce((s, c) => s + c.length, 0));
  idat.reduce((at, c) => (compressed.set(c, at), at + c.length), 0);
  const raw = inflate(
    compressed,
    passes.reduce((s, q) => s + (q.stride ? q.ph * (1 + q.stride) : 0), 0),
  );
  // Palette images become RGB, or RGBA when the palette has transparency.
  const channels = (type === 3 ? (alpha ? 4 : 3) : samples) as 1 | 2 | 3 | 4;
  const data = new Uint8Array(w * h * channels);
  const max = (1 << depth) - 1;
  let at = 0;
  for (const { x0, y0, dx, dy, pw, ph, stride } of passes) {
    if (!stride) continue;
    let up: Uint8Array | undefined;
    for (let y = 0; y < ph; y++, at += 1 + stride) {
      const filter = raw[at];
      if (filter > 4) throw new Error(`invalid filter type ${filter}`);
      const row = raw.subarray(at + 1, at + 1 + stride);
      unfilter(filter, row, up, bpp);
      up = row;
      for (let x = 0; x < pw; x++) {
        const o = ((y0 + y * dy) * w + x0 + x * dx) * channels;
        for (let s = 0; s < samples; s++) {
          const k = x * samples + s;
          const v = depth === 16
            ? row[2 * k]
            : depth === 8
            ? row[k]
            : (row[(k * depth) >> 3] >> (8 - depth - ((k * depth) & 7))) & max;
          if (type === 3) {
            // An index past the palette reads as opaque black.
            const known = 3 * v + 2 < palette!.length;
            for (let c = 0; c < channels; c++) {
              data[o + c] = c < 3
                ? (known ? palette![3 * v + c] : 0)
                : known
                ? alpha![v] ?? 255
                : 255;
            }
          } else data[o + s] = depth < 8 ? Math.round((v * 255) / max) : v;
        }
      }
    }
  }
  return { width: w, height: h, channels, data };
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** Encodes 8-bit pixels as a PNG file. */
export function writePng(image: Pixels): Uint8Array {
  const { width: w, height: h, channels: c, data } = image;
  const stride = w * c;
  const filtered = new Uint8Array(h * (stride + 1));
  const trial = new Uint8Array(stride);
  for (let y = 0; y < h; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const up = y ? data.subarray((y - 1) * stride, y * stride) : undefined;
    // Each row takes the filter whose output has the smallest sum of |signed bytes|.
    let best = Infinity;
    for (let f = 0; f < 5; f++) {
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= c ? row[i - c] : 0;
        const b = up ? up[i] : 0;
        const p = f === 0
          ? 0
          : f === 1
          ? a
          : f === 2
          ? b
          : f === 3
          ? (a + b) >> 1
          : paeth(a, b, up && i >= c ? up[i - c] : 0);
        trial[i] = row[i] - p;
        cost += trial[i] < 128 ? trial[i] : 256 - trial[i];
      }
      if (cost < best) {
        best = cost;
        filtered[y * (stride + 1)] = f;
        filtered.set(trial, y * (stride + 1) + 1);
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, w);
  view.setUint32(4, h);
  ihdr[8] = 8;
  ihdr[9] = [0, 0, 4, 2, 6][c];
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflate(filtered)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}
