/**
 * Accuracy of the vector transcendental functions of kernels-as/common/math.ts against
 * float64, over dense sweeps of their input ranges plus edge inputs (±88, ±1e-30, 0, huge).
 * They are reached through the unary kernels that wrap them (f32_vexp_x8 runs exp4 with the
 * subnormal flush, f32_vsigmoid_x8 runs sigmoid4, …); the scalar build runs the scalar twins.
 *
 * Documented bounds (asserted on every build) and what the sweeps measured (simd / relaxed),
 * with ulp = 2^-23 relative (≈ 1.19e-7); run with QUARTET_VERBOSE=1 to print the measurements:
 * | function  | asserted                                           | measured       |
 * |-----------|----------------------------------------------------|----------------|
 * | exp4      | 2 ulp for x in [-87.3, 88.7]; below, ≤ 1.2e-38 abs  | 0.98 ulp       |
 * | log4      | 1 ulp; exact edges (0, negative, inf, subnormal)    | 0.65 ulp       |
 * | sigmoid4  | 3 ulp                                              | 1.52 ulp       |
 * | tanh4     | 2 ulp (polynomial below |x| = 0.625)               | 1.07 ulp       |
 * | erf4      | 5 ulp (series below |x| = 0.5, A&S 7.1.26 above)    | 4.67 ulp       |
 * | sin4/cos4 | 1.5e-7 absolute for |x| ≤ 1e4                      | 9.2e-8 abs     |
 */
import { AssertionError } from "node:assert/strict";
import { kernelsFor, VARIANTS } from "../_kernels.ts";
import { erf } from "../reference/activations.ts";

type Unary = (n: number, x: number, y: number, p0: number, p1: number) => void;

const ULP = 2 ** -23;

interface Sweep {
  kernel: string;
  ref: (x: number) => number;
  lo: number;
  hi: number;
  /** |got - ref| <= rel * |ref| + abs. */
  rel: number;
  abs: number;
  edges: number[];
}

const SWEEPS: Sweep[] = [
  {
    kernel: "f32_vexp_x8",
    ref: Math.exp,
    lo: -87.3,
    hi: 88.7,
    rel: 2 * ULP,
    abs: 1.2e-38,
    edges: [0, -0, 1e-30, -1e-30, 88, -88, 88.72, -87.33, -103, -1e10, 1e-7, -1e-7],
  },
  {
    kernel: "f32_vlog_x8",
    ref: Math.log,
    lo: 1e-6,
    hi: 1e6,
    rel: ULP,
    abs: 0,
    edges: [1, 1e-30, 1e-40, 1e-45, 3.4e38, 0.5, 2, 0.70710677, 1.4142135, 1 + 2 ** -23],
  },
  {
    kernel: "f32_vsigmoid_x8",
    ref: (x) => 1 / (1 + Math.exp(-x)),
    lo: -87,
    hi: 30,
    rel: 3 * ULP,
    abs: 1.2e-38,
    edges: [0, -0, 1e-30, -1e-30, 88, -88, 1e10, -1e10],
  },
  {
    kernel: "f32_vtanh_x8",
    ref: Math.tanh,
    lo: -12,
    hi: 12,
    rel: 2 * ULP,
    abs: 0,
    edges: [0, -0, 1e-30, -1e-30, 0.625, -0.625, 0.62499994, 88, -88, 1e10, -1e10],
  },
  {
    kernel: "f32_verf_x8",
    ref: erf,
    lo: -6,
    hi: 6,
    rel: 5 * ULP,
    abs: 0,
    edges: [0, -0, 1e-30, -1e-30, 0.5, -0.5, 0.49999997, 88, -88, 1e10, -1e10],
  },
  {
    kernel: "f32_vsin_x8",
    ref: Math.sin,
    lo: -1e4,
    hi: 1e4,
    rel: 0,
    abs: 1.5e-7,
    edges: [0, -0, 1e-30, -1e-30, Math.PI, -Math.PI, Math.PI / 2, 1e4, -1e4],
  },
  {
    kernel: "f32_vcos_x8",
    ref: Math.cos,
    lo: -1e4,
    hi: 1e4,
    rel: 0,
    abs: 1.5e-7,
    edges: [0, -0, 1e-30, -1e-30, Math.PI, -Math.PI, Math.PI / 2, 1e4, -1e4],
  },
];

const POINTS = 1 << 18;

/** Dense sweep (uniform, plus log-spaced magnitudes for wide ranges) and the edges. */
function sweepInputs(s: Sweep): Float32Array {
  const x = new Float32Array(POINTS + s.edges.length);
  const logScale = s.lo > 0 && s.hi / s.lo > 1e3;
  for (let i = 0; i < POINTS; i++) {
    const t = i / (POINTS - 1);
    x[i] = logScale ? s.lo * (s.hi / s.lo) ** t : s.lo + (s.hi - s.lo) * t;
  }
  x.set(s.edges, POINTS);
  return x;
}

for (const variant of VARIANTS) {
  Deno.test(`math functions meet their documented accuracy over dense sweeps: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    for (const s of SWEEPS) {
      const x = sweepInputs(s);
      const px = kr.arena.alloc(4 * x.length);
      const py = kr.arena.alloc(4 * x.length);
      kr.arena.f32(px, x.length).set(x);
      (kr.fn as unknown as Record<string, Unary>)[s.kernel](x.length, px, py, 0, 0);
      const y = kr.arena.f32(py, x.length);
      let worstRel = 0;
      let worstAbs = 0;
      for (let i = 0; i < x.length; i++) {
        const r = s.ref(x[i]);
        const rf = Math.fround(r);
        if (y[i] === rf || (Number.isNaN(r) && Number.isNaN(y[i]))) continue;
        const err = Math.abs(y[i] - r);
        // Results that overflow float32 must be +-inf.
        const bound = Number.isFinite(rf) ? s.rel * Math.abs(r) + s.abs : 0;
        if (!(err <= bound)) {
          throw new AssertionError({
            message: `${s.kernel} (${variant}) at x = ${x[i]}: got ${y[i]}, float64 ${r}, ` +
              `error ${err} > bound ${bound}`,
          });
        }
        worstAbs = Math.max(worstAbs, err);
        if (Math.abs(r) > 1.2e-38) worstRel = Math.max(worstRel, err / Math.abs(r));
      }
      kr.arena.free(px);
      kr.arena.free(py);
      if (Deno.env.get("QUARTET_VERBOSE")) {
        console.log(
          `${variant} ${s.kernel}: worst relative ${(worstRel / ULP).toFixed(2)} ulp, ` +
            `worst absolute ${worstAbs.toExponential(2)}`,
        );
      }
    }
  });
}
