// Vector helpers shared by every kernel family. One source, three builds: the
// `ASC_FEATURE_*` constants are fixed at compile time, so the dead branch is
// never emitted and the scalar build contains no v128 instruction.

/** a * b + c: a real FMA in the relaxed build, mul + add elsewhere. */
@inline export function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** c - a * b. */
@inline export function nmadd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}

/** Sum of the four lanes. */
@inline export function hsum4(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const t = f32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

/**
 * Bytes of a picked by the byte indices in s (all below 16): one pshufb in the relaxed build,
 * which may skip the out-of-range handling the plain swizzle pays for.
 */
@inline export function swizzle16(a: v128, s: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(a, s);
  return i8x16.swizzle(a, s);
}
