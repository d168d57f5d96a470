// Packs recurrent weights for the fused RNN step kernels (layout described in _panel.ts).

/**
 * Packs `gates` consecutive gate matrices of a recurrent weight (ONNX R[dir]: gate g, unit u,
 * input kk at w + ((g * hidden + u) * ldw + kk) * 4) into blocks of `units` hidden units:
 * per block a bias row then k rows, each row [gate 0: units][gate 1: units]…, zero padded
 * past `hidden`. bias is a byte offset to gates * hidden floats (same gate order) or 0.
 */
export function x32_pack_rnn(
  hidden: i32, k: i32, gates: i32, units: i32, w: usize, ldw: i32, bias: usize, out: usize,
): void {
  let o = out;
  for (let u0 = 0; u0 < hidden; u0 += units) {
    for (let g = 0; g < gates; g++) {
      for (let u = 0; u < units; u++) {
        const row = g * hidden + u0 + u;
        store<f32>(o, bias != 0 && u0 + u < hidden ? load<f32>(bias + (<usize>row << 2)) : 0);
        o += 4;
      }
    }
    for (let kk = 0; kk < k; kk++) {
      for (let g = 0; g < gates; g++) {
        for (let u = 0; u < units; u++) {
          const row = g * hidden + u0 + u;
          const v = u0 + u < hidden ? load<f32>(w + ((<usize>row * ldw + kk) << 2)) : <f32>0;
          store<f32>(o, v);
          o += 4;
        }
      }
    }
  }
}

/** Bytes x32_pack_rnn writes. */
export function x32_pack_rnn_size(hidden: i32, k: i32, gates: i32, units: i32): usize {
  const blocks = <usize>((hidden + units - 1) / units);
  return blocks * (<usize>k + 1) * <usize>gates * <usize>units * 4;
}
