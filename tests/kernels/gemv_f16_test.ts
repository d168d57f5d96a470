import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ModelFormatError } from "../../engine/errors.ts";
import { f16GemvBytes, packF16Gemv, unpackF16Gemv } from "../../engine/weights/f16_gemv.ts";
import { type Activation, activationCode, ACTIVATIONS } from "../../kernels-as/activations.ts";
import type { Kernels } from "../../engine/wasm/kernels.ts";
import { assertClose } from "../_assert.ts";
import { kernelsFor, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference, testParams } from "../reference/activations.ts";

/** The value of a half's bit pattern, from the IEEE 754 definition. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * 2 ** (e - 15) * (1 + f / 1024);
}

/** A random finite half: mostly like trained weights, some anywhere in range, some subnormal. */
function randomHalf(rng: Random): number {
  const r = rng.next();
  if (r < 0.1) return rng.int(0, 0x3ff) | (rng.next() < 0.5 ? 0x8000 : 0); // subnormal or ±0
  if (r < 0.2) return rng.int(0, 0x4fff) | (rng.next() < 0.5 ? 0x8000 : 0); // |w| < 32
  // |w| < 1 with every exponent down to the smallest normal.
  return rng.int(0x400, 0x3bff) | (rng.next() < 0.5 ? 0x8000 : 0);
}

/** n x k halves and their values (Wᵀ, row-major). */
function randomWeights(rng: Random, n: number, k: number) {
  const bits = new Uint16Array(n * k);
  const wt = new Float32Array(n * k);
  for (let i = 0; i < bits.length; i++) {
    bits[i] = randomHalf(rng);
    wt[i] = halfValue(bits[i]);
  }
  return { bits, wt };
}

/** The documented layout, written independently of the packer: panels of 8 outputs. */
function layoutReference(bits: Uint16Array, n: number, k: number): Uint16Array {
  const out = new Uint16Array(Math.ceil(n / 8) * k * 8);
  const order = [0, 4, 1, 5, 2, 6, 3, 7]; // panel output held by each half of a record
  for (let p = 0; p < Math.ceil(n / 8); p++) {
    for (let i = 0; i < k; i++) {
      for (let s = 0; s < 8; s++) {
        const j = 8 * p + order[s];
        if (j < n) out[(p * k + i) * 8 + s] = bits[j * k + i];
      }
    }
  }
  return out;
}

/**
 * float64 reference of C[r, j] = act(A[r] · W[:, j] + bias[j]) and, per output, the sum of
 * |terms| (the scale of float32 rounding errors).
 */
function reference(
  a: Float32Array,
  lda: number,
  wt: Float32Array,
  m: number,
  n: number,
  k: number,
  bias?: Float32Array,
) {
  const want = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      let abs = Math.abs(s);
      for (let i = 0; i < k; i++) {
        const t = a[r * lda + i] * wt[j * k + i];
        s += t;
        abs += Math.abs(t);
      }
      want[r * n + j] = s;
      scale[r * n + j] = abs;
    }
  }
  return { want, scale };
}

/** Uploads packed halves; returns their offset. */
function uploadHalves(kr: Kernels, h: Uint16Array): number {
  const off = kr.arena.alloc(Math.max(h.byteLength, 16));
  kr.arena.u8(off, h.byteLength).set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
  return off;
}

function upload(kr: Kernels, x: Float32Array): number {
  const off = kr.arena.alloc(Math.max(x.byteLength, 4));
  kr.arena.f32(off, x.length).set(x);
  return off;
}

/** Float32 summation bound: k roundings of partial sums, plus the bias add and the result. */
function bound(k: number, scale: number): number {
  return (k + 2) * 2 ** -24 * scale + 1e-37;
}

// n x k: below one panel, one panel, panels plus a tail, primes, k below one unrolled step,
// long reductions; one large.
const SHAPES = [
  [1, 1],
  [3, 1],
  [1, 3],
  [7, 7],
  [8, 8],
  [9, 4],
  [13, 5],
  [17, 31],
  [31, 17],
  [64, 33],
  [97, 101],
  [130, 257],
  [1000, 777],
];

Deno.test("the reference half decoder agrees with the host's Float16Array", () => {
  if (typeof Float16Array === "undefined") return;
  const bits = new Uint16Array(65536).map((_, i) => i);
  const host = new Float16Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const v = halfValue(h);
    if (!(Object.is(v, host[h]) || (Number.isNaN(v) && Number.isNaN(host[h])))) {
      throw new Error(`half 0x${h.toString(16)}: ${v} vs ${host[h]}`);
    }
  }
});

for (const variant of VARIANTS) {
  Deno.test(`f32_gemv_f16w_4x8 converts every finite half exactly: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    // W has one input (k = 1, the tail loop) or five (one unrolled step of four, then the
    // tail) with a single non-zero activation; each output is one weight times 1, -2, 0.5 or
    // 2^-20: exact in float32, so the kernel must give every value bit for bit.
    const finite: number[] = [];
    for (let h = 0; h < 65536; h++) if ((h & 0x7c00) !== 0x7c00) finite.push(h);
    const n = finite.length;
    const rowScale = [1, -2, 0.5, 2 ** -20];
    for (const [k, at] of [[1, 0], [5, 2], [5, 4]]) {
      const bits = new Uint16Array(n * k);
      const wt = new Float32Array(n * k);
      finite.forEach((h, j) => {
        bits[j * k + at] = h;
        wt[j * k + at] = halfValue(h);
      });
      const packed = packF16Gemv(wt, n, k, "W")!;
      deepStrictEqual(packed, layoutReference(bits, n, k), "packer layout");
      const pw = uploadHalves(kr, packed);
      for (const m of [1, 2, 3, 4]) {
        const a = new Float32Array(m * k);
        for (let r = 0; r < m; r++) a[r * k + at] = rowScale[r];
        const pa = upload(kr, a);
        const pc = kr.arena.alloc(m * n * 4);
        kr.fn.f32_gemv_f16w_4x8(m, n, k, 0, n, pw, pa, k, 0, pc, n, 0, 0, 0);
        const got = kr.arena.f32(pc, m * n);
        for (let r = 0; r < m; r++) {
          for (let j = 0; j < n; j++) {
            // Sums start from +0: a -0 product gives +0.
            const want = Math.fround(halfValue(finite[j]) * rowScale[r]) + 0;
            if (!Object.is(got[r * n + j], want)) {
              throw new Error(
                `k=${k} m=${m} row ${r}: half 0x${finite[j].toString(16)} gave ` +
                  `${got[r * n + j]}, want ${want}`,
              );
            }
          }
        }
        kr.arena.free(pa);
        kr.arena.free(pc);
      }
      kr.arena.free(pw);
    }
  });

  Deno.test(`f32_gemv_f16w_4x8 matches the reference over awkward shapes: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(31);
    const relu = activationCode("clamp");
    for (const [n, k] of SHAPES) {
      const { wt } = randomWeights(rng, n, k);
      const packed = packF16Gemv(wt, n, k, "W")!;
      const pw = uploadHalves(kr, packed);
      const bias = rng.floats(n);
      const pb = upload(kr, bias);
      for (const m of [1, 2, 3, 4]) {
        // Row strides longer than the rows; NaN in the gaps must never be read.
        const lda = k + 3;
        const ldc = n + 5;
        const a = new Float32Array(m * lda).fill(NaN);
        for (let r = 0; r < m; r++) a.set(rng.floats(k, -2, 2), r * lda);
        const pa = upload(kr, a);
        const pc = kr.arena.alloc(m * ldc * 4);
        const what = `${n}x${k} m=${m}`;
        const check = (r0: number, r1: number, withBias: boolean) => {
          kr.arena.f32(pc, m * ldc).fill(-7);
          kr.fn.f32_gemv_f16w_4x8(
            m,
            n,
            k,
            r0,
            r1,
            pw,
            pa,
            lda,
            withBias ? pb : 0,
            pc,
            ldc,
            withBias ? relu : 0,
            0,
            Infinity,
          );
          const got = kr.arena.f32(pc, m * ldc);
          const { want, scale } = reference(a, lda, wt, m, n, k, withBias ? bias : undefined);
          for (let r = 0; r < m; r++) {
            for (let j = 0; j < ldc; j++) {
              const g = got[r * ldc + j];
              if (j < r0 || j >= r1) {
                strictEqual(g, -7, `${what} [${r0}, ${r1}): row ${r} output ${j} written`);
                continue;
              }
              let w = want[r * n + j];
              if (withBias) w = Math.max(w, 0);
              const err = Math.abs(g - w);
              ok(
                err <= bound(k, scale[r * n + j]),
                `${what} [${r0}, ${r1}) row ${r} output ${j}: ${g} vs ${w} (bound ` +
                  `${bound(k, scale[r * n + j])})`,
              );
            }
          }
        };
        check(0, n, true);
        check(0, n, false);
        // A thread's share: whole panels, and an unaligned range inside and across panels.
        const mid = Math.min(n, 8 * Math.ceil(n / 16));
        check(0, mid, true);
        check(mid, n, false);
        if (n > 2) check(1, n - 1, true);
        if (n > 10) check(3, 11, false);
        kr.arena.free(pa);
        kr.arena.free(pc);
      }
      kr.arena.free(pw);
      kr.arena.free(pb);
    }
  });

  Deno.test(`f32_gemv_f16w_4x8 with only subnormal weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(5);
    for (const [n, k] of [[7, 9], [24, 64], [33, 250]]) {
      const wt = new Float32Array(n * k);
      for (let i = 0; i < wt.length; i++) {
        wt[i] = halfValue(rng.int(1, 0x3ff) | (rng.next() < 0.5 ? 0x8000 : 0));
      }
      const pw = uploadHalves(kr, packF16Gemv(wt, n, k, "W")!);
      for (const m of [1, 3]) {
        // Large activations bring the products near 1: a conversion that flushed subnormal
        // halves to zero (or scaled them wrong) would be far off.
        const a = rng.floats(m * k, -3e4, 3e4);
        const pa = upload(kr, a);
        const pc = kr.arena.alloc(m * n * 4);
        kr.fn.f32_gemv_f16w_4x8(m, n, k, 0, n, pw, pa, k, 0, pc, n, 0, 0, 0);
        const got = kr.arena.f32(pc, m * n);
        const { want, scale } = reference(a, k, wt, m, n, k);
        for (let i = 0; i < m * n; i++) {
          ok(scale[i] > 1e-3, "the products are not negligible");
          ok(Math.abs(got[i] - want[i]) <= bound(k, scale[i]), `${n}x${k} m=${m} #${i}`);
        }
        kr.arena.free(pa);
        kr.arena.free(pc);
      }
      kr.arena.free(pw);
    }
  });

  Deno.test(`f32_gemv_f16w_4x8 epilogues apply every activation: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(11);
    const [n, k] = [21, 13];
    const { wt } = randomWeights(rng, n, k);
    const pw = uploadHalves(kr, packF16Gemv(wt, n, k, "W")!);
    const bias = rng.floats(n);
    const pb = upload(kr, bias);
    for (const name of ACTIVATIONS as readonly Activation[]) {
      const [p0, p1] = testParams(name);
      for (const m of [1, 3]) {
        const a = rng.floats(m * k, -0.3, 0.3);
        const pa = upload(kr, a);
        const pc = kr.arena.alloc(m * n * 4);
        kr.fn.f32_gemv_f16w_4x8(m, n, k, 0, n, pw, pa, k, pb, pc, n, activationCode(name), p0, p1);
        const f = activationReference(name, p0, p1);
        const { want } = reference(a, k, wt, m, n, k, bias);
        assertClose(
          kr.arena.f32(pc, m * n),
          want.map(f),
          { rtol: 1e-4, atol: 1e-5 },
          `${name} m=${m}`,
        );
        kr.arena.free(pa);
        kr.arena.free(pc);
      }
    }
    kr.arena.free(pw);
    kr.arena.free(pb);
  });
}

Deno.test("f16 GEMV packing rounds to nearest even, rejects NaN and Inf, round-trips", () => {
  // 1 + 2^-11 is halfway between two halves: ties to even (1); 1 + 3 * 2^-11 rounds up.
  const wt = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, 65504, 2 ** -24, 1e-9]);
  const p = packF16Gemv(wt, 1, 6, "W")!;
  strictEqual(p.length * 2, f16GemvBytes(1, 6));
  deepStrictEqual(
    [...unpackF16Gemv(p, 1, 6)],
    [1, 1 + 2 ** -9, -0, 65504, 2 ** -24, 0],
  );
  // Beyond the f16 range: not an error, the caller keeps f32.
  strictEqual(packF16Gemv(new Float32Array([1, 65520]), 2, 1, "W"), null);
  for (const bad of [NaN, Infinity, -Infinity]) {
    throws(
      () => packF16Gemv(new Float32Array([0, 1, bad]), 1, 3, 'Weights "w"'),
      (e: Error) => e instanceof ModelFormatError && /Weights "w"/.test(e.message),
    );
  }
  // Round trip of a random matrix with a partial last panel.
  const rng = new Random(3);
  const { wt: w2 } = randomWeights(rng, 11, 5);
  deepStrictEqual(unpackF16Gemv(packF16Gemv(w2, 11, 5, "W")!, 11, 5), w2);
});
