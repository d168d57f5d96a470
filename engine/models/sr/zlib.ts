/**
 * zlib streams (RFC 1950 around RFC 1951 deflate), synchronous, for PNG: `inflate` reads every
 * block type into a buffer of the size the caller expects; `deflate` writes LZ77 matches
 * (hash chains, greedy) with a dynamic Huffman code per block. A few kilobytes of code where a
 * general-purpose library costs ten times more in the bundle.
 *
 * @module
 */

// Length codes 257…285 and distance codes 0…29: base values and extra bits (RFC 1951 3.2.5).
const LEN_EXTRA = Array.from({ length: 29 }, (_, i) => (i < 8 || i === 28 ? 0 : (i >> 2) - 1));
const LEN_BASE = LEN_EXTRA.map((_, i) => i);
for (let i = 0, b = 3; i < 29; b += 1 << LEN_EXTRA[i++]) LEN_BASE[i] = i === 28 ? 258 : b;
const DIST_EXTRA = Array.from({ length: 30 }, (_, i) => (i < 4 ? 0 : (i >> 1) - 1));
const DIST_BASE = DIST_EXTRA.map((_, i) => i);
for (let i = 0, b = 1; i < 30; b += 1 << DIST_EXTRA[i++]) DIST_BASE[i] = b;
/** Order in which code length code lengths are stored. */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/** The fixed literal/length and distance code lengths (block type 1). */
const FIXED_LENGTHS = Array.from(
  { length: 288 },
  (_, i) => (i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8),
);
const FIXED_DIST = new Array<number>(30).fill(5);

/** `code`'s low `n` bits in reverse order (Huffman codes are sent most significant bit first). */
function reverse(code: number, n: number): number {
  let r = 0;
  for (let i = 0; i < n; i++, code >>= 1) r = (r << 1) | (code & 1);
  return r;
}

/** Canonical codes of code lengths, bit-reversed for an LSB-first stream. */
function codes(lengths: readonly number[]): number[] {
  const count = new Array<number>(16).fill(0);
  for (const l of lengths) count[l]++;
  count[0] = 0;
  const next = [0];
  for (let l = 1, c = 0; l < 16; l++) next[l] = c = (c + count[l - 1]) << 1;
  return lengths.map((l) => (l ? reverse(next[l]++, l) : 0));
}

/**
 * A decoding table: indexed by the next `bits` input bits, each entry holds symbol << 4 |
 * length (0 for bit patterns no code starts with).
 */
interface Table {
  t: Uint16Array;
  bits: number;
}

function table(lengths: readonly number[]): Table {
  const bits = Math.max(1, ...lengths);
  let left = 1;
  for (let l = 1; l <= bits; l++) {
    left = 2 * left - lengths.filter((x) => x === l).length;
    if (left < 0) throw new Error("invalid Huffman code (over-subscribed)");
  }
  const t = new Uint16Array(1 << bits);
  codes(lengths).forEach((code, sym) => {
    const l = lengths[sym];
    for (let i = code; l && i < t.length; i += 1 << l) t[i] = (sym << 4) | l;
  });
  return { t, bits };
}

let fixed: [Table, Table] | undefined;

/** Decompresses a zlib stream whose data is exactly `size` bytes. */
export function inflate(data: Uint8Array, size: number): Uint8Array {
  if (data.length < 2 || (data[0] & 15) !== 8 || ((data[0] << 8) | data[1]) % 31) {
    throw new Error("not a zlib stream");
  }
  if (data[1] & 32) throw new Error("zlib preset dictionaries are not supported");
  const out = new Uint8Array(size);
  const end = data.length * 8;
  let p = 16;
  let o = 0;
  const bits = (n: number) => {
    const i = p >> 3;
    const v = ((data[i] | (data[i + 1] << 8) | (data[i + 2] << 16)) >> (p & 7)) & ((1 << n) - 1);
    p += n;
    if (p > end) throw new Error("the compressed data is truncated");
    return v;
  };
  const decode = ({ t, bits: n }: Table) => {
    const i = p >> 3;
    const e = t[((data[i] | (data[i + 1] << 8) | (data[i + 2] << 16)) >> (p & 7)) & ((1 << n) - 1)];
    if (!e) throw new Error("invalid Huffman code");
    p += e & 15;
    if (p > end) throw new Error("the compressed data is truncated");
    return e >> 4;
  };
  let last = 0;
  while (!last) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      const i = (p + 7) >> 3;
      const n = data[i] | (data[i + 1] << 8);
      if (i + 4 + n > data.length) throw new Error("the compressed data is truncated");
      if ((n ^ (data[i + 2] | (data[i + 3] << 8))) !== 0xffff) throw new Error("bad stored block");
      if (o + n > size) throw new Error("more data than expected");
      out.set(data.subarray(i + 4, i + 4 + n), o);
      o += n;
      p = (i + 4 + n) * 8;
      continue;
    }
    let lit: Table;
    let dist: Table;
    if (type === 1) {
      [lit, dist] = fixed ??= [table(FIXED_LENGTHS), table(FIXED_DIST)];
    } else if (type === 2) {
      const nlit = bits(5) + 257;
      const ndist = bits(5) + 1;
      const ncl = bits(4) + 4;
      const cl = new Array<number>(19).fill(0);
      for (let i = 0; i < ncl; i++) cl[CL_ORDER[i]] = bits(3);
      const clt = table(cl);
      const lengths: number[] = [];
      while (lengths.length < nlit + ndist) {
        const s = decode(clt);
        if (s < 16) lengths.push(s);
        else {
          if (s === 16 && !lengths.length) throw new Error("invalid repeat of no code length");
          const [v, n] = s === 16
            ? [lengths[lengths.length - 1], 3 + bits(2)]
            : [0, s === 17 ? 3 + bits(3) : 11 + bits(7)];
          for (let k = 0; k < n; k++) lengths.push(v);
        }
      }
      if (lengths.length > nlit + ndist) throw new Error("too many code lengths");
      lit = table(lengths.slice(0, nlit));
      dist = table(lengths.slice(nlit));
    } else {
      throw new Error("invalid block type 3");
    }
    for (;;) {
      let s = decode(lit);
      if (s < 256) {
        if (o >= size) throw new Error("more data than expected");
        out[o++] = s;
        continue;
      }
      if (s === 256) break;
      s -= 257;
      if (s >= 29) throw new Error("invalid length code");
      const n = LEN_BASE[s] + bits(LEN_EXTRA[s]);
      const ds = decode(dist);
      if (ds >= 30) throw new Error("invalid distance code");
      const d = DIST_BASE[ds] + bits(DIST_EXTRA[ds]);
      if (d > o) throw new Error("distance too far back");
      if (o + n > size) throw new Error("more data than expected");
      for (let k = 0; k < n; k++, o++) out[o] = out[o - d];
    }
  }
  if (o < size) throw new Error(`the data is truncated (${o} of ${size} bytes)`);
  return out;
}

/** Huffman code lengths of at most `limit` bits for symbol frequencies. */
function huffmanLengths(freq: number[], limit: number): number[] {
  // Every tree has at least two codes (a lone code still needs one bit; decoders expect it).
  for (let s = 0, used = freq.filter((f) => f).length; used < 2; s++) {
    if (!freq[s]) {
      freq[s] = 1;
      used++;
    }
  }
  for (;;) {
    type Node = { w: number; s: number; kids?: [Node, Node] };
    const q: Node[] = freq.flatMap((w, s) => (w ? [{ w, s }] : []));
    while (q.length > 1) {
      q.sort((a, b) => a.w - b.w);
      const [a, b] = q.splice(0, 2);
      q.push({ w: a.w + b.w, s: -1, kids: [a, b] });
    }
    const out = freq.map(() => 0);
    const walk = (n: Node, depth: number): void => {
      if (n.kids) n.kids.forEach((k) => walk(k, depth + 1));
      else out[n.s] = depth;
    };
    walk(q[0], 0);
    if (Math.max(...out) <= limit) return out;
    // Too deep: flatten the distribution and try again.
    freq = freq.map((f) => (f ? (f + 1) >> 1 : 0));
  }
}

/** Appends bits least significant first. */
class BitWriter {
  buf = new Uint8Array(1 << 16);
  n = 0;
  #acc = 0;
  #count = 0;

  put(value: number, bits: number): void {
    this.#acc |= value << this.#count;
    this.#count += bits;
    while (this.#count >= 8) {
      if (this.n === this.buf.length) {
        const grown = new Uint8Array(this.buf.length * 2);
        grown.set(this.buf);
        this.buf = grown;
      }
      this.buf[this.n++] = this.#acc & 255;
      this.#acc >>>= 8;
      this.#count -= 8;
    }
  }

  /** Pads to a whole byte; returns the bytes written. */
  finish(): Uint8Array {
    if (this.#count) this.put(0, 8 - this.#count);
    return this.buf.subarray(0, this.n);
  }
}

let lengthCode: Uint8Array | undefined;

function distanceCode(d: number): number {
  let c = 0;
  while (c < 29 && DIST_BASE[c + 1] <= d) c++;
  return c;
}

/** Writes one dynamic-Huffman block of LZ77 symbols. */
function writeBlock(w: BitWriter, lens: Uint16Array, vals: Uint16Array, n: number, last: boolean) {
  const lc = lengthCode!;
  const litFreq = new Array<number>(286).fill(0);
  const distFreq = new Array<number>(30).fill(0);
  const dcodes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (lens[i]) {
      litFreq[257 + lc[lens[i]]]++;
      distFreq[dcodes[i] = distanceCode(vals[i])]++;
    } else litFreq[vals[i]]++;
  }
  litFreq[256] = 1;
  const litLen = huffmanLengths(litFreq, 15);
  const distLen = huffmanLengths(distFreq, 15);
  let nlit = 286;
  while (nlit > 257 && !litLen[nlit - 1]) nlit--;
  let ndist = 30;
  while (ndist > 1 && !distLen[ndist - 1]) ndist--;
  // Code lengths, run-length coded with 16 (repeat previous), 17 and 18 (runs of zeros).
  const all = [...litLen.slice(0, nlit), ...distLen.slice(0, ndist)];
  const rle: [number, number][] = [];
  for (let i = 0; i < all.length;) {
    let run = 1;
    while (i + run < all.length && all[i + run] === all[i]) run++;
    if (all[i] === 0 && run >= 3) {
      run = Math.min(run, 138);
      rle.push(run >= 11 ? [18, run - 11] : [17, run - 3]);
    } else {
      rle.push([all[i], 0]);
      if (all[i] !== 0 && run >= 4) {
        run = Math.min(run, 7);
        rle.push([16, run - 4]);
      } else run = 1;
    }
    i += run;
  }
  const clFreq = new Array<number>(19).fill(0);
  for (const [s] of rle) clFreq[s]++;
  const clLen = huffmanLengths(clFreq, 7);
  let ncl = 19;
  while (ncl > 4 && !clLen[CL_ORDER[ncl - 1]]) ncl--;
  w.put(last ? 1 : 0, 1);
  w.put(2, 2);
  w.put(nlit - 257, 5);
  w.put(ndist - 1, 5);
  w.put(ncl - 4, 4);
  for (let i = 0; i < ncl; i++) w.put(clLen[CL_ORDER[i]], 3);
  const clCode = codes(clLen);
  for (const [s, extra] of rle) {
    w.put(clCode[s], clLen[s]);
    if (s >= 16) w.put(extra, s === 16 ? 2 : s === 17 ? 3 : 7);
  }
  const litCode = codes(litLen);
  const distCode = codes(distLen);
  for (let i = 0; i < n; i++) {
    if (lens[i]) {
      const c = lc[lens[i]];
      w.put(litCode[257 + c], litLen[257 + c]);
      w.put(lens[i] - LEN_BASE[c], LEN_EXTRA[c]);
      const d = dcodes[i];
      w.put(distCode[d], distLen[d]);
      w.put(vals[i] - DIST_BASE[d], DIST_EXTRA[d]);
    } else w.put(litCode[vals[i]], litLen[vals[i]]);
  }
  w.put(litCode[256], litLen[256]);
}

/** Compresses bytes into a zlib stream. */
export function deflate(data: Uint8Array): Uint8Array {
  if (!lengthCode) {
    lengthCode = new Uint8Array(259);
    for (let c = 0; c < 29; c++) {
      for (let l = LEN_BASE[c]; l < (c === 28 ? 259 : LEN_BASE[c + 1]); l++) lengthCode[l] = c;
    }
  }
  const w = new BitWriter();
  w.put(0x9c78, 16);
  const BLOCK = 1 << 16;
  const lens = new Uint16Array(BLOCK);
  const vals = new Uint16Array(BLOCK);
  const head = new Int32Array(1 << 15).fill(-1);
  const prev = new Int32Array(1 << 15);
  const n = data.length;
  const hash = (i: number) => ((data[i] << 10) ^ (data[i + 1] << 5) ^ data[i + 2]) & 0x7fff;
  const insert = (i: number) => {
    if (i + 2 >= n) return;
    const h = hash(i);
    prev[i & 0x7fff] = head[h];
    head[h] = i;
  };
  let k = 0;
  for (let i = 0; i < n;) {
    let best = 0;
    let bestDist = 0;
    if (i + 2 < n) {
      const max = Math.min(258, n - i);
      for (let j = head[hash(i)], chain = 0; j >= 0 && i - j <= 32768 && chain < 64; chain++) {
        if (data[j + best] === data[i + best]) {
          let l = 0;
          while (l < max && data[j + l] === data[i + l]) l++;
          if (l > best) {
            best = l;
            bestDist = i - j;
            if (l === max) break;
          }
        }
        j = prev[j & 0x7fff];
      }
    }
    if (best >= 3) {
      lens[k] = best;
      vals[k++] = bestDist;
      for (const e = i + best; i < e; i++) insert(i);
    } else {
      lens[k] = 0;
      vals[k++] = data[i];
      insert(i++);
    }
    if (k === BLOCK) {
      writeBlock(w, lens, vals, k, false);
      k = 0;
    }
  }
  writeBlock(w, lens, vals, k, true);
  w.finish();
  let a = 1;
  let b = 0;
  for (let i = 0; i < n;) {
    // Sums stay exact in doubles over 5552-byte runs, as in zlib.
    for (const e = Math.min(n, i + 5552); i < e; i++) b += a += data[i];
    a %= 65521;
    b %= 65521;
  }
  for (const byte of [b >> 8, b & 255, a >> 8, a & 255]) w.put(byte, 8);
  return w.finish().slice();
}
