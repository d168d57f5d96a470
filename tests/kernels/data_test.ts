/**
 * The data-movement kernels called directly, against index-arithmetic references: every
 * inner-loop path of x8_copy_nd (row copies, broadcast fill, tiled transpose, zip, even/odd
 * split, negative strides) for each element width, x8_gather, the nearest resize, and the
 * resize-axis / bilinear kernels including the windowed row gather.
 */
import { kernelsFor, VARIANTS } from "../_kernels.ts";
import { assertClose } from "../_assert.ts";
import { Random } from "../_random.ts";
import type { Kernels } from "../../engine/wasm/kernels.ts";

const ES = [1, 2, 4, 8];

function randomBytes(rng: Random, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

function put(kr: Kernels, bytes: Uint8Array): number {
  const off = kr.arena.alloc(bytes.length);
  kr.arena.u8(off, bytes.length).set(bytes);
  return off;
}

function putI32(kr: Kernels, v: ArrayLike<number>): number {
  return put(kr, new Uint8Array(Int32Array.from(v).buffer));
}

function putF32(kr: Kernels, v: ArrayLike<number>): number {
  return put(kr, new Uint8Array(Float32Array.from(v).buffer));
}

function sameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) throw new Error(`${what}: byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** Reference strided copy: walks every index of dims. */
function copyRef(
  dims: number[],
  ss: number[],
  ds: number[],
  es: number,
  src: Uint8Array,
  s0: number,
  dst: Uint8Array,
  d0: number,
): void {
  const n = dims.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let s = s0;
    let d = d0;
    for (let k = dims.length - 1; k >= 0; k--) {
      const c = rest % dims[k];
      rest = Math.floor(rest / dims[k]);
      s += c * ss[k];
      d += c * ds[k];
    }
    for (let b = 0; b < es; b++) dst[d * es + b] = src[s * es + b];
  }
}

interface CopyCase {
  dims: number[];
  ss: number[];
  ds: number[];
}

/** Cases hitting each inner path; src strides may be negative (start at the far end). */
function copyCases(rng: Random): CopyCase[] {
  const cs = (d: number[]) => {
    const s = new Array<number>(d.length);
    let a = 1;
    for (let i = d.length - 1; i >= 0; i--) {
      s[i] = a;
      a *= d[i];
    }
    return s;
  };
  const out: CopyCase[] = [];
  for (const [r, c] of [[1, 1], [3, 5], [7, 64], [2, 33], [130, 129], [5, 4], [67, 2], [17, 3]]) {
    // Rows, transpose, broadcast, zip (C = 2 with dR = 2), every-other gather, reversed rows.
    out.push({ dims: [r, c], ss: [c, 1], ds: [c, 1] });
    out.push({ dims: [r, c], ss: [1, r], ds: [c, 1] });
    out.push({ dims: [r, c], ss: [1, 0], ds: [c, 1] });
    out.push({ dims: [2, r, c], ss: [0, 1, 0], ds: [r * c, c, 1] });
    out.push({ dims: [r, c], ss: [2 * c, 2], ds: [c, 1] });
    out.push({ dims: [r, c], ss: [-c, -1], ds: [c, 1] });
    out.push({ dims: [r, c], ss: [c, 1], ds: [1, r] });
  }
  for (let k = 0; k < 12; k++) {
    const rank = rng.int(1, 6);
    const dims = Array.from({ length: rank }, () => rng.int(1, 6));
    const perm = [...dims.keys()].sort(() => rng.next() - 0.5);
    const st = cs(perm.map((p) => dims[p]));
    const ss = dims.map((_, i) => st[perm.indexOf(i)]);
    out.push({ dims, ss, ds: cs(dims) });
  }
  return out;
}

for (const variant of VARIANTS) {
  Deno.test(`x8_copy_nd matches the reference on every inner path and width: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(81);
    for (const es of ES) {
      for (const { dims, ss, ds } of copyCases(rng)) {
        // Source extent and start so that negative strides stay in bounds.
        let lo = 0;
        let hi = 0;
        dims.forEach((d, k) => (ss[k] < 0 ? (lo += (d - 1) * ss[k]) : (hi += (d - 1) * ss[k])));
        const srcN = hi - lo + 1;
        let dstN = 1;
        dims.forEach((d, k) => (dstN += (d - 1) * ds[k]));
        const src = randomBytes(rng, srcN * es);
        const want = randomBytes(rng, dstN * es);
        const ps = put(kr, src);
        const pd = put(kr, want);
        const params = putI32(kr, [...dims, ...ss, ...ds]);
        kr.fn.x8_copy_nd(dims.length, es, params, ps - lo * es, pd);
        copyRef(dims, ss, ds, es, src, -lo, want, 0);
        sameBytes(kr.arena.u8(pd, want.length), want, `es ${es} dims ${dims} src ${ss} dst ${ds}`);
        for (const p of [ps, pd, params]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`x8_gather copies whole blocks by index: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(82);
    for (const bytes of [1, 2, 3, 4, 8, 12, 64, 100, 256]) {
      for (const [outer, axis, count] of [[1, 1, 1], [3, 7, 5], [2, 13, 40], [5, 1, 3]]) {
        const src = randomBytes(rng, outer * axis * bytes);
        const idx = Array.from({ length: count }, () => rng.int(0, axis - 1));
        const ps = put(kr, src);
        const pi = putI32(kr, idx);
        const pd = kr.arena.alloc(outer * count * bytes);
        kr.fn.x8_gather(outer, count, axis, bytes, pi, ps, pd);
        const want = new Uint8Array(outer * count * bytes);
        for (let o = 0; o < outer; o++) {
          idx.forEach((v, i) => {
            const s = (o * axis + v) * bytes;
            want.set(src.subarray(s, s + bytes), (o * count + i) * bytes);
          });
        }
        sameBytes(
          kr.arena.u8(pd, want.length),
          want,
          `bytes ${bytes} ${outer}x${axis} -> ${count}`,
        );
        for (const p of [ps, pi, pd]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`x8_resize_nearest_2d follows its tables (and the exact-2x path): ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(83);
    for (const es of ES) {
      for (
        const [inH, inW, outH, outW, dup] of [
          [3, 5, 6, 10, true],
          [4, 9, 8, 18, true],
          [7, 8, 3, 21, false],
          [1, 1, 5, 2, true],
          [5, 13, 5, 7, false],
        ] as [number, number, number, number, boolean][]
      ) {
        const planesIn = 3;
        const pidx = [2, 0, 1, 1];
        const yidx = Array.from(
          { length: outH },
          (_, y) => Math.min(Math.floor((y * inH) / outH), inH - 1),
        );
        const xidx = dup
          ? Array.from({ length: outW }, (_, x) => x >> 1)
          : Array.from({ length: outW }, () => rng.int(0, inW - 1));
        const src = randomBytes(rng, planesIn * inH * inW * es);
        const ps = put(kr, src);
        const tp = [putI32(kr, pidx), putI32(kr, yidx), putI32(kr, xidx)];
        const pd = kr.arena.alloc(pidx.length * outH * outW * es);
        kr.fn.x8_resize_nearest_2d(
          es,
          pidx.length,
          inH,
          inW,
          outH,
          outW,
          tp[0],
          tp[1],
          tp[2],
          dup ? 1 : 0,
          ps,
          pd,
        );
        const want = new Uint8Array(pidx.length * outH * outW * es);
        pidx.forEach((p, q) => {
          for (let y = 0; y < outH; y++) {
            for (let x = 0; x < outW; x++) {
              const s = ((p * inH + yidx[y]) * inW + xidx[x]) * es;
              want.set(src.subarray(s, s + es), ((q * outH + y) * outW + x) * es);
            }
          }
        });
        sameBytes(kr.arena.u8(pd, want.length), want, `es ${es} ${inH}x${inW} -> ${outH}x${outW}`);
        for (const p of [ps, ...tp, pd]) kr.arena.free(p);
      }
    }
  });

  Deno.test(`f32_resize_axis and f32_resize_linear_2d compute their weighted sums: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(84);
    for (const taps of [1, 2, 3, 4]) {
      for (
        const [outer, inLen, outLen, inner] of [[1, 5, 9, 1], [3, 8, 17, 1], [2, 6, 4, 7], [
          2,
          9,
          13,
          16,
        ], [1, 64, 130, 1]]
      ) {
        const src = rng.floats(outer * inLen * inner);
        const idx = Array.from({ length: outLen * taps }, () => rng.int(0, inLen - 1));
        const wts = rng.floats(outLen * taps);
        // A window table for 2 taps: blocks whose taps fit 4 floats get masks, others -1.
        let win = 0;
        if (taps === 2) {
          const blocks = Math.floor(outLen / 4);
          const table = new DataView(new ArrayBuffer(blocks * 80));
          for (let b = 0; b < blocks; b++) {
            for (let k = 0; k < 8; k++) {
              idx[b * 8 + k] = Math.min(
                inLen - 1,
                (b * 3) % inLen + rng.int(0, b % 3 === 2 ? 6 : 3),
              );
            }
            const t = idx.slice(b * 8, b * 8 + 8);
            const base = Math.min(...t);
            if (Math.max(...t) - base > 3 || base + 3 >= inLen) {
              table.setInt32(b * 80, -1, true);
              continue;
            }
            table.setInt32(b * 80, base, true);
            for (let l = 0; l < 4; l++) {
              for (let tp = 0; tp < 2; tp++) {
                const r = t[l * 2 + tp] - base;
                for (let q = 0; q < 4; q++) {
                  table.setUint8(b * 80 + 16 + tp * 16 + l * 4 + q, r * 4 + q);
                }
                table.setFloat32(b * 80 + 48 + tp * 16 + l * 4, wts[b * 8 + l * 2 + tp], true);
              }
            }
          }
          win = put(kr, new Uint8Array(table.buffer));
        }
        const want = new Float32Array(outer * outLen * inner);
        for (let o = 0; o < outer; o++) {
          for (let j = 0; j < outLen; j++) {
            for (let x = 0; x < inner; x++) {
              let acc = 0;
              for (let t = 0; t < taps; t++) {
                acc += wts[j * taps + t] * src[(o * inLen + idx[j * taps + t]) * inner + x];
              }
              want[(o * outLen + j) * inner + x] = acc;
            }
          }
        }
        const ps = putF32(kr, src);
        const pi = putI32(kr, idx);
        const pw = putF32(kr, wts);
        const pd = kr.arena.alloc(want.byteLength);
        kr.fn.f32_resize_axis(outer, inLen, outLen, inner, taps, pi, pw, win, ps, pd);
        const what = `taps ${taps} ${outer}x${inLen}x${inner} -> ${outLen}`;
        assertClose(kr.arena.f32(pd, want.length), want, { rtol: 1e-5, atol: 1e-6 }, what);
        if (taps === 2 && inner === 1) {
          // The same columns on every row of a plane, rows from a second 2-tap table.
          const rows = Array.from({ length: 6 * 2 }, () => rng.int(0, outer - 1));
          const rw = rng.floats(12);
          const pr = putI32(kr, rows);
          const prw = putF32(kr, rw);
          const cache = kr.arena.alloc(outLen * 8);
          const out2 = kr.arena.alloc(6 * outLen * 4);
          kr.fn.f32_resize_linear_2d(
            1,
            outer,
            inLen,
            6,
            outLen,
            pr,
            prw,
            pi,
            pw,
            win,
            cache,
            ps,
            out2,
          );
          const want2 = new Float32Array(6 * outLen);
          for (let y = 0; y < 6; y++) {
            for (let j = 0; j < outLen; j++) {
              want2[y * outLen + j] = rw[2 * y] * want[rows[2 * y] * outLen + j] +
                rw[2 * y + 1] * want[rows[2 * y + 1] * outLen + j];
            }
          }
          assertClose(
            kr.arena.f32(out2, want2.length),
            want2,
            { rtol: 1e-5, atol: 1e-6 },
            `2d ${what}`,
          );
          for (const p of [pr, prw, cache, out2]) kr.arena.free(p);
        }
        for (const p of [ps, pi, pw, pd]) kr.arena.free(p);
        if (win) kr.arena.free(win);
      }
    }
  });
}
