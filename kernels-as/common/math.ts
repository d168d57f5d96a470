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

// Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits: one add gives both
// round-to-nearest n and its integer form (cheaper than nearest + trunc_sat, which V8 expands).
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;

/**
 * e^r for x = n ln2 + r: n from the magic-rounded t = x log2(e) + 1.5 * 2^23, r by a two-part
 * ln2 (Cody-Waite), e^r by the degree-6 polynomial. The caller scales by 2^n.
 */
@inline function expReduced4(x: v128, t: v128): v128 {
  const n = f32x4.sub(t, kf(F_ROUND_MAGIC));
  let r = madd4(n, kf(F_NEG_LN2_HI), x);
  r = madd4(n, kf(F_NEG_LN2_LO), r);
  let p = madd4(kf(F_P0), r, kf(F_P1));
  p = madd4(p, r, kf(F_P2));
  p = madd4(p, r, kf(F_P3));
  p = madd4(p, r, kf(F_P4));
  p = madd4(p, r, kf(F_P5));
  return madd4(p, f32x4.mul(r, r), f32x4.add(r, kf(F_ONE)));
}

@inline export function exp4(x0: v128): v128 {
  // pmin/pmax map to single instructions (min/max carry NaN rules V8 expands to ~8 each);
  // this operand order still lets NaN through.
  const x = f32x4.pmax(f32x4.pmin(x0, kf(F_EXP_HI)), kf(F_EXP_LO));
  const t = madd4(x, kf(F_LOG2E), kf(F_ROUND_MAGIC));
  const p = expReduced4(x, t);
  // 2^n, split in two factors so n = 128 (x near EXP_HI) does not overflow the exponent.
  const ni = i32x4.sub(t, ki(I_ROUND_MAGIC_BITS));
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, ki(I_EXP_BIAS)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), ki(I_EXP_BIAS)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

@inline export function sigmoid4(x: v128): v128 {
  const one = kf(F_ONE);
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
  const one = kf(F_ONE);
  const ax = f32x4.abs(x);
  const e = exp4(f32x4.add(ax, ax));
  let t = f32x4.sub(one, f32x4.div(kf(F_TWO), f32x4.add(e, one)));
  // Copy the sign bit of x onto t.
  t = v128.or(v128.and(t, ki(I_ABS_MASK)), v128.and(x, ki(I_SIGN_MASK)));
  const z = f32x4.mul(x, x);
  let p = madd4(kf(F_TANH_T0), z, kf(F_TANH_T1));
  p = madd4(p, z, kf(F_TANH_T2));
  p = madd4(p, z, kf(F_TANH_T3));
  p = madd4(p, z, kf(F_TANH_T4));
  p = madd4(f32x4.mul(p, z), x, x);
  return v128.bitselect(p, t, f32x4.lt(ax, kf(F_TANH_CUT)));
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
  const one = kf(F_ONE);
  const ax = f32x4.abs(x);
  const t = f32x4.div(one, madd4(ax, kf(F_ERF_P), one));
  let p = kf(F_ERF_A5);
  p = madd4(p, t, kf(F_ERF_A4));
  p = madd4(p, t, kf(F_ERF_A3));
  p = madd4(p, t, kf(F_ERF_A2));
  p = madd4(p, t, kf(F_ERF_A1));
  p = f32x4.mul(p, t);
  const y = f32x4.sub(one, f32x4.mul(p, exp4(f32x4.neg(f32x4.mul(ax, ax)))));
  const big = v128.or(v128.and(y, ki(I_ABS_MASK)), v128.and(x, ki(I_SIGN_MASK)));
  const z = f32x4.mul(x, x);
  let s = madd4(kf(F_ERF_S5), z, kf(F_ERF_S4));
  s = madd4(s, z, kf(F_ERF_S3));
  s = madd4(s, z, kf(F_ERF_S2));
  s = madd4(s, z, kf(F_ERF_S1));
  s = madd4(s, z, one);
  const small = f32x4.mul(f32x4.mul(s, x), kf(F_ERF_C0));
  return v128.bitselect(small, big, f32x4.lt(ax, kf(F_HALF)));
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
  return v128.andnot(exp4(x), f32x4.lt(x, kf(F_EXP_LO)));
}

/**
 * e^x for x <= 0, the shifted logits of softmax and LogSumExp: 2^n needs no split (n <= 0),
 * which saves a third of exp4's integer work; results below the normal range flush to 0.
 */
@inline export function expNonPos4(x: v128): v128 {
  const xc = f32x4.pmax(x, kf(F_EXP_LO));
  const t = madd4(xc, kf(F_LOG2E), kf(F_ROUND_MAGIC));
  const p = expReduced4(xc, t);
  const s = i32x4.shl(i32x4.add(i32x4.sub(t, ki(I_ROUND_MAGIC_BITS)), ki(I_EXP_BIAS)), 23);
  return v128.andnot(f32x4.mul(p, s), f32x4.lt(x, kf(F_EXP_LO)));
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
  const sub = f32x4.lt(x0, kf(F_MIN_NORMAL));
  const x = v128.bitselect(f32x4.mul(x0, kf(F_TWO_POW_23)), x0, sub);
  const bits = x;
  let e = i32x4.sub(i32x4.shr_u(bits, 23), ki(I_EXP_BIAS));
  e = i32x4.sub(e, v128.and(sub, ki(I_SUBNORMAL_SHIFT)));
  let m = v128.or(v128.and(bits, ki(I_MANTISSA)), ki(I_ONE_BITS));
  // Fold m in [sqrt(2), 2) down to [sqrt(1/2), 1) so f stays small.
  const hi = f32x4.gt(m, kf(F_SQRT2));
  m = v128.bitselect(f32x4.mul(m, kf(F_HALF)), m, hi);
  e = i32x4.sub(e, hi); // hi lanes are -1: e + 1
  const ef = f32x4.convert_i32x4_s(e);
  const f = f32x4.sub(m, kf(F_ONE));
  const z = f32x4.mul(f, f);
  let p = kf(F_LOG_Q0);
  p = madd4(p, f, kf(F_LOG_Q1));
  p = madd4(p, f, kf(F_LOG_Q2));
  p = madd4(p, f, kf(F_LOG_Q3));
  p = madd4(p, f, kf(F_LOG_Q4));
  p = madd4(p, f, kf(F_LOG_Q5));
  p = madd4(p, f, kf(F_LOG_Q6));
  p = madd4(p, f, kf(F_LOG_Q7));
  p = madd4(p, f, kf(F_LOG_Q8));
  let y = f32x4.mul(f32x4.mul(p, z), f);
  y = madd4(ef, kf(F_LN2_LO), y);
  y = madd4(z, kf(F_NEG_HALF), y);
  y = f32x4.add(f32x4.add(f, y), f32x4.mul(ef, kf(F_LN2_HI)));
  // Edges: 0 -> -inf, negative or NaN -> NaN, +inf -> +inf.
  y = v128.bitselect(kf(F_NEG_INF), y, f32x4.eq(x0, f32x4.splat(0.0)));
  y = v128.bitselect(kf(F_INF), y, f32x4.eq(x0, kf(F_INF)));
  const bad = v128.not(f32x4.ge(x0, f32x4.splat(0.0)));
  return v128.bitselect(kf(F_NAN), y, bad);
}

@inline export function log1(x: f32): f32 {
  return Mathf.log(x);
}

/** log(1 + t) for t >= 0, accurate for tiny t: log(u) * t / (u - 1) with u = 1 + t. */
@inline function log1pPos4(t: v128): v128 {
  const u = f32x4.add(t, kf(F_ONE));
  const d = f32x4.sub(u, kf(F_ONE));
  const r = f32x4.div(f32x4.mul(log4(u), t), d);
  return v128.bitselect(t, r, f32x4.eq(d, f32x4.splat(0.0)));
}

/** softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), stable for any x. */
@inline export function softplus4(x: v128): v128 {
  const t = exp4(f32x4.neg(f32x4.abs(x)));
  return f32x4.add(f32x4.pmax(x, f32x4.splat(0.0)), log1pPos4(t));
}

@inline export function softplus1(x: f32): f32 {
  return Mathf.max(x, 0.0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
}

/** e^x - 1, by its Taylor series to x^7 for |x| < 0.35 where exp4(x) - 1 would cancel. */
@inline export function expm14(x: v128): v128 {
  let p = madd4(x, kf(F_INV_5040), kf(F_INV_720));
  p = madd4(p, x, kf(F_INV_120));
  p = madd4(p, x, kf(F_INV_24));
  p = madd4(p, x, kf(F_INV_6));
  p = madd4(p, x, kf(F_HALF));
  p = madd4(f32x4.mul(p, x), x, x);
  const big = f32x4.sub(exp4(x), kf(F_ONE));
  return v128.bitselect(p, big, f32x4.lt(f32x4.abs(x), kf(F_EXPM1_CUT)));
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

/**
 * GELU with the exact erf form, x/2 (1 + erf(x / sqrt 2)). With u = |x| / sqrt 2 and
 * q = erfc(u) from A&S 7.1.26, 1 + erf is q for x < 0 and 2 - q above: no cancellation in
 * the negative tail, and no small-|x| branch needed (1 + erf stays near 1 there).
 */
@inline export function geluErf4(x: v128): v128 {
  const one = kf(F_ONE);
  const u = f32x4.abs(f32x4.mul(x, kf(F_SQRT1_2)));
  const t = f32x4.div(one, madd4(u, kf(F_ERF_P), one));
  let p = madd4(kf(F_ERF_A5), t, kf(F_ERF_A4));
  p = madd4(p, t, kf(F_ERF_A3));
  p = madd4(p, t, kf(F_ERF_A2));
  p = madd4(p, t, kf(F_ERF_A1));
  const q = f32x4.mul(f32x4.mul(p, t), exp4(f32x4.neg(f32x4.mul(u, u))));
  const s = v128.bitselect(q, f32x4.sub(kf(F_TWO), q), f32x4.lt(x, f32x4.splat(0.0)));
  return f32x4.mul(f32x4.mul(x, kf(F_HALF)), s);
}

@inline export function geluErf1(x: f32): f32 {
  return 0.5 * x * (1.0 + erf1(x * SQRT1_2));
}

/**
 * GELU, tanh approximation: x/2 (1 + tanh(v)) with v = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as x / (1 + e^{-2v}) (the same value): one exp, no cancellation.
 */
@inline export function geluTanh4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const v = f32x4.mul(madd4(x3, kf(F_GELU_K), x), kf(F_GELU_C));
  return f32x4.div(x, f32x4.add(kf(F_ONE), exp4(f32x4.mul(v, kf(F_NEG_TWO)))));
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
  const t = madd4(x, kf(F_TWO_OVER_PI), kf(F_ROUND_MAGIC));
  const n = f32x4.sub(t, kf(F_ROUND_MAGIC));
  let r = madd4(n, kf(F_NEG_PIO2_1), x);
  r = madd4(n, kf(F_NEG_PIO2_2), r);
  r = madd4(n, kf(F_NEG_PIO2_3), r);
  const q = i32x4.add(i32x4.sub(t, ki(I_ROUND_MAGIC_BITS)), i32x4.splat(shift));
  const z = f32x4.mul(r, r);
  let s = madd4(kf(F_SIN_S0), z, kf(F_SIN_S1));
  s = madd4(s, z, kf(F_SIN_S2));
  s = madd4(f32x4.mul(s, z), r, r);
  let c = madd4(kf(F_COS_C0), z, kf(F_COS_C1));
  c = madd4(c, z, kf(F_COS_C2));
  c = madd4(f32x4.mul(c, z), z, madd4(z, kf(F_NEG_HALF), kf(F_ONE)));
  // Odd quadrants take the cosine polynomial; quadrants 2 and 3 flip the sign.
  const odd = i32x4.eq(v128.and(q, ki(I_INT_ONE)), ki(I_INT_ONE));
  const y = v128.bitselect(c, s, odd);
  return v128.xor(y, i32x4.shl(v128.and(q, ki(I_INT_TWO)), 30));
}

@inline export function sin4(x: v128): v128 {
  return sincos4(x, 0);
}

@inline export function cos4(x: v128): v128 {
  return sincos4(x, 1);
}

/**
 * a^b with C pow edges: negative a needs an integer b (sign from its parity, else NaN),
 * 0^b is 0, 1 or +inf by the sign of b, b = 0 and a = 1 give 1 (even for a NaN or infinite
 * b); overflow gives +inf.
 */
@inline export function pow4(a: v128, b: v128): v128 {
  const zero = f32x4.splat(0.0);
  const one = kf(F_ONE);
  const t = f32x4.mul(b, log4(f32x4.abs(a)));
  let y = expEdges4(t);
  const isInt = f32x4.eq(f32x4.floor(b), b);
  const half = f32x4.mul(b, kf(F_HALF));
  const odd = v128.and(isInt, f32x4.ne(f32x4.floor(half), half));
  const neg = f32x4.lt(a, zero);
  y = v128.xor(y, v128.and(v128.and(neg, odd), ki(I_SIGN_MASK)));
  y = v128.bitselect(kf(F_NAN), y, v128.andnot(neg, isInt));
  // 0^b and b = 0 (exp(b log 0) would give NaN for b = 0 and a tiny value for b > 0).
  const a0 = f32x4.eq(a, zero);
  const z = v128.bitselect(zero, kf(F_INF), f32x4.gt(b, zero));
  y = v128.bitselect(z, y, a0);
  return v128.bitselect(one, y, v128.or(f32x4.eq(b, zero), f32x4.eq(a, one)));
}

@inline export function pow1(a: f32, b: f32): f32 {
  // C's 1^b = 1, which Mathf.pow (JavaScript's rules) gives as NaN for a NaN or infinite b.
  return a == 1 ? 1 : Mathf.pow(a, b);
}

// ---------------------------------------------------------------------------------------------
// V8 rebuilds each v128 constant inside a loop with several instructions (exp4 ran twice
// as slow); the vector code loads its constants from these tables instead, one broadcast
// load each. Binaryen cannot fold the loads back into constants: the memory is imported.
const KF = memory.data<f32>([
  EXP_HI,
  EXP_LO,
  LOG2E,
  ROUND_MAGIC,
  -LN2_HI,
  -LN2_LO,
  P0,
  P1,
  P2,
  P3,
  P4,
  P5,
  1.0,
  2.0,
  TANH_T0,
  TANH_T1,
  TANH_T2,
  TANH_T3,
  TANH_T4,
  0.625,
  ERF_P,
  ERF_A5,
  ERF_A4,
  ERF_A3,
  ERF_A2,
  ERF_A1,
  ERF_S5,
  ERF_S4,
  ERF_S3,
  ERF_S2,
  ERF_S1,
  ERF_C0,
  0.5,
  1.17549435e-38,
  8388608.0,
  1.41421356237,
  LOG_Q0,
  LOG_Q1,
  LOG_Q2,
  LOG_Q3,
  LOG_Q4,
  LOG_Q5,
  LOG_Q6,
  LOG_Q7,
  LOG_Q8,
  LN2_LO,
  -0.5,
  LN2_HI,
  -F32_INF,
  F32_INF,
  NaN,
  <f32>(1.0 / 5040.0),
  <f32>(1.0 / 720.0),
  <f32>(1.0 / 120.0),
  <f32>(1.0 / 24.0),
  <f32>(1.0 / 6.0),
  0.35,
  SQRT1_2,
  GELU_K,
  GELU_C,
  TWO_OVER_PI,
  -PIO2_1,
  -PIO2_2,
  -PIO2_3,
  SIN_S0,
  SIN_S1,
  SIN_S2,
  COS_C0,
  COS_C1,
  COS_C2,
  -2.0,
]);
export const F_EXP_HI: i32 = 0;
export const F_EXP_LO: i32 = 1;
export const F_LOG2E: i32 = 2;
export const F_ROUND_MAGIC: i32 = 3;
export const F_NEG_LN2_HI: i32 = 4;
export const F_NEG_LN2_LO: i32 = 5;
export const F_P0: i32 = 6;
export const F_P1: i32 = 7;
export const F_P2: i32 = 8;
export const F_P3: i32 = 9;
export const F_P4: i32 = 10;
export const F_P5: i32 = 11;
export const F_ONE: i32 = 12;
export const F_TWO: i32 = 13;
export const F_TANH_T0: i32 = 14;
export const F_TANH_T1: i32 = 15;
export const F_TANH_T2: i32 = 16;
export const F_TANH_T3: i32 = 17;
export const F_TANH_T4: i32 = 18;
export const F_TANH_CUT: i32 = 19;
export const F_ERF_P: i32 = 20;
export const F_ERF_A5: i32 = 21;
export const F_ERF_A4: i32 = 22;
export const F_ERF_A3: i32 = 23;
export const F_ERF_A2: i32 = 24;
export const F_ERF_A1: i32 = 25;
export const F_ERF_S5: i32 = 26;
export const F_ERF_S4: i32 = 27;
export const F_ERF_S3: i32 = 28;
export const F_ERF_S2: i32 = 29;
export const F_ERF_S1: i32 = 30;
export const F_ERF_C0: i32 = 31;
export const F_HALF: i32 = 32;
export const F_MIN_NORMAL: i32 = 33;
export const F_TWO_POW_23: i32 = 34;
export const F_SQRT2: i32 = 35;
export const F_LOG_Q0: i32 = 36;
export const F_LOG_Q1: i32 = 37;
export const F_LOG_Q2: i32 = 38;
export const F_LOG_Q3: i32 = 39;
export const F_LOG_Q4: i32 = 40;
export const F_LOG_Q5: i32 = 41;
export const F_LOG_Q6: i32 = 42;
export const F_LOG_Q7: i32 = 43;
export const F_LOG_Q8: i32 = 44;
export const F_LN2_LO: i32 = 45;
export const F_NEG_HALF: i32 = 46;
export const F_LN2_HI: i32 = 47;
export const F_NEG_INF: i32 = 48;
export const F_INF: i32 = 49;
export const F_NAN: i32 = 50;
export const F_INV_5040: i32 = 51;
export const F_INV_720: i32 = 52;
export const F_INV_120: i32 = 53;
export const F_INV_24: i32 = 54;
export const F_INV_6: i32 = 55;
export const F_EXPM1_CUT: i32 = 56;
export const F_SQRT1_2: i32 = 57;
export const F_GELU_K: i32 = 58;
export const F_GELU_C: i32 = 59;
export const F_TWO_OVER_PI: i32 = 60;
export const F_NEG_PIO2_1: i32 = 61;
export const F_NEG_PIO2_2: i32 = 62;
export const F_NEG_PIO2_3: i32 = 63;
export const F_SIN_S0: i32 = 64;
export const F_SIN_S1: i32 = 65;
export const F_SIN_S2: i32 = 66;
export const F_COS_C0: i32 = 67;
export const F_COS_C1: i32 = 68;
export const F_COS_C2: i32 = 69;
export const F_NEG_TWO: i32 = 70;
const KI = memory.data<i32>([
  ROUND_MAGIC_BITS,
  127,
  0x7fffffff,
  0x80000000,
  23,
  0x007fffff,
  0x3f800000,
  1,
  2,
]);
export const I_ROUND_MAGIC_BITS: i32 = 0;
export const I_EXP_BIAS: i32 = 1;
export const I_ABS_MASK: i32 = 2;
export const I_SIGN_MASK: i32 = 3;
export const I_SUBNORMAL_SHIFT: i32 = 4;
export const I_MANTISSA: i32 = 5;
export const I_ONE_BITS: i32 = 6;
export const I_INT_ONE: i32 = 7;
export const I_INT_TWO: i32 = 8;

/** Table float constant `i`, splat to four lanes. */
@inline export function kf(i: i32): v128 {
  return v128.load32_splat(KF + (<usize>i << 2));
}

/** Table integer constant `i`, splat to four lanes. */
@inline export function ki(i: i32): v128 {
  return v128.load32_splat(KI + (<usize>i << 2));
}
