// Weight packing for the dense GEMM kernels (see gemm/f32_gemm.tmpl.ts for the layouts).

/**
 * Packs B (k x n) into panels of nr columns: [bias nr][k rows of nr], zero padded.
 * B is row-major with row stride ldb when transposed == 0, or stored as n x k (B^T, row
 * stride ldb) when transposed != 0, as ONNX Gemm transB and Linear weights are. bias is a
 * byte offset to n floats, or 0 for none.
 */
export function x32_pack_gemm(
  k: i32, n: i32, nr: i32, b: usize, ldb: i32, transposed: i32, bias: usize, out: usize,
): void {
  let o = out;
  for (let j0 = 0; j0 < n; j0 += nr) {
    for (let j = 0; j < nr; j++) {
      const col = j0 + j;
      store<f32>(o, bias != 0 && col < n ? load<f32>(bias + (<usize>col << 2)) : 0);
      o += 4;
    }
    for (let kk = 0; kk < k; kk++) {
      for (let j = 0; j < nr; j++) {
        const col = j0 + j;
        let v: f32 = 0;
        if (col < n) {
          const idx = transposed != 0 ? <usize>col * ldb + kk : <usize>kk * ldb + col;
          v = load<f32>(b + (idx << 2));
        }
        store<f32>(o, v);
        o += 4;
      }
    }
  }
}

/** Bytes x32_pack_gemm writes. */
export function x32_pack_gemm_size(k: i32, n: i32, nr: i32): usize {
  const panels = <usize>((n + nr - 1) / nr);
  return panels * (<usize>k + 1) * <usize>nr * 4;
}

/**
 * Packs W (m x k, row-major, row stride ldw) into panels of mr rows: [bias mr][k columns of
 * mr], zero padded, for the f32_gemm_nchw kernels. bias is a byte offset to m floats or 0.
 */
export function x32_pack_gemm_nchw(
  m: i32, k: i32, mr: i32, w: usize, ldw: i32, bias: usize, out: usize,
): void {
  let o = out;
  for (let i0 = 0; i0 < m; i0 += mr) {
    for (let r = 0; r < mr; r++) {
      const row = i0 + r;
      store<f32>(o, bias != 0 && row < m ? load<f32>(bias + (<usize>row << 2)) : 0);
      o += 4;
    }
    for (let kk = 0; kk < k; kk++) {
      for (let r = 0; r < mr; r++) {
        const row = i0 + r;
        store<f32>(o, row < m ? load<f32>(w + ((<usize>row * ldw + kk) << 2)) : 0);
        o += 4;
      }
    }
  }
}

/** Bytes x32_pack_gemm_nchw writes. */
export function x32_pack_gemm_nchw_size(m: i32, k: i32, mr: i32): usize {
  const panels = <usize>((m + mr - 1) / mr);
  return panels * (<usize>k + 1) * <usize>mr * 4;
}
