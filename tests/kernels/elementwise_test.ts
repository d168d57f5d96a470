/**
 * Elementwise kernels against float64 references: every unary op over awkward lengths with
 * its documented accuracy bound, special values, in-place use and untouched memory past the
 * end; the binary and comparison kernels over every broadcast form of the 2-D block; Where.
 */
import { AssertionError, deepStrictEqual as assertEquals } from "node:assert/strict";
import type { KernelVariant } from "../../engine/wasm/kernels.ts";
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from "../../kernels-as/elementwise/kernels.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { BINARY_REFERENCE, UNARY_REFERENCE } from "../reference/elementwise.ts";

type Unary = (n: number, x: number, y: number, p0: number, p1: number) => void;
type Binary = (
  rows: number,
  n: number,
  a: number,
  lda: number,
  sa: number,
  b: number,
  ldb: number,
  sb: number,
  y: number,
) => void;

const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1023, 4099];

/**
 * Accuracy of each unary kernel, asserted as |got - ref| <= rtol * max(|ref|, floor) on
 * [-20, 20] plus small inputs. A floor of 0 means a pure relative bound; a positive floor makes
 * the bound absolute below it (where the op's formula cancels, e.g. GELU's far tails).
 */
export const UNARY_ACCURACY: Record<string, { rtol: number; floor: number }> = {
  clamp: { rtol: 1.2e-7, floor: 0 },
  leakyrelu: { rtol: 1.2e-7, floor: 0 },
  sigmoid: { rtol: 3e-7, floor: 0 },
  hardsigmoid: { rtol: 1.2e-7, floor: 0.5 },
  hardswish: { rtol: 3e-7, floor: 1 },
  tanh: { rtol: 2.5e-7, floor: 0 },
  silu: { rtol: 4e-7, floor: 0 },
  geluerf: { rtol: 5e-7, floor: 1 },
  gelutanh: { rtol: 5e-7, floor: 1 },
  softplus: { rtol: 3e-7, floor: 0 },
  elu: { rtol: 3e-7, floor: 0 },
  selu: { rtol: 4e-7, floor: 0 },
  mish: { rtol: 4e-7, floor: 0 },
  softsign: { rtol: 1.2e-7, floor: 0 },
  exp: { rtol: 2e-7, floor: 0 },
  log: { rtol: 1.2e-7, floor: 0 },
  sqrt: { rtol: 6e-8, floor: 0 },
  reciprocal: { rtol: 6e-8, floor: 0 },
  erf: { rtol: 6e-7, floor: 0 },
  neg: { rtol: 0, floor: 0 },
  abs: { rtol: 0, floor: 0 },
  sign: { rtol: 0, floor: 0 },
  floor: { rtol: 0, floor: 0 },
  ceil: { rtol: 0, floor: 0 },
  round: { rtol: 0, floor: 0 },
  sin: { rtol: 2e-7, floor: 1 },
  cos: { rtol: 2e-7, floor: 1 },
};

/** Parameters each parameterised op is tested with. */
const PARAMS: Record<string, [number, number]> = {
  clamp: [-0.5, 0.75],
  leakyrelu: [0.1, 0],
  hardsigmoid: [0.2, 0.5],
  elu: [1.3, 0],
  selu: [1.6732632423543772, 1.0507009873554805],
};

/** Inputs for an op: its domain over [-20, 20], small values, and exact halves for Round. */
function inputs(rng: Random, op: string, n: number): Float32Array {
  const positive = op === "log" || op === "sqrt";
  const x = rng.floats(n, positive ? 1e-6 : -20, 20);
  for (let i = 0; i < n; i += 7) {
    x[i] = (positive ? 1e-3 : 2e-3) * (rng.next() - (positive ? 0 : 0.5));
  }
  if (op === "round") { for (let i = 3; i < n; i += 11) x[i] = Math.round(x[i]) + 0.5; }
  return x;
}

function checkAccuracy(
  got: Float32Array,
  x: Float32Array,
  ref: (x: number) => number,
  bound: { rtol: number; floor: number },
  what: string,
): void {
  for (let i = 0; i < got.length; i++) {
    const r = Math.fround(ref(x[i]));
    const err = Math.abs(got[i] - r);
    if (err > bound.rtol * Math.max(Math.abs(r), bound.floor) && !(got[i] === r)) {
      throw new AssertionError({
        message: `${what}: x[${i}] = ${x[i]}: got ${got[i]}, expected ${r} (error ${err}, ` +
          `bound ${bound.rtol} x max(|ref|, ${bound.floor}))`,
      });
    }
  }
}

for (const variant of VARIANTS) {
  Deno.test(`unary kernels meet their accuracy bounds over awkward lengths: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(5);
    for (const op of UNARY_OPS) {
      const fn = (kr.fn as unknown as Record<string, Unary>)[`f32_v${op.op}_x8`];
      const [p0, p1] = PARAMS[op.op] ?? [0, 0];
      const ref = (x: number) => UNARY_REFERENCE[op.op](x, p0, p1);
      for (const n of LENGTHS) {
        const x = inputs(rng, op.op, n);
        const px = upload(kr, x);
        // Guard floats past the end must stay untouched.
        const py = kr.arena.alloc(4 * (n + 8));
        kr.arena.f32(py, n + 8).fill(-12345);
        fn(n, px, py, p0, p1);
        const out = download(kr, py, n + 8);
        checkAccuracy(out.subarray(0, n), x, ref, UNARY_ACCURACY[op.op], `${op.op} n=${n}`);
        assertEquals([...out.subarray(n)], new Array(8).fill(-12345), `${op.op} n=${n}: tail`);
        // In place gives the same result.
        fn(n, px, px, p0, p1);
        assertEquals(download(kr, px, n), out.subarray(0, n), `${op.op} n=${n}: in place`);
        kr.arena.free(px);
        kr.arena.free(py);
      }
    }
  });

  Deno.test(`unary kernels handle special values: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const specials = [0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 100, -100, 1e30, -1e30];
    const expect: Record<string, number[]> = {
      clamp: [0, -0, 0.75, -0.5, NaN, 1e-30, -1e-30, 0.75, -0.5, 0.75, -0.5],
      sigmoid: [0.5, 0.5, 1, 0, NaN, 0.5, 0.5, 1, 0, 1, 0],
      tanh: [0, -0, 1, -1, NaN, 1e-30, -1e-30, 1, -1, 1, -1],
      exp: [1, 1, Infinity, 0, NaN, 1, 1, Infinity, 0, Infinity, 0],
      log: [
        -Infinity,
        -Infinity,
        Infinity,
        NaN,
        NaN,
        Math.log(1e-30),
        NaN,
        Math.log(100),
        NaN,
        Math.log(1e30),
        NaN,
      ],
      softplus: [Math.LN2, Math.LN2, Infinity, 0, NaN, Math.LN2, Math.LN2, 100, 0, 1e30, 0],
      erf: [0, -0, 1, -1, NaN, 1.1283791670955126e-30, -1.1283791670955126e-30, 1, -1, 1, -1],
      sqrt: [0, -0, Infinity, NaN, NaN, 1e-15, NaN, 10, NaN, 1e15, NaN],
      round: [0, -0, Infinity, -Infinity, NaN, 0, -0, 100, -100, 1e30, -1e30],
      sign: [0, 0, 1, -1, NaN, 1, -1, 1, -1, 1, -1],
    };
    const x = Float32Array.from(specials);
    for (const [op, want] of Object.entries(expect)) {
      const [p0, p1] = PARAMS[op] ?? [0, 0];
      const px = upload(kr, x);
      const py = kr.arena.alloc(4 * x.length);
      (kr.fn as unknown as Record<string, Unary>)[`f32_v${op}_x8`](x.length, px, py, p0, p1);
      const got = download(kr, py, x.length);
      got.forEach((g, i) => {
        const w = Math.fround(want[i]);
        // Results below the smallest normal float may be flushed to it or to 0.
        const ok = Number.isNaN(w)
          ? Number.isNaN(g)
          : g === w || Math.abs(g - w) <= Math.max(2e-7 * Math.abs(w), 1.2e-38);
        if (!ok) {
          throw new AssertionError({ message: `${op}(${specials[i]}) = ${g}, expected ${w}` });
        }
      });
      kr.arena.free(px);
      kr.arena.free(py);
    }
  });
}

for (const variant of VARIANTS) {
  Deno.test(`binary kernels handle special values as C does: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    // [a, b, pow(a, b), fmod(a, b)]: 1^b is 1 and fmod(a, ±inf) is a, for any b / finite a.
    const cases = [
      [1, NaN, 1, NaN],
      [1, Infinity, 1, 1],
      [1, -Infinity, 1, 1],
      [3, Infinity, Infinity, 3],
      [-3, -Infinity, 0, -3],
      [Infinity, Infinity, Infinity, NaN],
      [2.5, 0, 1, NaN],
      [NaN, 0, 1, NaN],
      [-2, 3, -8, -2],
      [7, -2, 1 / 49, 1],
    ];
    // Eight lanes of each, so the vector path runs, then the scalar tail.
    const rows = [...cases, ...cases, ...cases];
    const a = Float32Array.from(rows, (c) => c[0]);
    const b = Float32Array.from(rows, (c) => c[1]);
    for (const [op, column] of [["pow", 2], ["fmod", 3]] as const) {
      const [pa, pb] = [upload(kr, a), upload(kr, b)];
      const py = kr.arena.alloc(4 * a.length);
      (kr.fn as unknown as Record<string, Binary>)[`f32_v${op}_x8`](
        1,
        a.length,
        pa,
        0,
        1,
        pb,
        0,
        1,
        py,
      );
      download(kr, py, a.length).forEach((g, i) => {
        const want = rows[i][column];
        const close = g === want || Math.abs(g - want) <= 1e-6 * Math.abs(want);
        if (!(Number.isNaN(want) ? Number.isNaN(g) : close)) {
          throw new AssertionError({ message: `${op}(${a[i]}, ${b[i]}) = ${g}, expected ${want}` });
        }
      });
      for (const p of [pa, pb, py]) kr.arena.free(p);
    }
  });
}

/** The layout of one side of the 2-D block: row stride and inner stride (0 or 1). */
interface Side {
  ld: number;
  s: number;
}

/** Every form a side can take for a rows x n block: full, repeated row, per-row value, scalar. */
function sides(n: number): Side[] {
  return [{ ld: n, s: 1 }, { ld: 0, s: 1 }, { ld: 1, s: 0 }, { ld: 0, s: 0 }];
}

function sideData(rng: Random, side: Side, rows: number, n: number, lo: number, hi: number) {
  const count = side.s ? (side.ld ? rows * n : n) : (side.ld ? rows : 1);
  return rng.floats(Math.max(count, 1), lo, hi);
}

const at = (d: Float32Array, side: Side, r: number, i: number) => d[r * side.ld + i * side.s];

function binaryInputs(rng: Random, op: string, sa: Side, sb: Side, rows: number, n: number) {
  let a = sideData(rng, sa, rows, n, -4, 4);
  let b = sideData(rng, sb, rows, n, -4, 4);
  if (op === "pow") {
    // Positive bases with any exponent; negative bases with integer exponents.
    a = a.map((v, i) => (i % 3 === 0 ? -Math.abs(v) : Math.abs(v) + 1e-3));
    b = b.map((v, i) => (i % 2 === 0 ? Math.round(v * 2) : v * 2));
  }
  if (op === "fmod" || op === "div") b = b.map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
  if (op === "equal" || op === "lessequal" || op === "max" || op === "min") {
    // Ties matter for these: draw from a few values.
    a = a.map((v) => Math.round(v));
    b = b.map((v) => Math.round(v));
  }
  return [a, b];
}

function binaryTolerance(op: string, ref: number, a: number): number {
  if (op === "pow") return 3e-6 * Math.abs(ref);
  if (op === "fmod") return 4e-7 * Math.max(Math.abs(a), 1);
  return 0;
}

function runBinary(
  variant: KernelVariant,
  ops: typeof BINARY_OPS,
  kernelName: (op: string) => string,
  outBytes: number,
  seed: number,
) {
  return async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(seed);
    const shapes: [number, number][] = [[1, 1], [1, 7], [3, 8], [5, 17], [2, 33], [4, 100], [
      1,
      1000,
    ]];
    for (const op of ops) {
      const fn = (kr.fn as unknown as Record<string, Binary>)[kernelName(op.op)];
      const ref = BINARY_REFERENCE[op.op];
      for (const [rows, n] of shapes) {
        for (const sa of sides(n)) {
          for (const sb of sides(n)) {
            const [a, b] = binaryInputs(rng, op.op, sa, sb, rows, n);
            const pa = upload(kr, a);
            const pb = upload(kr, b);
            const bytes = rows * n * outBytes;
            const py = kr.arena.alloc(bytes + 16);
            kr.arena.u8(py, bytes + 16).fill(0xa5);
            fn(rows, n, pa, sa.ld, sa.s, pb, sb.ld, sb.s, py);
            const got = outBytes === 4
              ? download(kr, py, rows * n)
              : Float32Array.from(kr.arena.u8(py, rows * n));
            const what = `${op.op} ${rows}x${n} a(${sa.ld},${sa.s}) b(${sb.ld},${sb.s})`;
            for (let r = 0; r < rows; r++) {
              for (let i = 0; i < n; i++) {
                const av = at(a, sa, r, i);
                const want = Math.fround(ref(av, at(b, sb, r, i)));
                const g = got[r * n + i];
                const ok = (Number.isNaN(want) && Number.isNaN(g)) ||
                  Math.abs(g - want) <= binaryTolerance(op.op, want, av) || g === want;
                if (!ok) {
                  throw new AssertionError({
                    message: `${what}: (${r}, ${i}): ${op.op}(${av}, ${at(b, sb, r, i)}) = ${g}, ` +
                      `expected ${want}`,
                  });
                }
              }
            }
            assertEquals(
              [...kr.arena.u8(py + bytes, 16)],
              new Array(16).fill(0xa5),
              `${what}: tail`,
            );
            for (const p of [pa, pb, py]) kr.arena.free(p);
          }
        }
      }
    }
  };
}

for (const variant of VARIANTS) {
  Deno.test(
    `binary kernels match the reference in every broadcast form: ${variant}`,
    runBinary(variant, BINARY_OPS, (op) => `f32_v${op}_x8`, 4, 17),
  );
  Deno.test(
    `comparison kernels write 0/1 bytes in every broadcast form: ${variant}`,
    runBinary(variant, COMPARE_OPS, (op) => `f32_v${op}_x16`, 1, 19),
  );

  Deno.test(`x32_where_x8 selects in every broadcast form: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(23);
    for (const [rows, n] of [[1, 1], [3, 7], [2, 8], [4, 19], [1, 100]] as const) {
      for (const sc of sides(n)) {
        for (const sa of sides(n)) {
          for (const sb of sides(n)) {
            const cf = sideData(rng, sc, rows, n, 0, 1);
            const c = Uint8Array.from(cf, (v) => (v < 0.5 ? 0 : rng.int(1, 255)));
            const a = sideData(rng, sa, rows, n, -1, 1);
            const b = sideData(rng, sb, rows, n, -1, 1);
            const pc = kr.arena.alloc(c.length);
            kr.arena.u8(pc, c.length).set(c);
            const pa = upload(kr, a);
            const pb = upload(kr, b);
            const py = kr.arena.alloc(4 * rows * n + 16);
            kr.fn.x32_where_x8(rows, n, pc, sc.ld, sc.s, pa, sa.ld, sa.s, pb, sb.ld, sb.s, py);
            const got = download(kr, py, rows * n);
            for (let r = 0; r < rows; r++) {
              for (let i = 0; i < n; i++) {
                const cv = c[r * sc.ld + i * sc.s];
                const want = cv ? at(a, sa, r, i) : at(b, sb, r, i);
                if (got[r * n + i] !== want) {
                  throw new AssertionError({
                    message: `where ${rows}x${n} at (${r}, ${i}): got ${
                      got[r * n + i]
                    }, want ${want}`,
                  });
                }
              }
            }
            for (const p of [pc, pa, pb, py]) kr.arena.free(p);
          }
        }
      }
    }
  });
}
