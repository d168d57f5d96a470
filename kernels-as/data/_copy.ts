// Private building blocks of the data-movement kernels: element copies generic over the
// element width (u8, u16, u32, u64), with SIMD paths for 32-bit elements. Strides are in
// elements and may be negative or zero; the caller guarantees every address is in bounds.

/** Copies n bytes; short runs by hand because memory.copy is a call into the host. */
@inline export function copyBytes(d: usize, s: usize, n: usize): void {
  if (n >= 64) {
    memory.copy(d, s, n);
  } else if ((n & 7) == 0) {
    for (let i: usize = 0; i < n; i += 8) store<u64>(d + i, load<u64>(s + i));
  } else if ((n & 3) == 0) {
    for (let i: usize = 0; i < n; i += 4) store<u32>(d + i, load<u32>(s + i));
  } else {
    for (let i: usize = 0; i < n; i++) store<u8>(d + i, load<u8>(s + i));
  }
}

/** Writes n copies of the element at s to d (contiguous). */
function fillRow<T>(d: usize, s: usize, n: i32): void {
  const size = <usize>sizeof<T>();
  if (size == 1) {
    memory.fill(d, load<u8>(s), <usize>n);
    return;
  }
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let v: v128;
    if (size == 2) v = v128.load16_splat(s);
    else if (size == 4) v = v128.load32_splat(s);
    else v = v128.load64_splat(s);
    const per = <i32>(16 / size);
    for (; i + per <= n; i += per) v128.store(d + <usize>i * size, v);
  }
  const x = load<T>(s);
  for (; i < n; i++) store<T>(d + <usize>i * size, x);
}

/**
 * dst[r*dR + c] = src[c*sC + r] for r < R, c < C: the src block is C rows of R elements
 * (row stride sC), written transposed. 32-bit elements go through 4x4 register transposes,
 * walked in strips of 64 rows so the written block stays in L1.
 */
function transposeBlock<T>(R: i32, C: i32, s: usize, sC: i32, d: usize, dR: i32): void {
  const size = <usize>sizeof<T>();
  const sCb = <usize>sC * size;
  const dRb = <usize>dR * size;
  if (ASC_FEATURE_SIMD && size == 4) {
    if (C == 2 && dR == 2) {
      // Zip two rows (DepthToSpace / PixelShuffle with block 2).
      const s1 = s + sCb;
      let r = 0;
      for (; r + 4 <= R; r += 4) {
        const a = v128.load(s + (<usize>r << 2));
        const b = v128.load(s1 + (<usize>r << 2));
        const o = d + (<usize>r << 3);
        v128.store(o, i32x4.shuffle(a, b, 0, 4, 1, 5));
        v128.store(o, i32x4.shuffle(a, b, 2, 6, 3, 7), 16);
      }
      for (; r < R; r++) {
        store<u32>(d + (<usize>r << 3), load<u32>(s + (<usize>r << 2)));
        store<u32>(d + (<usize>r << 3) + 4, load<u32>(s1 + (<usize>r << 2)));
      }
      return;
    }
    const C4 = C & ~3;
    const R4 = R & ~3;
    for (let r0 = 0; r0 < R; r0 += 64) {
      const r1 = min(r0 + 64, R);
      const r1v = min(r1, R4);
      for (let c = 0; c < C4; c += 4) {
        const sp = s + <usize>c * sCb;
        const dp = d + (<usize>c << 2);
        let r = r0;
        for (; r < r1v; r += 4) {
          const p = sp + (<usize>r << 2);
          const a = v128.load(p);
          const b = v128.load(p + sCb);
          const e = v128.load(p + 2 * sCb);
          const f = v128.load(p + 3 * sCb);
          const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
          const t1 = i32x4.shuffle(e, f, 0, 4, 1, 5);
          const t2 = i32x4.shuffle(a, b, 2, 6, 3, 7);
          const t3 = i32x4.shuffle(e, f, 2, 6, 3, 7);
          const q = dp + <usize>r * dRb;
          v128.store(q, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
          v128.store(q + dRb, i32x4.shuffle(t0, t1, 2, 3, 6, 7));
          v128.store(q + 2 * dRb, i32x4.shuffle(t2, t3, 0, 1, 4, 5));
          v128.store(q + 3 * dRb, i32x4.shuffle(t2, t3, 2, 3, 6, 7));
        }
        for (; r < r1; r++) {
          const q = dp + <usize>r * dRb;
          const p = sp + (<usize>r << 2);
          store<u32>(q, load<u32>(p));
          store<u32>(q + 4, load<u32>(p + sCb));
          store<u32>(q + 8, load<u32>(p + 2 * sCb));
          store<u32>(q + 12, load<u32>(p + 3 * sCb));
        }
      }
      for (let c = C4; c < C; c++) {
        const sp = s + <usize>c * sCb;
        const dp = d + (<usize>c << 2);
        for (let r = r0; r < r1; r++) store<u32>(dp + <usize>r * dRb, load<u32>(sp + (<usize>r << 2)));
      }
    }
    return;
  }
  // Scalar: 8x8 blocks keep both the read and the written lines in cache.
  for (let r0 = 0; r0 < R; r0 += 8) {
    const r1 = min(r0 + 8, R);
    for (let c0 = 0; c0 < C; c0 += 8) {
      const c1 = min(c0 + 8, C);
      for (let r = r0; r < r1; r++) {
        const q = d + <usize>r * dRb;
        for (let c = c0; c < c1; c++) {
          store<T>(q + <usize>c * size, load<T>(s + <usize>c * sCb + <usize>r * size));
        }
      }
    }
  }
}

/** dst[r*dR + c*dC] = src[r*sR + c*sC]: the innermost two dims of a strided copy. */
export function copyBlock<T>(
  R: i32, C: i32, s: usize, sR: i32, sC: i32, d: usize, dR: i32, dC: i32,
): void {
  const size = <usize>sizeof<T>();
  const sRb = <usize>sR * size;
  const dRb = <usize>dR * size;
  if (dC == 1 && sC == 1) {
    const bytes = <usize>C * size;
    for (let r = 0; r < R; r++) copyBytes(d + <usize>r * dRb, s + <usize>r * sRb, bytes);
    return;
  }
  if (dC == 1 && sC == 0) {
    for (let r = 0; r < R; r++) fillRow<T>(d + <usize>r * dRb, s + <usize>r * sRb, C);
    return;
  }
  if (dC == 1 && sR == 1 && R > 1 && C > 1 && sC > 0 && dR >= C) {
    transposeBlock<T>(R, C, s, sC, d, dR);
    return;
  }
  const sCb = <usize>sC * size;
  const dCb = <usize>dC * size;
  if (ASC_FEATURE_SIMD && size == 4 && dC == 1 && sC == 2) {
    // Every other element (SpaceToDepth with block 2, strided Slice).
    for (let r = 0; r < R; r++) {
      const sp = s + <usize>r * sRb;
      const dp = d + <usize>r * dRb;
      let c = 0;
      for (; c + 4 <= C - 1; c += 4) {
        const a = v128.load(sp + (<usize>c << 3));
        const b = v128.load(sp + (<usize>c << 3), 16);
        v128.store(dp + (<usize>c << 2), i32x4.shuffle(a, b, 0, 2, 4, 6));
      }
      for (; c < C; c++) store<u32>(dp + (<usize>c << 2), load<u32>(sp + (<usize>c << 3)));
    }
    return;
  }
  for (let r = 0; r < R; r++) {
    let sp = s + <usize>r * sRb;
    let dp = d + <usize>r * dRb;
    for (let c = 0; c < C; c++) {
      store<T>(dp, load<T>(sp));
      sp += sCb;
      dp += dCb;
    }
  }
}
