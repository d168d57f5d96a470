/**
 * Scalar references for GEMM-family kernels, written from the definitions in float64.
 */

/** C = act(A[m,k] · B[k,n] + bias[n]). */
export function gemmReference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  bias?: Float32Array,
  act: (x: number) => number = (x) => x,
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = act(s);
    }
  }
  return c;
}

/** Transposes a row-major r x c matrix. */
export function transpose2d(x: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j];
  return t;
}
