// Where for 32-bit elements (float32, int32): a bitwise select, so the type does not matter.
import { splatA, splatB, splatC, tailA, tailB, tailC, tailY } from "./_scratch";

/**
 * y[r, i] = c[r, i] != 0 ? a[r, i] : b[r, i] over a rows x n block, with the condition as
 * bytes. Each operand has a row stride (ld*, elements, 0 repeats a row) and an inner stride
 * (s*: 1, or 0 to broadcast one value along the row), as in the binary kernels.
 */
export function x32_where_x8(
  rows: i32, n: i32, c: usize, ldc: i32, sc: i32, a: usize, lda: i32, sa: i32, b: usize,
  ldb: i32, sb: i32, y: usize,
): void {
  if (ASC_FEATURE_SIMD) {
    const stepC: usize = sc != 0 ? 8 : 0;
    const stepA: usize = sa != 0 ? 32 : 0;
    const stepB: usize = sb != 0 ? 32 : 0;
    const zero = i32x4.splat(0);
    let py = y;
    for (let r = 0; r < rows; r++) {
      let pc = c + <usize>r * <usize>ldc;
      let pa = a + ((<usize>r * <usize>lda) << 2);
      let pb = b + ((<usize>r * <usize>ldb) << 2);
      if (sc == 0) {
        v128.store(splatC(), i8x16.splat(load<u8>(pc)));
        pc = splatC();
      }
      if (sa == 0) {
        const s = v128.load32_splat(pa);
        v128.store(splatA(), s);
        v128.store(splatA(), s, 16);
        pa = splatA();
      }
      if (sb == 0) {
        const s = v128.load32_splat(pb);
        v128.store(splatB(), s);
        v128.store(splatB(), s, 16);
        pb = splatB();
      }
      let i = 0;
      for (; i + 8 <= n; i += 8) {
        const c16 = i16x8.extend_low_i8x16_u(v128.load64_zero(pc));
        const m0 = i32x4.ne(i32x4.extend_low_i16x8_u(c16), zero);
        const m1 = i32x4.ne(i32x4.extend_high_i16x8_u(c16), zero);
        v128.store(py, v128.bitselect(v128.load(pa), v128.load(pb), m0));
        v128.store(py, v128.bitselect(v128.load(pa, 16), v128.load(pb, 16), m1), 16);
        pc += stepC;
        pa += stepA;
        pb += stepB;
        py += 32;
      }
      if (i < n) {
        const rest = <usize>(n - i);
        memory.copy(tailC(), pc, rest);
        memory.copy(tailA(), pa, rest << 2);
        memory.copy(tailB(), pb, rest << 2);
        const c16 = i16x8.extend_low_i8x16_u(v128.load64_zero(tailC()));
        const m0 = i32x4.ne(i32x4.extend_low_i16x8_u(c16), zero);
        const m1 = i32x4.ne(i32x4.extend_high_i16x8_u(c16), zero);
        v128.store(tailY(), v128.bitselect(v128.load(tailA()), v128.load(tailB()), m0));
        v128.store(tailY(), v128.bitselect(v128.load(tailA(), 16), v128.load(tailB(), 16), m1), 16);
        memory.copy(py, tailY(), rest << 2);
        py += rest << 2;
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < n; i++) {
        const cv = load<u8>(c + <usize>r * <usize>ldc + <usize>i * <usize>sc);
        const src = cv != 0
          ? a + ((<usize>r * <usize>lda + <usize>i * <usize>sa) << 2)
          : b + ((<usize>r * <usize>ldb + <usize>i * <usize>sb) << 2);
        store<u32>(y + ((<usize>r * <usize>n + <usize>i) << 2), load<u32>(src));
      }
    }
  }
}
