/**
 * The PNG codec and its zlib against independent implementations: node:zlib for deflate
 * streams (stored, fixed and dynamic blocks, every level), fast-png for 8- and 16-bit files,
 * and PNGs written here by hand (palettes with transparency, 1/2/4-bit depths, Adam7
 * interlacing, every filter type) compressed with node:zlib.
 */
import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { deflateSync, inflateSync } from "node:zlib";
import { decode, encode } from "npm:fast-png@8.0.0";
import { InvalidArgumentError, ModelFormatError } from "../../../../engine/errors.ts";
import { decodePng, encodePng, type Image } from "../../../../engine/models/sr/image.ts";
import { readPng, writePng } from "../../../../engine/models/sr/png.ts";
import { deflate, inflate } from "../../../../engine/models/sr/zlib.ts";
import { Random } from "../../../_random.ts";

const rng = new Random(31);

/** Bytes with some structure: runs, repeats at random distances, and noise. */
function mixed(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const kind = rng.int(0, 3);
    const len = Math.min(n - i, rng.int(1, 300));
    for (let k = 0; k < len; k++, i++) {
      out[i] = kind === 0
        ? 7
        : kind === 1 && i > 1000
        ? out[i - 1000 + (k % 3)]
        : kind === 2
        ? rng.int(0, 255)
        : (i >> 4) & 255;
    }
  }
  return out;
}

/** A smooth picture with some noise, like a photo. */
function photo(w: number, h: number, c: number): Uint8Array {
  const d = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        const v = 128 + 90 * Math.sin(x / (9 + k) + y / 13) * Math.cos(y / (7 + k)) +
          rng.int(-6, 6);
        d[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return d;
}

Deno.test("zlib: inflate reads node:zlib streams of every level, deflate writes what node:zlib reads", () => {
  for (const n of [0, 1, 2, 3, 100, 5000, 70000, 300000]) {
    for (
      const data of [
        mixed(n),
        new Uint8Array(n).fill(42),
        Uint8Array.from({ length: n }, () => rng.int(0, 255)),
      ]
    ) {
      for (const level of [0, 1, 6, 9]) {
        deepStrictEqual(inflate(deflateSync(data, { level }), n), data, `n ${n} level ${level}`);
      }
      const ours = deflate(data);
      deepStrictEqual(new Uint8Array(inflateSync(ours)), data, `n ${n}`);
      deepStrictEqual(inflate(ours, n), data);
    }
  }
  // A long run compresses to almost nothing; random bytes barely grow.
  ok(deflate(new Uint8Array(1e6)).length < 2000);
  const noise = Uint8Array.from({ length: 1e5 }, () => rng.int(0, 255));
  ok(deflate(noise).length < 1.01 * noise.length + 64);
});

Deno.test("zlib: broken streams throw", () => {
  const good = deflateSync(mixed(4000));
  const bad = [
    new Uint8Array([0x78]),
    new Uint8Array([0x79, 0x9c, 0, 0]),
    good.subarray(0, good.length / 2),
    Uint8Array.from([0x78, 0x9c, 0x07]), // block type 3
  ];
  for (const b of bad) throws(() => inflate(b, 4000), Error);
  throws(() => inflate(good, 3999), /more data/);
  throws(() => inflate(good, 4001), /truncated/);
  for (let i = 0; i < 300; i++) {
    const m = good.slice();
    m[rng.int(2, m.length - 5)] ^= 1 << rng.int(0, 7);
    try {
      inflate(m, 4000);
    } catch (e) {
      ok(e instanceof Error);
    }
  }
});

Deno.test("PNG: 8- and 16-bit files agree with fast-png both ways, and compress as well", () => {
  for (const [w, h] of [[1, 1], [7, 3], [33, 17], [64, 48]]) {
    for (const channels of [1, 2, 3, 4] as const) {
      const data = photo(w, h, channels);
      const image = { width: w, height: h, channels, data };
      // Ours → fast-png (which checks CRCs when asked).
      const ours = writePng(image);
      const back = decode(ours, { checkCrc: true });
      deepStrictEqual([back.width, back.height, back.channels, back.depth], [w, h, channels, 8]);
      deepStrictEqual(back.data, data);
      // fast-png → ours, 8 and 16 bits.
      deepStrictEqual(readPng(encode({ ...image, depth: 8 })), image);
      const deep = Uint16Array.from(data, (v) => v * 257 + (v & 1));
      deepStrictEqual(readPng(encode({ ...image, depth: 16, data: deep })), image);
    }
  }
  const big = { width: 256, height: 192, channels: 3 as const, data: photo(256, 192, 3) };
  const ours = writePng(big).length;
  const theirs = encode({ ...big, depth: 8 }).length;
  ok(ours < theirs, `ours ${ours} bytes, fast-png ${theirs}`);
});

/** Filters rows (filter type chosen per row by `filters`) and packs a PNG, zlib by node. */
function handPng(opts: {
  w: number;
  h: number;
  type: number;
  depth: number;
  samples: number[][];
  interlace?: boolean;
  plte?: number[];
  trns?: number[];
}): Uint8Array {
  const { w, h, type, depth, samples, interlace } = opts;
  const spp = samples[0].length;
  const passes = interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [
      0,
      1,
      1,
      2,
    ]]
    : [[0, 0, 1, 1]];
  const raw: number[] = [];
  const bpp = Math.max(1, (spp * depth) / 8);
  for (const [x0, y0, dx, dy] of passes) {
    let prev: number[] | undefined;
    for (let y = y0; y < h; y += dy) {
      if (x0 >= w) break;
      // Pack the row's samples at `depth` bits, big-endian.
      const bits: number[] = [];
      for (let x = x0; x < w; x += dx) {
        for (const v of samples[y * w + x]) {
          for (let b = depth - 1; b >= 0; b--) bits.push((v >> b) & 1);
        }
      }
      while (bits.length % 8) bits.push(0);
      const row = Array.from(
        { length: bits.length / 8 },
        (_, i) => bits.slice(i * 8, i * 8 + 8).reduce((a, b) => a * 2 + b, 0),
      );
      const f = (y + x0) % 5;
      const up = prev ?? row.map(() => 0);
      const filtered = row.map((v, i) => {
        const a = i >= bpp ? row[i - bpp] : 0;
        const c = i >= bpp ? up[i - bpp] : 0;
        const p = a + up[i] - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up[i]);
        const pc = Math.abs(p - c);
        const pred =
          [0, a, up[i], (a + up[i]) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? up[i] : c][f];
        return (v - pred) & 255;
      });
      raw.push(f, ...filtered);
      prev = row;
    }
  }
  const u32 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const chunk = (type: string, body: number[]) => {
    const tb = [...type].map((ch) => ch.charCodeAt(0)).concat(body);
    let c = 0xffffffff;
    for (const b of tb) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return [...u32(body.length), ...tb, ...u32((c ^ 0xffffffff) >>> 0)];
  };
  return Uint8Array.from([
    137,
    80,
    78,
    71,
    13,
    10,
    26,
    10,
    ...chunk("IHDR", [...u32(w), ...u32(h), depth, type, 0, 0, interlace ? 1 : 0]),
    ...(opts.plte ? chunk("PLTE", opts.plte) : []),
    ...(opts.trns ? chunk("tRNS", opts.trns) : []),
    ...chunk("tEXt", [...new TextEncoder().encode("Comment"), 0, 65]),
    ...chunk("IDAT", [...deflateSync(Uint8Array.from(raw))]),
    ...chunk("IEND", []),
  ]);
}

Deno.test("PNG: palettes, transparency, low bit depths and Adam7 interlacing decode exactly", () => {
  for (const interlace of [false, true]) {
    for (const [w, h] of [[1, 1], [5, 3], [13, 11], [17, 9]]) {
      const n = w * h;
      // Grey at 1, 2, 4 and 16 bits: scaled to 0…255, or the high byte.
      for (const depth of [1, 2, 4, 16]) {
        const max = 2 ** depth - 1;
        const v = Array.from({ length: n }, () => rng.int(0, max));
        const png = handPng({ w, h, type: 0, depth, samples: v.map((x) => [x]), interlace });
        const want = v.map((x) => (depth === 16 ? x >> 8 : Math.round((x * 255) / max)));
        deepStrictEqual(readPng(png), {
          width: w,
          height: h,
          channels: 1,
          data: Uint8Array.from(want),
        });
      }
      // Palettes at every depth, with and without tRNS (shorter than the palette).
      for (const depth of [1, 2, 4, 8]) {
        const colours = Math.min(2 ** depth, 5);
        const plte = Array.from({ length: colours * 3 }, () => rng.int(0, 255));
        const idx = Array.from({ length: n }, () => rng.int(0, colours - 1));
        for (const trns of [undefined, [0, 128]]) {
          const png = handPng({
            w,
            h,
            type: 3,
            depth,
            samples: idx.map((i) => [i]),
            interlace,
            plte,
            trns,
          });
          const c = trns ? 4 : 3;
          const want = idx.flatMap((i) => {
            const rgb = plte.slice(3 * i, 3 * i + 3);
            return trns ? [...rgb, trns[i] ?? 255] : rgb;
          });
          deepStrictEqual(readPng(png), {
            width: w,
            height: h,
            channels: c,
            data: Uint8Array.from(want),
          });
        }
      }
      // RGBA and grey + alpha at 16 bits.
      for (const [type, spp] of [[6, 4], [4, 2]]) {
        const s = Array.from(
          { length: n },
          () => Array.from({ length: spp }, () => rng.int(0, 65535)),
        );
        const png = handPng({ w, h, type, depth: 16, samples: s, interlace });
        deepStrictEqual(readPng(png).data, Uint8Array.from(s.flat(), (x) => x >> 8));
      }
    }
  }
});

Deno.test("PNG: images to encode are checked, each problem said as it is", () => {
  const data = photo(3, 2, 3);
  for (
    const [image, pattern] of [
      [{ width: 1.5, height: 2, channels: 3, data }, /size 1\.5x2 is not whole pixels/],
      [{ width: 3, height: 2, channels: 5, data }, /5 channels, not 1, 2, 3 or 4/],
      [{ width: 3, height: 2, channels: 3, data: new Float32Array(18) }, /not a Uint8Array/],
      [{ width: 3, height: 3, channels: 3, data }, /needs 27 bytes, its data has 18/],
    ] as const
  ) {
    throws(
      () => encodePng(image as unknown as Image),
      (e) => e instanceof InvalidArgumentError && pattern.test(e.message),
    );
  }
});

Deno.test("PNG: broken files are ModelFormatErrors naming the file", () => {
  const good = encodePng({ width: 9, height: 5, channels: 3, data: photo(9, 5, 3) });
  deepStrictEqual(decodePng(good).width, 9);
  const broken: [Uint8Array, RegExp][] = [
    [new Uint8Array([1, 2, 3]), /signature/],
    [good.subarray(0, 20), /truncated/],
    [good.subarray(0, good.length - 12), /truncated/],
  ];
  const flipped = good.slice();
  flipped[40] ^= 4;
  broken.push([flipped, /CRC|truncated|Huffman|data/]);
  // A header claiming a huge image is refused before anything is allocated for it.
  for (const side of [100_000, 0x7fffffff]) {
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(16, side);
    new DataView(huge.buffer).setUint32(20, side);
    broken.push([huge, new RegExp(`${side}x${side} pixels, more than`)]);
  }
  for (const [bytes, pattern] of broken) {
    throws(() => decodePng(bytes, "x.png"), (e) => {
      ok(e instanceof ModelFormatError && /"x\.png"/.test(e.message), String(e));
      ok(pattern.test(e.message), e.message);
      return true;
    });
  }
  for (let i = 0; i < 500; i++) {
    const m = good.slice();
    for (let k = rng.int(1, 3); k > 0; k--) m[rng.int(8, m.length - 1)] = rng.int(0, 255);
    try {
      decodePng(m, "m.png");
    } catch (e) {
      ok(e instanceof ModelFormatError, String(e));
    }
  }
});
