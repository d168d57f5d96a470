// Block-sparse matrix-vector product (fully connected layers, RNN steps): y = act(W·x + bias).
//
// W (m x k) is cut into bands of 16 rows and each band into blocks of bc columns. Inside a
// block the rows and the columns that are entirely zero are removed; the kept entries form a
// small dense sub-matrix stored column by column, so one kept column is one splat of x[col]
// and 1 to 4 vector multiply-adds over its kept rows, read contiguously.
// Layout (engine/weights/block_sparse.ts, which documents and validates it):
//   bandBlocks  (bands + 1) i32: the blocks of band b are [bandBlocks[b], bandBlocks[b + 1]).
//   blocks      4 i32 per block: first kept column (index into cols), kept column count (> 0),
//               first value (float index into values, a multiple of 4), row mask (bit r: row
//               16 b + r is kept; kept rows are stored in increasing order).
//   cols        i32 absolute column indices, increasing within a band.
//   values      per block, per kept column: its kept rows' values padded with zeros to
//               4 * ceil(kept rows / 4) floats.
// The band's rows of y are the accumulators: a block adds its kept rows into them, so the
// kernel uses no scratch and threads may run disjoint band ranges concurrently.
import { madd4 } from "../common/simd";
import { activate1, activate4 } from "../common/activation";

/** Adds the 4 lanes of v to the rows of y named by the next 4 set bits of mask; returns the rest. */
@inline function scatter4(yb: usize, v: v128, mask: u32): u32 {
  let r = <usize>ctz<u32>(mask) << 2;
  store<f32>(yb + r, load<f32>(yb + r) + f32x4.extract_lane(v, 0));
  mask &= mask - 1;
  if (mask == 0) return 0;
  r = <usize>ctz<u32>(mask) << 2;
  store<f32>(yb + r, load<f32>(yb + r) + f32x4.extract_lane(v, 1));
  mask &= mask - 1;
  if (mask == 0) return 0;
  r = <usize>ctz<u32>(mask) << 2;
  store<f32>(yb + r, load<f32>(yb + r) + f32x4.extract_lane(v, 2));
  mask &= mask - 1;
  if (mask == 0) return 0;
  r = <usize>ctz<u32>(mask) << 2;
  store<f32>(yb + r, load<f32>(yb + r) + f32x4.extract_lane(v, 3));
  return mask & (mask - 1);
}

@inline function splatX(x: usize, cp: usize): v128 {
  return v128.load32_splat(x + (<usize>load<i32>(cp) << 2));
}

/** One block, SIMD: kept rows in nv vectors (1 to 4), two or four columns per step. */
@inline function blockSimd(yb: usize, cp: usize, nc: i32, vp: usize, mask: u32, x: usize, z: v128): void {
  const nv = (popcnt<u32>(mask) + 3) >> 2;
  let j = 0;
  if (nv == 1) {
    let a0 = z;
    let a1 = z;
    let a2 = z;
    let a3 = z;
    for (; j + 4 <= nc; j += 4) {
      a0 = madd4(splatX(x, cp), v128.load(vp), a0);
      a1 = madd4(splatX(x, cp + 4), v128.load(vp, 16), a1);
      a2 = madd4(splatX(x, cp + 8), v128.load(vp, 32), a2);
      a3 = madd4(splatX(x, cp + 12), v128.load(vp, 48), a3);
      cp += 16;
      vp += 64;
    }
    for (; j < nc; j++) {
      a0 = madd4(splatX(x, cp), v128.load(vp), a0);
      cp += 4;
      vp += 16;
    }
    scatter4(yb, f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), mask);
  } else if (nv == 2) {
    let a0 = z;
    let a1 = z;
    let b0 = z;
    let b1 = z;
    let c0 = z;
    let c1 = z;
    let d0 = z;
    let d1 = z;
    for (; j + 4 <= nc; j += 4) {
      const x0 = splatX(x, cp);
      const x1 = splatX(x, cp + 4);
      const x2 = splatX(x, cp + 8);
      const x3 = splatX(x, cp + 12);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      b0 = madd4(x1, v128.load(vp, 32), b0);
      b1 = madd4(x1, v128.load(vp, 48), b1);
      c0 = madd4(x2, v128.load(vp, 64), c0);
      c1 = madd4(x2, v128.load(vp, 80), c1);
      d0 = madd4(x3, v128.load(vp, 96), d0);
      d1 = madd4(x3, v128.load(vp, 112), d1);
      cp += 16;
      vp += 128;
    }
    for (; j < nc; j++) {
      const x0 = splatX(x, cp);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      cp += 4;
      vp += 32;
    }
    a0 = f32x4.add(f32x4.add(a0, b0), f32x4.add(c0, d0));
    a1 = f32x4.add(f32x4.add(a1, b1), f32x4.add(c1, d1));
    const rest = scatter4(yb, a0, mask);
    scatter4(yb, a1, rest);
  } else if (nv == 3) {
    let a0 = z;
    let a1 = z;
    let a2 = z;
    let b0 = z;
    let b1 = z;
    let b2 = z;
    for (; j + 2 <= nc; j += 2) {
      const x0 = splatX(x, cp);
      const x1 = splatX(x, cp + 4);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      a2 = madd4(x0, v128.load(vp, 32), a2);
      b0 = madd4(x1, v128.load(vp, 48), b0);
      b1 = madd4(x1, v128.load(vp, 64), b1);
      b2 = madd4(x1, v128.load(vp, 80), b2);
      cp += 8;
      vp += 96;
    }
    if (j < nc) {
      const x0 = splatX(x, cp);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      a2 = madd4(x0, v128.load(vp, 32), a2);
    }
    let rest = scatter4(yb, f32x4.add(a0, b0), mask);
    rest = scatter4(yb, f32x4.add(a1, b1), rest);
    scatter4(yb, f32x4.add(a2, b2), rest);
  } else {
    let a0 = z;
    let a1 = z;
    let a2 = z;
    let a3 = z;
    let b0 = z;
    let b1 = z;
    let b2 = z;
    let b3 = z;
    for (; j + 2 <= nc; j += 2) {
      const x0 = splatX(x, cp);
      const x1 = splatX(x, cp + 4);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      a2 = madd4(x0, v128.load(vp, 32), a2);
      a3 = madd4(x0, v128.load(vp, 48), a3);
      b0 = madd4(x1, v128.load(vp, 64), b0);
      b1 = madd4(x1, v128.load(vp, 80), b1);
      b2 = madd4(x1, v128.load(vp, 96), b2);
      b3 = madd4(x1, v128.load(vp, 112), b3);
      cp += 8;
      vp += 128;
    }
    if (j < nc) {
      const x0 = splatX(x, cp);
      a0 = madd4(x0, v128.load(vp), a0);
      a1 = madd4(x0, v128.load(vp, 16), a1);
      a2 = madd4(x0, v128.load(vp, 32), a2);
      a3 = madd4(x0, v128.load(vp, 48), a3);
    }
    a0 = f32x4.add(a0, b0);
    a1 = f32x4.add(a1, b1);
    a2 = f32x4.add(a2, b2);
    a3 = f32x4.add(a3, b3);
    if (mask == 0xffff) {
      // Whole band kept (the packer keeps all 16 rows when 13 or more survive): vector adds.
      v128.store(yb, f32x4.add(v128.load(yb), a0));
      v128.store(yb, f32x4.add(v128.load(yb, 16), a1), 16);
      v128.store(yb, f32x4.add(v128.load(yb, 32), a2), 32);
      v128.store(yb, f32x4.add(v128.load(yb, 48), a3), 48);
    } else {
      let rest = scatter4(yb, a0, mask);
      rest = scatter4(yb, a1, rest);
      rest = scatter4(yb, a2, rest);
      scatter4(yb, a3, rest);
    }
  }
}

/** One block, scalar: one dot product per kept row over the block's kept columns. */
@inline function blockScalar(yb: usize, cp: usize, nc: i32, vp: usize, mask: u32, x: usize): void {
  const stride = <usize>((popcnt<u32>(mask) + 3) >> 2) << 4;
  let lane: usize = 0;
  while (mask != 0) {
    const r = <usize>ctz<u32>(mask) << 2;
    mask &= mask - 1;
    let s: f32 = 0;
    let v = vp + (lane << 2);
    for (let j = 0; j < nc; j++) {
      s += load<f32>(v) * load<f32>(x + (<usize>load<i32>(cp + (<usize>j << 2)) << 2));
      v += stride;
    }
    store<f32>(yb + r, load<f32>(yb + r) + s);
    lane++;
  }
}

/**
 * y[i] = act(W x + bias)[i] for the rows of bands [band0, band0 + bandCount) (band b is rows
 * 16 b to min(16 b + 16, m)); other rows of y are left alone. bias: m floats or 0. x is only
 * read at the stored column indices. Uses no scratch: threads may run disjoint band ranges.
 */
export function f32_gemv_block_16(
  m: i32, band0: i32, bandCount: i32, bandBlocks: usize, blocks: usize, cols: usize,
  values: usize, x: usize, bias: usize, y: usize, act: i32, p0: f32, p1: f32,
): void {
  for (let b = band0; b < band0 + bandCount; b++) {
    const row0 = b << 4;
    const rows = min(16, m - row0);
    const yb = y + (<usize>row0 << 2);
    const bb = bias + (<usize>row0 << 2);
    let full = false;
    if (ASC_FEATURE_SIMD) {
      if (rows == 16) {
        const z = f32x4.splat(0);
        v128.store(yb, bias != 0 ? v128.load(bb) : z);
        v128.store(yb, bias != 0 ? v128.load(bb, 16) : z, 16);
        v128.store(yb, bias != 0 ? v128.load(bb, 32) : z, 32);
        v128.store(yb, bias != 0 ? v128.load(bb, 48) : z, 48);
        full = true;
      }
    }
    if (!full) {
      for (let r = 0; r < rows; r++) {
        store<f32>(yb + (<usize>r << 2), bias != 0 ? load<f32>(bb + (<usize>r << 2)) : 0);
      }
    }
    const t0 = load<i32>(bandBlocks + (<usize>b << 2));
    const t1 = load<i32>(bandBlocks + (<usize>b << 2), 4);
    for (let t = t0; t < t1; t++) {
      const bp = blocks + (<usize>t << 4);
      const cp = cols + (<usize>load<i32>(bp) << 2);
      const nc = load<i32>(bp, 4);
      const vp = values + (<usize>load<i32>(bp, 8) << 2);
      const mask = load<u32>(bp, 12);
      if (ASC_FEATURE_SIMD) blockSimd(yb, cp, nc, vp, mask, x, f32x4.splat(0));
      else blockScalar(yb, cp, nc, vp, mask, x);
    }
    if (act != 0) {
      if (ASC_FEATURE_SIMD) {
        if (full) {
          v128.store(yb, activate4(v128.load(yb), act, p0, p1));
          v128.store(yb, activate4(v128.load(yb, 16), act, p0, p1), 16);
          v128.store(yb, activate4(v128.load(yb, 32), act, p0, p1), 32);
          v128.store(yb, activate4(v128.load(yb, 48), act, p0, p1), 48);
        }
      }
      if (!full) {
        for (let r = 0; r < rows; r++) {
          const q = yb + (<usize>r << 2);
          store<f32>(q, activate1(load<f32>(q), act, p0, p1));
        }
      }
    }
  }
}
