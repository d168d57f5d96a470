// Transcendental functions for kernels, vector (v128) and scalar forms.
// Accuracy against a float64 reference is asserted in tests/kernels/math_test.ts.
import { madd4 } from "./simd";

// exp: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n by exponent bits.
const EXP_HI: f32 = 88.3762626647949;
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

/** tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error about 1e-7. */
@inline export function tanh4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const ax = f32x4.abs(x);
  const e = exp4(f32x4.add(ax, ax));
  const t = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e, one)));
  // Copy the sign bit of x onto t.
  return v128.or(v128.and(t, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
}

// erf by Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7.
const ERF_P: f32 = 0.3275911;
const ERF_A1: f32 = 0.254829592;
const ERF_A2: f32 = -0.284496736;
const ERF_A3: f32 = 1.421413741;
const ERF_A4: f32 = -1.453152027;
const ERF_A5: f32 = 1.061405429;

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
  return v128.or(v128.and(y, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
}

@inline export function exp1(x: f32): f32 {
  return Mathf.exp(x);
}

@inline export function sigmoid1(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

@inline export function tanh1(x: f32): f32 {
  const e = Mathf.exp(2.0 * Mathf.abs(x));
  const t: f32 = 1.0 - 2.0 / (e + 1.0);
  return x < 0 ? -t : t;
}

@inline export function erf1(x: f32): f32 {
  const ax = Mathf.abs(x);
  const t: f32 = 1.0 / (1.0 + ERF_P * ax);
  const p = ((((ERF_A5 * t + ERF_A4) * t + ERF_A3) * t + ERF_A2) * t + ERF_A1) * t;
  const y: f32 = 1.0 - p * Mathf.exp(-ax * ax);
  return x < 0 ? -y : y;
}
