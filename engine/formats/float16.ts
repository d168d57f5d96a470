/**
 * IEEE 754 half precision (float16) to and from float32, by bit manipulation so it runs on
 * hosts without `Float16Array` (Node 20, older browsers). Used for f16 weights in ONNX,
 * safetensors and TF.js files and for the f16 values of Quartet sparse packages.
 *
 * @module
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The number a float16 bit pattern encodes (exact: every float16 is a float32). */
export function fromFloat16Bits(h: number): number {
  const exp = h & 0x7c00;
  if (exp === 0) {
    // Zero or subnormal: mantissa × 2^-24, exact in float32.
    const v = (h & 0x3ff) * 5.960464477539063e-8;
    return h & 0x8000 ? -v : v;
  }
  // Normal: rebias the exponent (15 → 127) by adding 112 << 10 before the shift; Inf and NaN
  // keep an all-ones exponent.
  U32[0] = ((h & 0x8000) << 16) |
    (exp === 0x7c00 ? 0x7f800000 | ((h & 0x3ff) << 13) : ((h & 0x7fff) + 0x1c000) << 13);
  return F32[0];
}

/** The host's Float16Array, where there is one (converting through it is native code). */
export const HostFloat16 = typeof Float16Array === "function" ? Float16Array : undefined;

/** Expands float16 bit patterns to float32, into `out` when given (of the same length). */
export function float16ToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  if (HostFloat16) {
    out.set(new HostFloat16(bits.buffer, bits.byteOffset, bits.length));
    return out;
  }
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]);
  return out;
}

/** The float16 bit pattern nearest to `x` (round to nearest, ties to even; overflow → ±Inf). */
export function toFloat16Bits(x: number): number {
  F32[0] = x;
  const b = U32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the 24-bit significand down to units of 2^-24.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Inf: both are the right answer.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** Rounds float32 values to float16 bit patterns (nearest, ties to even). */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]);
  return out;
}

/** Largest finite float16 value. */
export const FLOAT16_MAX = 65504;
