// Softmax / LogSoftmax along the middle axis of an [outer, n, inner] view, stabilised by the
// maximum so exp never overflows.
import { expNonPos4, log4 } from "../common/math";

const TAIL = memory.data(32, 16);
const NEG_INF: f32 = -Infinity;

/**
 * y[o, :, i] = softmax over the n values x[o, :, i] (log = 1: log-softmax). inner = 1 is the
 * contiguous case (last axis, or ONNX < 13's coerce-to-2D); inner > 1 runs the lanes across
 * inner, so a softmax over NCHW channels needs no transpose. x and y may alias.
 */
export function f32_softmax_x8(
  outer: i32, n: i32, inner: i32, x: usize, y: usize, log: i32,
): void {
  if (ASC_FEATURE_SIMD) {
    if (inner == 1) {
      for (let o = 0; o < outer; o++) softmaxRow(x + ((<usize>o * <usize>n) << 2), y + ((<usize>o * <usize>n) << 2), n, log);
      return;
    }
    const rowBytes = <usize>inner << 2;
    for (let o = 0; o < outer; o++) {
      const base = <usize>o * <usize>n * rowBytes;
      let i = 0;
      // 16 columns at a time: four independent chains per pass hide the latencies.
      for (; i + 16 <= inner; i += 16) {
        softmaxCols16(x + base + (<usize>i << 2), y + base + (<usize>i << 2), n, rowBytes, log);
      }
      for (; i + 4 <= inner; i += 4) {
        softmaxCols4(x + base + (<usize>i << 2), y + base + (<usize>i << 2), n, rowBytes, log);
      }
      for (; i < inner; i++) softmaxScalar(x + base + (<usize>i << 2), y + base + (<usize>i << 2), n, rowBytes, log);
    }
  } else {
    const rowBytes = <usize>inner << 2;
    for (let o = 0; o < outer; o++) {
      const base = <usize>o * <usize>n * rowBytes;
      for (let i = 0; i < inner; i++) softmaxScalar(x + base + (<usize>i << 2), y + base + (<usize>i << 2), n, rowBytes, log);
    }
  }
}

// Lanes whose column held a NaN get a NaN maximum (pmax alone would drop it).
@inline function nanMax(m: v128, nan: v128): v128 {
  return v128.bitselect(f32x4.splat(NaN), m, nan);
}

// Softmax of 4 strided columns (stride in bytes between consecutive k).
@inline function softmaxCols4(px: usize, py: usize, n: i32, stride: usize, log: i32): void {
  let m = f32x4.splat(NEG_INF);
  let nan = f32x4.splat(0);
  for (let k = 0; k < n; k++) {
    const v = v128.load(px + <usize>k * stride);
    m = f32x4.pmax(m, v);
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  m = nanMax(m, nan);
  let s = f32x4.splat(0);
  for (let k = 0; k < n; k++) {
    const q = <usize>k * stride;
    const e = expNonPos4(f32x4.sub(v128.load(px + q), m));
    if (!log) v128.store(py + q, e);
    s = f32x4.add(s, e);
  }
  if (log) {
    const ls = log4(s);
    for (let k = 0; k < n; k++) {
      const q = <usize>k * stride;
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q), m), ls));
    }
  } else {
    const inv = f32x4.div(f32x4.splat(1.0), s);
    for (let k = 0; k < n; k++) {
      const q = <usize>k * stride;
      v128.store(py + q, f32x4.mul(v128.load(py + q), inv));
    }
  }
}

// Softmax of 16 strided columns: the 4-column passes with four independent vectors.
function softmaxCols16(px: usize, py: usize, n: i32, stride: usize, log: i32): void {
  let m0 = f32x4.splat(NEG_INF);
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  let n0 = f32x4.splat(0);
  let n1 = n0;
  let n2 = n0;
  let n3 = n0;
  for (let k = 0; k < n; k++) {
    const q = px + <usize>k * stride;
    const v0 = v128.load(q);
    const v1 = v128.load(q, 16);
    const v2 = v128.load(q, 32);
    const v3 = v128.load(q, 48);
    m0 = f32x4.pmax(m0, v0);
    m1 = f32x4.pmax(m1, v1);
    m2 = f32x4.pmax(m2, v2);
    m3 = f32x4.pmax(m3, v3);
    n0 = v128.or(n0, f32x4.ne(v0, v0));
    n1 = v128.or(n1, f32x4.ne(v1, v1));
    n2 = v128.or(n2, f32x4.ne(v2, v2));
    n3 = v128.or(n3, f32x4.ne(v3, v3));
  }
  m0 = nanMax(m0, n0);
  m1 = nanMax(m1, n1);
  m2 = nanMax(m2, n2);
  m3 = nanMax(m3, n3);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let s2 = s0;
  let s3 = s0;
  for (let k = 0; k < n; k++) {
    const q = <usize>k * stride;
    const e0 = expNonPos4(f32x4.sub(v128.load(px + q), m0));
    const e1 = expNonPos4(f32x4.sub(v128.load(px + q, 16), m1));
    const e2 = expNonPos4(f32x4.sub(v128.load(px + q, 32), m2));
    const e3 = expNonPos4(f32x4.sub(v128.load(px + q, 48), m3));
    if (!log) {
      v128.store(py + q, e0);
      v128.store(py + q, e1, 16);
      v128.store(py + q, e2, 32);
      v128.store(py + q, e3, 48);
    }
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
    s2 = f32x4.add(s2, e2);
    s3 = f32x4.add(s3, e3);
  }
  if (log) {
    const l0 = log4(s0);
    const l1 = log4(s1);
    const l2 = log4(s2);
    const l3 = log4(s3);
    for (let k = 0; k < n; k++) {
      const q = <usize>k * stride;
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q), m0), l0));
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q, 16), m1), l1), 16);
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q, 32), m2), l2), 32);
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q, 48), m3), l3), 48);
    }
  } else {
    const one = f32x4.splat(1.0);
    const i0 = f32x4.div(one, s0);
    const i1 = f32x4.div(one, s1);
    const i2 = f32x4.div(one, s2);
    const i3 = f32x4.div(one, s3);
    for (let k = 0; k < n; k++) {
      const q = py + <usize>k * stride;
      v128.store(q, f32x4.mul(v128.load(q), i0));
      v128.store(q, f32x4.mul(v128.load(q, 16), i1), 16);
      v128.store(q, f32x4.mul(v128.load(q, 32), i2), 32);
      v128.store(q, f32x4.mul(v128.load(q, 48), i3), 48);
    }
  }
}

// Maximum of a contiguous row. pmax is one instruction (max's NaN rules cost V8 about eight),
// so NaN is tracked on the side: a row holding NaN has a NaN maximum.
@inline function rowMax(px: usize, n: i32): f32 {
  let m0 = f32x4.splat(NEG_INF);
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  let nan = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = px + (<usize>i << 2);
    const v0 = v128.load(q);
    const v1 = v128.load(q, 16);
    const v2 = v128.load(q, 32);
    const v3 = v128.load(q, 48);
    m0 = f32x4.pmax(m0, v0);
    m1 = f32x4.pmax(m1, v1);
    m2 = f32x4.pmax(m2, v2);
    m3 = f32x4.pmax(m3, v3);
    nan = v128.or(
      v128.or(nan, v128.or(f32x4.ne(v0, v0), f32x4.ne(v1, v1))),
      v128.or(f32x4.ne(v2, v2), f32x4.ne(v3, v3)),
    );
  }
  m0 = f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3));
  m0 = f32x4.pmax(m0, i32x4.shuffle(m0, m0, 2, 3, 0, 1));
  let m = f32x4.extract_lane(f32x4.pmax(m0, i32x4.shuffle(m0, m0, 1, 0, 3, 2)), 0);
  for (; i < n; i++) {
    const v = load<f32>(px + (<usize>i << 2));
    m = v != v ? v : max<f32>(m, v);
  }
  return v128.any_true(nan) ? NaN : m;
}

// One contiguous row. The exp pass runs full 8-float steps in place, then the tail through
// the same vector code on a block padded with -inf (whose exp is exactly 0), so every element
// gets the same exp; memory.copy stays out of the hot loop (V8 makes it a call).
@inline function softmaxRow(px: usize, py: usize, n: i32, log: i32): void {
  const m = rowMax(px, n);
  const vm = f32x4.splat(m);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let qx = px;
  let qy = py;
  let steps = n >> 3;
  const rest = <usize>(n & 7) << 2;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < steps; i++) {
      const e0 = expNonPos4(f32x4.sub(v128.load(qx), vm));
      const e1 = expNonPos4(f32x4.sub(v128.load(qx, 16), vm));
      s0 = f32x4.add(s0, e0);
      s1 = f32x4.add(s1, e1);
      if (!log) {
        v128.store(qy, e0);
        v128.store(qy, e1, 16);
      }
      qx += 32;
      qy += 32;
    }
    if (pass == 1) {
      if (!log) memory.copy(py + (<usize>(n & ~7) << 2), TAIL, rest);
    } else if (rest == 0) {
      break;
    } else {
      v128.store(TAIL, f32x4.splat(NEG_INF));
      v128.store(TAIL, f32x4.splat(NEG_INF), 16);
      memory.copy(TAIL, qx, rest);
      qx = TAIL;
      qy = TAIL;
      steps = 1;
    }
  }
  s0 = f32x4.add(s0, s1);
  s0 = f32x4.add(s0, i32x4.shuffle(s0, s0, 2, 3, 0, 1));
  s0 = f32x4.add(s0, i32x4.shuffle(s0, s0, 1, 0, 3, 2));
  let i = 0;
  if (log) {
    // log of the sum through log4 too, for the same reason.
    const vl = log4(s0);
    const l = f32x4.extract_lane(vl, 0);
    for (; i + 8 <= n; i += 8) {
      const q = <usize>i << 2;
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q), vm), vl));
      v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q, 16), vm), vl), 16);
    }
    for (; i < n; i++) {
      const q = <usize>i << 2;
      store<f32>(py + q, (load<f32>(px + q) - m) - l);
    }
  } else {
    const inv = f32x4.div(f32x4.splat(1.0), s0);
    const sinv = f32x4.extract_lane(inv, 0);
    for (; i + 8 <= n; i += 8) {
      const q = py + (<usize>i << 2);
      v128.store(q, f32x4.mul(v128.load(q), inv));
      v128.store(q, f32x4.mul(v128.load(q, 16), inv), 16);
    }
    for (; i < n; i++) {
      const q = py + (<usize>i << 2);
      store<f32>(q, load<f32>(q) * sinv);
    }
  }
}

// One strided column (stride in bytes), scalar.
function softmaxScalar(px: usize, py: usize, n: i32, stride: usize, log: i32): void {
  let m: f32 = NEG_INF;
  for (let k = 0; k < n; k++) m = max<f32>(m, load<f32>(px + <usize>k * stride));
  let s: f32 = 0;
  for (let k = 0; k < n; k++) {
    const q = <usize>k * stride;
    const e = Mathf.exp(load<f32>(px + q) - m);
    if (!log) store<f32>(py + q, e);
    s += e;
  }
  if (log) {
    const l = Mathf.log(s);
    for (let k = 0; k < n; k++) {
      const q = <usize>k * stride;
      store<f32>(py + q, (load<f32>(px + q) - m) - l);
    }
  } else {
    const inv: f32 = 1.0 / s;
    for (let k = 0; k < n; k++) {
      const q = <usize>k * stride;
      store<f32>(py + q, load<f32>(py + q) * inv);
    }
  }
}
