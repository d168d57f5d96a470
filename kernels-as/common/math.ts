// Transcendental functions for kernels, vector (v128) and scalar forms.
// Accuracy against a float64 reference is asserted in tests/kernels/math_test.ts (dense
// sweeps; the bounds and measured errors are tabulated there).
import { madd4 } from "./simd";

// exp: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n by exponent bits.
// Just above ln(FLT_MAX): larger x overflow to +inf through the split 2^n scale below.
const EXP_HI: f32 = 88.72283935546875;
const EXP_LO: f32 = -87.3365478515625;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

@inline export function exp4(x0: v128): v128 {
  const x = f32x4.max(f32x4.min(x0, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = madd4(n, f32x4.splat(-LN2_HI), x);
  r = madd4(n, f32x4.splat(-LN2_LO), r);
  let p = f32x4.splat(P0);
  p = madd4(p, r, f32x4.splat(P1));
  p = madd4(p, r, f32x4.splat(P2));
  p = madd4(p, r, f32x4.splat(P3));
  p = madd4(p, r, f32x4.splat(P4));
  p = madd4(p, r, f32x4.splat(P5));
  const r2 = f32x4.mul(r, r);
  p = madd4(p, r2, f32x4.add(r, f32x4.splat(1.0)));
  // 2^n, split in two factors so n = 128 (x near EXP_HI) does not overflow the exponent.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

// Small |x|: the odd minimax polynomial of tanh (relative error ~1 ulp), where the
// exponential form below would cancel.
const TANH_T0: f32 = -5.70498872745e-3;
const TANH_T1: f32 = 2.06390887954e-2;
const TANH_T2: f32 = -5.37397155531e-2;
const TANH_T3: f32 = 1.33314422036e-1;
const TANH_T4: f32 = -3.33332819422e-1;

/**
 * tanh(x): sign(x) (1 - 2 / (e^{2|x|} + 1)) for |x| >= 0.625 (absolute error about 1e-7),
 * a polynomial below it so small inputs keep their relative accuracy.
 */
@inline export function tanh4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const ax = f32x4.abs(x);
  const e = exp4(f32x4.add(ax, ax));
  let t = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e, one)));
  // Copy the sign bit of x onto t.
  t = v128.or(v128.and(t, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
  const z = f32x4.mul(x, x);
  let p = madd4(f32x4.splat(TANH_T0), z, f32x4.splat(TANH_T1));
  p = madd4(p, z, f32x4.splat(TANH_T2));
  p = madd4(p, z, f32x4.splat(TANH_T3));
  p = madd4(p, z, f32x4.splat(TANH_T4));
  p = madd4(f32x4.mul(p, z), x, x);
  return v128.bitselect(p, t, f32x4.lt(ax, f32x4.splat(0.625)));
}

// erf by Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7.
const ERF_P: f32 = 0.3275911;
const ERF_A1: f32 = 0.254829592;
const ERF_A2: f32 = -0.284496736;
const ERF_A3: f32 = 1.421413741;
const ERF_A4: f32 = -1.453152027;
const ERF_A5: f32 = 1.061405429;

// Small |x|: the Maclaurin series of erf to x^11 (truncation below 2e-8 relative for
// |x| < 0.5), where 1 - p e^{-x^2} above would cancel.
const ERF_C0: f32 = 1.1283791670955126; // 2 / sqrt(pi)
const ERF_S1: f32 = -0.3333333333333333;
const ERF_S2: f32 = 0.1;
const ERF_S3: f32 = -0.023809523809523808;
const ERF_S4: f32 = 0.004629629629629629;
const ERF_S5: f32 = -0.0007575757575757576;

@inline export function erf4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const ax = f32x4.abs(x);
  const t = f32x4.div(one, madd4(ax, f32x4.splat(ERF_P), one));
  let p = f32x4.splat(ERF_A5);
  p = madd4(p, t, f32x4.splat(ERF_A4));
  p = madd4(p, t, f32x4.splat(ERF_A3));
  p = madd4(p, t, f32x4.splat(ERF_A2));
  p = madd4(p, t, f32x4.splat(ERF_A1));
  p = f32x4.mul(p, t);
  const y = f32x4.sub(one, f32x4.mul(p, exp4(f32x4.neg(f32x4.mul(ax, ax)))));
  const big = v128.or(v128.and(y, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
  const z = f32x4.mul(x, x);
  let s = madd4(f32x4.splat(ERF_S5), z, f32x4.splat(ERF_S4));
  s = madd4(s, z, f32x4.splat(ERF_S3));
  s = madd4(s, z, f32x4.splat(ERF_S2));
  s = madd4(s, z, f32x4.splat(ERF_S1));
  s = madd4(s, z, one);
  const small = f32x4.mul(f32x4.mul(s, x), f32x4.splat(ERF_C0));
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.5)));
}

@inline export function exp1(x: f32): f32 {
  return Mathf.exp(x);
}

@inline export function sigmoid1(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

@inline export function tanh1(x: f32): f32 {
  const ax = Mathf.abs(x);
  if (ax < 0.625) {
    const z = x * x;
    const p = (((TANH_T0 * z + TANH_T1) * z + TANH_T2) * z + TANH_T3) * z + TANH_T4;
    return p * z * x + x;
  }
  const e = Mathf.exp(2.0 * ax);
  const t: f32 = 1.0 - 2.0 / (e + 1.0);
  return x < 0 ? -t : t;
}

@inline export function erf1(x: f32): f32 {
  const ax = Mathf.abs(x);
  if (ax < 0.5) {
    const z = x * x;
    const s = ((((ERF_S5 * z + ERF_S4) * z + ERF_S3) * z + ERF_S2) * z + ERF_S1) * z + 1.0;
    return s * x * ERF_C0;
  }
  const t: f32 = 1.0 / (1.0 + ERF_P * ax);
  const p = ((((ERF_A5 * t + ERF_A4) * t + ERF_A3) * t + ERF_A2) * t + ERF_A1) * t;
  const y: f32 = 1.0 - p * Mathf.exp(-ax * ax);
  return x < 0 ? -y : y;
}

// ---------------------------------------------------------------------------------------------
// Additions for the elementwise, reduction and normalisation families. Accuracy bounds are
// measured against float64 in tests/kernels/math_test.ts and documented there.

const F32_INF: f32 = Infinity;

/**
 * e^x flushed to 0 where the result would be subnormal (exp4 holds at the smallest normal
 * there). Subnormal results are avoided on purpose: they are slow on x86 SIMD units.
 */
@inline export function expEdges4(x: v128): v128 {
  return v128.andnot(exp4(x), f32x4.lt(x, f32x4.splat(EXP_LO)));
}

// log: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2/2 + f^3 P(f), f = m - 1.
const LOG_Q0: f32 = 7.0376836292e-2;
const LOG_Q1: f32 = -1.1514610310e-1;
const LOG_Q2: f32 = 1.1676998740e-1;
const LOG_Q3: f32 = -1.2420140846e-1;
const LOG_Q4: f32 = 1.4249322787e-1;
const LOG_Q5: f32 = -1.6668057665e-1;
const LOG_Q6: f32 = 2.0000714765e-1;
const LOG_Q7: f32 = -2.4999993993e-1;
const LOG_Q8: f32 = 3.3333331174e-1;

/** Natural log; log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf; subnormals handled. */
@inline export function log4(x0: v128): v128 {
  // Scale subnormals into the normal range first (2^23), and undo it through the exponent.
  const sub = f32x4.lt(x0, f32x4.splat(1.17549435e-38));
  const x = v128.bitselect(f32x4.mul(x0, f32x4.splat(8388608.0)), x0, sub);
  const bits = x;
  let e = i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(127));
  e = i32x4.sub(e, v128.and(sub, i32x4.splat(23)));
  let m = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f800000));
  // Fold m in [sqrt(2), 2) down to [sqrt(1/2), 1) so f stays small.
  const hi = f32x4.gt(m, f32x4.splat(1.41421356237));
  m = v128.bitselect(f32x4.mul(m, f32x4.splat(0.5)), m, hi);
  e = i32x4.sub(e, hi); // hi lanes are -1: e + 1
  const ef = f32x4.convert_i32x4_s(e);
  const f = f32x4.sub(m, f32x4.splat(1.0));
  const z = f32x4.mul(f, f);
  let p = f32x4.splat(LOG_Q0);
  p = madd4(p, f, f32x4.splat(LOG_Q1));
  p = madd4(p, f, f32x4.splat(LOG_Q2));
  p = madd4(p, f, f32x4.splat(LOG_Q3));
  p = madd4(p, f, f32x4.splat(LOG_Q4));
  p = madd4(p, f, f32x4.splat(LOG_Q5));
  p = madd4(p, f, f32x4.splat(LOG_Q6));
  p = madd4(p, f, f32x4.splat(LOG_Q7));
  p = madd4(p, f, f32x4.splat(LOG_Q8));
  let y = f32x4.mul(f32x4.mul(p, z), f);
  y = madd4(ef, f32x4.splat(LN2_LO), y);
  y = madd4(z, f32x4.splat(-0.5), y);
  y = f32x4.add(f32x4.add(f, y), f32x4.mul(ef, f32x4.splat(LN2_HI)));
  // Edges: 0 -> -inf, negative or NaN -> NaN, +inf -> +inf.
  y = v128.bitselect(f32x4.splat(-F32_INF), y, f32x4.eq(x0, f32x4.splat(0.0)));
  y = v128.bitselect(f32x4.splat(F32_INF), y, f32x4.eq(x0, f32x4.splat(F32_INF)));
  const bad = v128.not(f32x4.ge(x0, f32x4.splat(0.0)));
  return v128.bitselect(f32x4.splat(NaN), y, bad);
}

@inline export function log1(x: f32): f32 {
  return Mathf.log(x);
}

/** log(1 + t) for t >= 0, accurate for tiny t: log(u) * t / (u - 1) with u = 1 + t. */
@inline function log1pPos4(t: v128): v128 {
  const u = f32x4.add(t, f32x4.splat(1.0));
  const d = f32x4.sub(u, f32x4.splat(1.0));
  const r = f32x4.div(f32x4.mul(log4(u), t), d);
  return v128.bitselect(t, r, f32x4.eq(d, f32x4.splat(0.0)));
}

/** softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), stable for any x. */
@inline export function softplus4(x: v128): v128 {
  const t = exp4(f32x4.neg(f32x4.abs(x)));
  return f32x4.add(f32x4.max(x, f32x4.splat(0.0)), log1pPos4(t));
}

@inline export function softplus1(x: f32): f32 {
  return Mathf.max(x, 0.0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
}

/** e^x - 1, by its Taylor series to x^7 for |x| < 0.35 where exp4(x) - 1 would cancel. */
@inline export function expm14(x: v128): v128 {
  let p = madd4(x, f32x4.splat(<f32>(1.0 / 5040.0)), f32x4.splat(<f32>(1.0 / 720.0)));
  p = madd4(p, x, f32x4.splat(<f32>(1.0 / 120.0)));
  p = madd4(p, x, f32x4.splat(<f32>(1.0 / 24.0)));
  p = madd4(p, x, f32x4.splat(<f32>(1.0 / 6.0)));
  p = madd4(p, x, f32x4.splat(0.5));
  p = madd4(f32x4.mul(p, x), x, x);
  const big = f32x4.sub(exp4(x), f32x4.splat(1.0));
  return v128.bitselect(p, big, f32x4.lt(f32x4.abs(x), f32x4.splat(0.35)));
}

/** elu(x) = x for x >= 0, alpha (e^x - 1) below. */
@inline export function elu4(x: v128, alpha: f32): v128 {
  const neg = f32x4.lt(x, f32x4.splat(0.0));
  return v128.bitselect(f32x4.mul(expm14(x), f32x4.splat(alpha)), x, neg);
}

@inline export function elu1(x: f32, alpha: f32): f32 {
  return x < 0 ? alpha * Mathf.expm1(x) : x;
}

const SQRT1_2: f32 = 0.7071067811865476;
const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_K: f32 = 0.044715;

/** GELU with the exact erf form: x/2 (1 + erf(x / sqrt 2)). */
@inline export function geluErf4(x: v128): v128 {
  const e = erf4(f32x4.mul(x, f32x4.splat(SQRT1_2)));
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(e, f32x4.splat(1.0)));
}

@inline export function geluErf1(x: f32): f32 {
  return 0.5 * x * (1.0 + erf1(x * SQRT1_2));
}

/** GELU, tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
@inline export function geluTanh4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const inner = f32x4.mul(madd4(x3, f32x4.splat(GELU_K), x), f32x4.splat(GELU_C));
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(tanh4(inner), f32x4.splat(1.0)));
}

@inline export function geluTanh1(x: f32): f32 {
  return 0.5 * x * (1.0 + tanh1(GELU_C * (x + GELU_K * x * x * x)));
}

// sin/cos: x = n pi/2 + r with a three-part pi/2 (exact products for |n| < 2^16), then the
// minimax polynomials of sin and cos on [-pi/4, pi/4] picked by the quadrant n mod 4.
const TWO_OVER_PI: f32 = 0.636619772367581343;
const PIO2_1: f32 = 1.5703125;
const PIO2_2: f32 = 4.837512969970703125e-4;
const PIO2_3: f32 = 7.54978995489188216e-8;
const SIN_S0: f32 = -1.9515295891e-4;
const SIN_S1: f32 = 8.3321608736e-3;
const SIN_S2: f32 = -1.6666654611e-1;
const COS_C0: f32 = 2.443315711809948e-5;
const COS_C1: f32 = -1.388731625493765e-3;
const COS_C2: f32 = 4.166664568298827e-2;

/** sin (shift 0) or cos (shift 1) of four lanes: the quadrant shift turns one into the other. */
@inline function sincos4(x: v128, shift: i32): v128 {
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(TWO_OVER_PI)));
  let r = madd4(n, f32x4.splat(-PIO2_1), x);
  r = madd4(n, f32x4.splat(-PIO2_2), r);
  r = madd4(n, f32x4.splat(-PIO2_3), r);
  const q = i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(shift));
  const z = f32x4.mul(r, r);
  let s = madd4(f32x4.splat(SIN_S0), z, f32x4.splat(SIN_S1));
  s = madd4(s, z, f32x4.splat(SIN_S2));
  s = madd4(f32x4.mul(s, z), r, r);
  let c = madd4(f32x4.splat(COS_C0), z, f32x4.splat(COS_C1));
  c = madd4(c, z, f32x4.splat(COS_C2));
  c = madd4(f32x4.mul(c, z), z, madd4(z, f32x4.splat(-0.5), f32x4.splat(1.0)));
  // Odd quadrants take the cosine polynomial; quadrants 2 and 3 flip the sign.
  const odd = i32x4.eq(v128.and(q, i32x4.splat(1)), i32x4.splat(1));
  const y = v128.bitselect(c, s, odd);
  return v128.xor(y, i32x4.shl(v128.and(q, i32x4.splat(2)), 30));
}

@inline export function sin4(x: v128): v128 {
  return sincos4(x, 0);
}

@inline export function cos4(x: v128): v128 {
  return sincos4(x, 1);
}

/**
 * a^b with C pow edges: negative a needs an integer b (sign from its parity, else NaN),
 * 0^b is 0, 1 or +inf by the sign of b, b = 0 gives 1; overflow gives +inf.
 */
@inline export function pow4(a: v128, b: v128): v128 {
  const zero = f32x4.splat(0.0);
  const one = f32x4.splat(1.0);
  const t = f32x4.mul(b, log4(f32x4.abs(a)));
  let y = expEdges4(t);
  const isInt = f32x4.eq(f32x4.floor(b), b);
  const half = f32x4.mul(b, f32x4.splat(0.5));
  const odd = v128.and(isInt, f32x4.ne(f32x4.floor(half), half));
  const neg = f32x4.lt(a, zero);
  y = v128.xor(y, v128.and(v128.and(neg, odd), i32x4.splat(0x80000000)));
  y = v128.bitselect(f32x4.splat(NaN), y, v128.andnot(neg, isInt));
  // 0^b and b = 0 (exp(b log 0) would give NaN for b = 0 and a tiny value for b > 0).
  const a0 = f32x4.eq(a, zero);
  const z = v128.bitselect(zero, f32x4.splat(F32_INF), f32x4.gt(b, zero));
  y = v128.bitselect(z, y, a0);
  return v128.bitselect(one, y, f32x4.eq(b, zero));
}

@inline export function pow1(a: f32, b: f32): f32 {
  return Mathf.pow(a, b);
}
