// softplus(x) = log(1 + e^x) for Mamba's dt, written as max(x, 0) + log1p(e^-|x|) so it never
// overflows. log1p(u) for u in (0, 1] is 2 atanh(s) with s = u / (2 + u) <= 1/3, by its odd
// series to s^11 (truncation below 1e-7 relative), which needs no exponent split.
import { madd4 } from "../common/simd";

/** softplus from e = e^-|x| (computed by the caller, see _exp.ts). */
@inline export function softplusFromExp4(x: v128, e: v128): v128 {
  const s = f32x4.div(e, f32x4.add(e, f32x4.splat(2.0)));
  const s2 = f32x4.mul(s, s);
  let p = f32x4.splat(<f32>(1.0 / 11.0));
  p = madd4(p, s2, f32x4.splat(<f32>(1.0 / 9.0)));
  p = madd4(p, s2, f32x4.splat(<f32>(1.0 / 7.0)));
  p = madd4(p, s2, f32x4.splat(<f32>(1.0 / 5.0)));
  p = madd4(p, s2, f32x4.splat(<f32>(1.0 / 3.0)));
  p = madd4(p, s2, f32x4.splat(1.0));
  const l = f32x4.mul(f32x4.add(s, s), p);
  return f32x4.add(f32x4.max(x, f32x4.splat(0.0)), l);
}

@inline export function softplus1(x: f32): f32 {
  return Mathf.max(x, 0.0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
}
