// ArgMax / ArgMin over the middle axis of an [outer, r, inner] view, int64 indices out.

const FOUR = memory.data<i32>([4]);

// Flag bits.
const ARG_MIN: i32 = 1;
const SELECT_LAST: i32 = 2;

// Whether v replaces the current best: strictly better keeps the first of equal values,
// better-or-equal keeps the last.
@inline function better1(v: f32, best: f32, flags: i32): bool {
  if (flags & ARG_MIN) return flags & SELECT_LAST ? v <= best : v < best;
  return flags & SELECT_LAST ? v >= best : v > best;
}

@inline function better4(v: v128, best: v128, flags: i32): v128 {
  if (flags & ARG_MIN) return flags & SELECT_LAST ? f32x4.le(v, best) : f32x4.lt(v, best);
  return flags & SELECT_LAST ? f32x4.ge(v, best) : f32x4.gt(v, best);
}

// Lanes hold interleaved indices, so equal values tie-break on the index itself.
@inline function laneWins(v: f32, idx: i32, bv: f32, bi: i32, flags: i32): bool {
  if (v == bv) return flags & SELECT_LAST ? idx > bi : idx < bi;
  return better1(v, bv, flags & ARG_MIN);
}

/**
 * y[o, i] = index k of the largest (flags bit 0: smallest) x[o, k, i]; ties give the first
 * index, or the last with flags bit 1 (ONNX select_last_index). r must be at least 1.
 * NaN inputs give an unspecified index.
 */
export function f32_argmax_x4(
  outer: i32, r: i32, inner: i32, x: usize, y: usize, flags: i32,
): void {
  const rowBytes = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const base = x + <usize>o * <usize>r * rowBytes;
    const out = y + ((<usize>o * <usize>inner) << 3);
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      if (inner == 1 && r >= 8) {
        // Lane j sees k = j, j + 4, ...: each lane keeps its own best, then the lanes meet.
        let best = v128.load(base);
        let bidx = i32x4(0, 1, 2, 3);
        let cur = bidx;
        // Loaded, not a constant: V8 would rebuild a v128 constant on every iteration.
        const four = v128.load32_splat(FOUR);
        let kk = 4;
        for (; kk + 4 <= r; kk += 4) {
          const v = v128.load(base + (<usize>kk << 2));
          cur = i32x4.add(cur, four);
          const m = better4(v, best, flags);
          best = v128.bitselect(v, best, m);
          bidx = v128.bitselect(cur, bidx, m);
        }
        let bv = f32x4.extract_lane(best, 0);
        let bi = i32x4.extract_lane(bidx, 0);
        let vj = f32x4.extract_lane(best, 1);
        let ij = i32x4.extract_lane(bidx, 1);
        if (laneWins(vj, ij, bv, bi, flags)) {
          bv = vj;
          bi = ij;
        }
        vj = f32x4.extract_lane(best, 2);
        ij = i32x4.extract_lane(bidx, 2);
        if (laneWins(vj, ij, bv, bi, flags)) {
          bv = vj;
          bi = ij;
        }
        vj = f32x4.extract_lane(best, 3);
        ij = i32x4.extract_lane(bidx, 3);
        if (laneWins(vj, ij, bv, bi, flags)) {
          bv = vj;
          bi = ij;
        }
        for (; kk < r; kk++) {
          const v = load<f32>(base + (<usize>kk << 2));
          if (better1(v, bv, flags)) {
            bv = v;
            bi = kk;
          }
        }
        store<i64>(out, <i64>bi);
        continue;
      }
      for (; i + 4 <= inner; i += 4) {
        const col = base + (<usize>i << 2);
        let best = v128.load(col);
        let bidx = i32x4.splat(0);
        for (let kk = 1; kk < r; kk++) {
          const v = v128.load(col + <usize>kk * rowBytes);
          const m = better4(v, best, flags);
          best = v128.bitselect(v, best, m);
          bidx = v128.bitselect(i32x4.splat(kk), bidx, m);
        }
        const q = out + (<usize>i << 3);
        v128.store(q, i64x2.extend_low_i32x4_s(bidx));
        v128.store(q, i64x2.extend_high_i32x4_s(bidx), 16);
      }
    }
    for (; i < inner; i++) {
      const col = base + (<usize>i << 2);
      let bv = load<f32>(col);
      let bi = 0;
      for (let kk = 1; kk < r; kk++) {
        const v = load<f32>(col + <usize>kk * rowBytes);
        if (better1(v, bv, flags)) {
          bv = v;
          bi = kk;
        }
      }
      store<i64>(out + (<usize>i << 3), <i64>bi);
    }
  }
}
