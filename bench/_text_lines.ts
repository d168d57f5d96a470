/**
 * Printed text lines for OCR benches, rendered from the TrueType fonts most Linux systems ship
 * (DejaVu, Liberation): real glyph shapes, deterministic, and no image dependency. A minimal
 * TrueType reader (cmap format 4, simple and composite glyphs, quadratic outlines, advance
 * widths; no hinting, no kerning) and an anti-aliased scanline filler (non-zero winding).
 */
import { Random } from "../tests/_random.ts";

/** A point of an outline in font units (y up). */
type Point = [number, number];

/** A parsed font: metrics and glyph outlines by character. */
export interface Font {
  /** File the font was read from. */
  path: string;
  /** Font units per em. */
  unitsPerEm: number;
  /** Ascender and descender (negative) in font units. */
  ascender: number;
  descender: number;
  /** Advance width and closed polylines of a character (empty for space or unmapped). */
  glyph(char: string): { advance: number; contours: Point[][] };
}

/** Reads a TrueType (glyf-outline) font file. */
export function parseFont(bytes: Uint8Array, path = ""): Font {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o);
  const i16 = (o: number) => dv.getInt16(o);
  const tables = new Map<string, number>();
  for (let i = 0; i < u16(4); i++) {
    const rec = 12 + 16 * i;
    tables.set(String.fromCharCode(...bytes.subarray(rec, rec + 4)), dv.getUint32(rec + 8));
  }
  const table = (tag: string) => {
    const at = tables.get(tag);
    if (at === undefined) throw new Error(`Font "${path}" has no "${tag}" table`);
    return at;
  };
  const head = table("head");
  const hhea = table("hhea");
  const hmtx = table("hmtx");
  const loca = table("loca");
  const glyf = table("glyf");
  const cmap = table("cmap");
  const longLoca = i16(head + 50) === 1;
  const hMetrics = u16(hhea + 34);
  let sub = -1;
  for (let i = 0; i < u16(cmap + 2); i++) {
    const rec = cmap + 4 + 8 * i;
    const at = cmap + dv.getUint32(rec + 4);
    const unicode = u16(rec) === 0 || (u16(rec) === 3 && u16(rec + 2) === 1);
    if (unicode && u16(at) === 4) sub = at;
  }
  if (sub < 0) throw new Error(`Font "${path}" has no Unicode cmap of format 4`);
  const segX2 = u16(sub + 6);
  const glyphIndex = (code: number) => {
    for (let s = 0; s < segX2; s += 2) {
      if (u16(sub + 14 + s) < code) continue;
      const start = u16(sub + 16 + segX2 + s);
      if (start > code) return 0;
      const delta = u16(sub + 16 + 2 * segX2 + s);
      const roAt = sub + 16 + 3 * segX2 + s;
      const ro = u16(roAt);
      if (ro === 0) return (code + delta) & 0xffff;
      const g = u16(roAt + ro + 2 * (code - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const offset = (g: number) =>
    glyf + (longLoca ? dv.getUint32(loca + 4 * g) : 2 * u16(loca + 2 * g));
  const outline = (g: number, depth = 0): Point[][] => {
    const p = offset(g);
    if (offset(g + 1) === p || depth > 8) return [];
    const count = i16(p);
    if (count < 0) return composite(p + 10, depth);
    const ends = Array.from({ length: count }, (_, i) => u16(p + 10 + 2 * i));
    const n = count ? ends[count - 1] + 1 : 0;
    let q = p + 12 + 2 * count + u16(p + 10 + 2 * count);
    const flags: number[] = [];
    while (flags.length < n) {
      const f = bytes[q++];
      flags.push(f);
      if (f & 8) { for (let r = bytes[q++]; r > 0; r--) flags.push(f); }
    }
    const coords = (short: number, same: number) => {
      const out: number[] = [];
      let v = 0;
      for (const f of flags) {
        if (f & short) v += f & same ? bytes[q++] : -bytes[q++];
        else if (!(f & same)) (v += i16(q)), (q += 2);
        out.push(v);
      }
      return out;
    };
    const xs = coords(2, 16);
    const ys = coords(4, 32);
    const contours: Point[][] = [];
    let from = 0;
    for (const end of ends) {
      const pts = Array.from({ length: end - from + 1 }, (_, i) => from + i);
      contours.push(flatten(pts.map((i) => [xs[i], ys[i], flags[i] & 1] as const)));
      from = end + 1;
    }
    return contours;
  };
  const composite = (q: number, depth: number): Point[][] => {
    const out: Point[][] = [];
    for (;;) {
      const flags = u16(q);
      const g = u16(q + 2);
      q += 4;
      let dx: number;
      let dy: number;
      if (flags & 1) [dx, dy, q] = [i16(q), i16(q + 2), q + 4];
      else [dx, dy, q] = [dv.getInt8(q), dv.getInt8(q + 1), q + 2];
      if (!(flags & 2)) [dx, dy] = [0, 0]; // point matching: not used by the fonts read here
      const f2 = (o: number) => i16(o) / 16384;
      let [a, b, c, d] = [1, 0, 0, 1];
      if (flags & 8) [a, d, q] = [f2(q), f2(q), q + 2];
      else if (flags & 0x40) [a, d, q] = [f2(q), f2(q + 2), q + 4];
      else if (flags & 0x80) [a, b, c, d, q] = [f2(q), f2(q + 2), f2(q + 4), f2(q + 6), q + 8];
      for (const contour of outline(g, depth + 1)) {
        out.push(contour.map(([x, y]) => [a * x + c * y + dx, b * x + d * y + dy]));
      }
      if (!(flags & 0x20)) return out;
    }
  };
  return {
    path,
    unitsPerEm: u16(head + 18),
    ascender: i16(hhea + 4),
    descender: i16(hhea + 6),
    glyph(char: string) {
      const g = glyphIndex(char.codePointAt(0)!);
      const advance = u16(hmtx + 4 * Math.min(g, hMetrics - 1));
      return { advance, contours: outline(g) };
    },
  };
}

/** A contour of on/off-curve points as a closed polyline (quadratic curves in 6 steps). */
function flatten(pts: (readonly [number, number, number])[]): Point[] {
  if (pts.length === 0) return [];
  const mid = (a: readonly number[], b: readonly number[]) =>
    [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, 1] as const;
  // Start on an on-curve point (or the implied one between two off-curve points).
  const first = pts.findIndex((p) => p[2]);
  const ring = first < 0
    ? [mid(pts[pts.length - 1], pts[0]), ...pts]
    : [...pts.slice(first), ...pts.slice(0, first)];
  const out: Point[] = [[ring[0][0], ring[0][1]]];
  let prev = ring[0];
  for (let i = 1; i <= ring.length; i++) {
    const p = ring[i % ring.length];
    if (p[2]) {
      out.push([p[0], p[1]]);
      prev = p;
      continue;
    }
    const next = ring[(i + 1) % ring.length];
    const end = next[2] ? next : mid(p, next);
    for (let s = 1; s <= 6; s++) {
      const t = s / 6;
      const u = 1 - t;
      out.push([
        u * u * prev[0] + 2 * u * t * p[0] + t * t * end[0],
        u * u * prev[1] + 2 * u * t * p[1] + t * t * end[1],
      ]);
    }
    prev = end;
    if (next[2]) i++;
  }
  return out;
}

/**
 * Fills polygons (pixel coordinates, y down) into a coverage map with non-zero winding,
 * anti-aliased: 4 sample rows per pixel, exact horizontal coverage.
 */
function fill(polys: Point[][], width: number, height: number): Float32Array {
  const cov = new Float32Array(width * height);
  const SUB = 4;
  const edges = polys.flatMap((p) =>
    p.map((a, i) => [a, p[(i + 1) % p.length]] as const).filter(([a, b]) => a[1] !== b[1])
  );
  for (let sy = 0; sy < height * SUB; sy++) {
    const y = (sy + 0.5) / SUB;
    const hits: [number, number][] = [];
    for (const [a, b] of edges) {
      if ((y < a[1]) === (y < b[1])) continue;
      hits.push([a[0] + ((y - a[1]) / (b[1] - a[1])) * (b[0] - a[0]), b[1] > a[1] ? 1 : -1]);
    }
    hits.sort((p, q) => p[0] - q[0]);
    const row = Math.floor(sy / SUB) * width;
    let wind = 0;
    for (let h = 0; h + 1 < hits.length; h++) {
      wind += hits[h][1];
      if (wind === 0) continue;
      const x0 = Math.max(0, hits[h][0]);
      const x1 = Math.min(width, hits[h + 1][0]);
      for (let x = Math.floor(x0); x < x1; x++) {
        cov[row + x] += (Math.min(x1, x + 1) - Math.max(x0, x)) / SUB;
      }
    }
  }
  return cov;
}

/** Width in pixels of `text` at `px` pixels per em. */
export function textWidth(font: Font, text: string, px: number): number {
  let w = 0;
  for (const ch of text) w += font.glyph(ch).advance;
  return (w * px) / font.unitsPerEm;
}

/** Draws `text` into a coverage map [height][width], baseline at `baseline`, from `x0`. */
export function drawText(
  font: Font,
  text: string,
  options: { px: number; width: number; height: number; x0: number; baseline: number },
): Float32Array {
  const s = options.px / font.unitsPerEm;
  const polys: Point[][] = [];
  let pen = options.x0;
  for (const ch of text) {
    const g = font.glyph(ch);
    for (const c of g.contours) {
      polys.push(c.map(([x, y]) => [pen + x * s, options.baseline - y * s]));
    }
    pen += g.advance * s;
  }
  return fill(polys, options.width, options.height);
}

/** Font files tried in order; the lines use every one found. */
export const FONT_FILES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf",
];

/** The fonts of `FONT_FILES` present on this machine (an error naming them when none is). */
export async function systemFonts(): Promise<Font[]> {
  const fonts: Font[] = [];
  for (const path of FONT_FILES) {
    try {
      fonts.push(parseFont(await Deno.readFile(path), path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (!fonts.length) {
    throw new Error(
      `No TrueType font found to render text lines: install DejaVu or Liberation fonts ` +
        `(looked for ${FONT_FILES.join(", ")})`,
    );
  }
  return fonts;
}

const WORDS = (
  "the of and to in is was for on that with as by at from his her they this have are not " +
  "but had which one all were when there can been has more will their if out so said what " +
  "up its about into than them only other new some could time these two may first then do " +
  "any like my now over such our man me even most made after also did many before must " +
  "through back years where much your way well down should because each just those people " +
  "how too little state good very make world still own see men work long get here between " +
  "both life being under never day same another know while last might us great old year off " +
  "come since against go came right used take three invoice total amount date order number " +
  "street city phone email price quantity account payment balance receipt customer station " +
  "north south east west open closed exit entrance parking monday friday january october " +
  "London Paris Berlin Tokyo Madrid Chicago Toronto Sydney Oslo Vienna Quartet Model Report " +
  "Table Figure Chapter Section Page Note Summary Results Method Data Image Text Line Word"
).split(" ");

/** A random printed token: mostly words, sometimes numbers, prices, dates or codes. */
function token(rng: Random): string {
  const r = rng.next();
  const pad = (v: number) => String(v).padStart(2, "0");
  if (r < 0.1) return String(rng.int(0, 9999));
  if (r < 0.14) return `${rng.int(1, 999)}.${pad(rng.int(0, 99))}`;
  if (r < 0.17) return `${pad(rng.int(1, 28))}/${pad(rng.int(1, 12))}/${rng.int(1990, 2030)}`;
  if (r < 0.19) return `${"ABCDEFGHKLMNPRSTXZ"[rng.int(0, 17)]}-${rng.int(10, 999)}`;
  return WORDS[rng.int(0, WORDS.length - 1)];
}

/** Tokens appended while the line stays within `fits`; a capital first, maybe punctuation. */
function sentence(rng: Random, fits: (text: string) => boolean): string {
  const first = token(rng);
  let text = first[0].toUpperCase() + first.slice(1);
  for (let n = 0; n < 16; n++) {
    const longer = `${text} ${token(rng)}`;
    if (!fits(longer)) break;
    text = longer;
  }
  const end = rng.next();
  const punct = end < 0.3 ? "." : end < 0.4 ? "," : end < 0.45 ? ":" : "";
  return punct && fits(text + punct) ? text + punct : text;
}

/** One rendered line: 8-bit gray values [height][width] (text dark on light, or inverted). */
export interface TextLine {
  text: string;
  font: string;
  width: number;
  height: number;
  gray: Float32Array;
}

/**
 * Deterministic printed lines of height `height` and width at most `maxWidth`: random words
 * in a random font and size, position jitter, varied contrast and polarity, sensor noise.
 */
export function textLines(
  fonts: readonly Font[],
  count: number,
  options: { seed: number; height?: number; maxWidth: number; minWidth?: number },
): TextLine[] {
  const rng = new Random(options.seed);
  const height = options.height ?? 48;
  const lines: TextLine[] = [];
  while (lines.length < count) {
    const font = fonts[lines.length % fonts.length];
    // Glyph box (ascender − descender) filling 70–95 % of the line height.
    const px = (rng.uniform(0.7, 0.95) * height * font.unitsPerEm) /
      (font.ascender - font.descender);
    const target = rng.uniform(options.minWidth ?? 0.4 * options.maxWidth, options.maxWidth - 6);
    const text = sentence(rng, (t) => textWidth(font, t, px) <= target);
    const w = Math.ceil(textWidth(font, text, px));
    if (w < 8 || w + 4 > options.maxWidth) continue;
    const margin = rng.int(1, Math.max(1, Math.min(8, options.maxWidth - w - 2)));
    const width = Math.min(options.maxWidth, w + margin + rng.int(2, 8));
    const boxHeight = ((font.ascender - font.descender) * px) / font.unitsPerEm;
    const top = (height - boxHeight) / 2 + rng.uniform(-2, 2);
    const cov = drawText(font, text, {
      px,
      width,
      height,
      x0: margin,
      baseline: top + (font.ascender * px) / font.unitsPerEm,
    });
    const dark = rng.uniform(0, 90);
    const light = rng.uniform(170, 255);
    const [ink, paper] = rng.next() < 0.15 ? [light, dark] : [dark, light];
    const noise = rng.uniform(0, 8);
    const gray = new Float32Array(width * height);
    for (let i = 0; i < gray.length; i++) {
      const c = Math.min(1, cov[i]);
      const v = paper + (ink - paper) * c + noise * (rng.next() + rng.next() + rng.next() - 1.5);
      gray[i] = Math.max(0, Math.min(255, v));
    }
    lines.push({ text, font: font.path.split("/").pop()!, width, height, gray });
  }
  return lines;
}
