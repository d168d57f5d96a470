// Softmax / LogSoftmax along the middle axis of an [outer, n, inner] view, stabilised by the
// maximum so exp never overflows.
import { expEdges4, log4 } from "../common/math";

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
      for (; i + 4 <= inner; i += 4) {
        const px = x + base + (<usize>i << 2);
        const py = y + base + (<usize>i << 2);
        let m = f32x4.splat(NEG_INF);
        for (let k = 0; k < n; k++) m = f32x4.max(m, v128.load(px + <usize>k * rowBytes));
        let s = f32x4.splat(0);
        if (log) {
          for (let k = 0; k < n; k++) {
            s = f32x4.add(s, expEdges4(f32x4.sub(v128.load(px + <usize>k * rowBytes), m)));
          }
          const ls = log4(s);
          for (let k = 0; k < n; k++) {
            const q = <usize>k * rowBytes;
            v128.store(py + q, f32x4.sub(f32x4.sub(v128.load(px + q), m), ls));
          }
        } else {
          for (let k = 0; k < n; k++) {
            const q = <usize>k * rowBytes;
            const e = expEdges4(f32x4.sub(v128.load(px + q), m));
            v128.store(py + q, e);
            s = f32x4.add(s, e);
          }
          const inv = f32x4.div(f32x4.splat(1.0), s);
          for (let k = 0; k < n; k++) {
            const q = <usize>k * rowBytes;
            v128.store(py + q, f32x4.mul(v128.load(py + q), inv));
          }
        }
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

// One contiguous row; the tail of the exp pass runs through the vector code on a block padded
// with -inf (whose exp is exactly 0), so every element gets the same exp.
@inline function softmaxRow(px: usize, py: usize, n: i32, log: i32): void {
  let m0 = f32x4.splat(NEG_INF);
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = px + (<usize>i << 2);
    m0 = f32x4.max(m0, v128.load(q));
    m1 = f32x4.max(m1, v128.load(q, 16));
    m2 = f32x4.max(m2, v128.load(q, 32));
    m3 = f32x4.max(m3, v128.load(q, 48));
  }
  m0 = f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3));
  m0 = f32x4.max(m0, i32x4.shuffle(m0, m0, 2, 3, 0, 1));
  let m = f32x4.extract_lane(f32x4.max(m0, i32x4.shuffle(m0, m0, 1, 0, 3, 2)), 0);
  for (; i < n; i++) m = max<f32>(m, load<f32>(px + (<usize>i << 2)));
  const vm = f32x4.splat(m);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  const full = n & ~7;
  for (i = 0; i < n; i += 8) {
    let qx = px + (<usize>i << 2);
    let qy = py + (<usize>i << 2);
    const tail = i >= full;
    if (tail) {
      v128.store(TAIL, f32x4.splat(NEG_INF));
      v128.store(TAIL, f32x4.splat(NEG_INF), 16);
      memory.copy(TAIL, qx, <usize>(n - i) << 2);
      qx = TAIL;
      qy = TAIL;
    }
    const e0 = expEdges4(f32x4.sub(v128.load(qx), vm));
    const e1 = expEdges4(f32x4.sub(v128.load(qx, 16), vm));
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
    if (!log) {
      v128.store(qy, e0);
      v128.store(qy, e1, 16);
      if (tail) memory.copy(py + (<usize>i << 2), TAIL, <usize>(n - i) << 2);
    }
  }
  s0 = f32x4.add(s0, s1);
  s0 = f32x4.add(s0, i32x4.shuffle(s0, s0, 2, 3, 0, 1));
  s0 = f32x4.add(s0, i32x4.shuffle(s0, s0, 1, 0, 3, 2));
  if (log) {
    const vl = log4(s0);
    const l = f32x4.extract_lane(vl, 0);
    i = 0;
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
    i = 0;
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
