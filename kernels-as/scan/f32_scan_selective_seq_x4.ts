// Mamba-1 selective scan over a sequence (prefill), in blocks of tokens.
import { finishOutput, prepareDt, scanTokens } from "./_selective";

/** Tokens per block: the block's dt', x and y columns stay in cache while channels sweep. */
const BLOCK = 16;

/**
 * The step of f32_scan_selective_step_x4 for L tokens in order, state h [D][N] carried:
 * token t reads row t of x (stride ldx), dt (lddt), B and C (ldb, ldc: B and C are usually
 * column slices of the x_proj output), z (ldz) and writes row t of y (ldy). Per block of
 * tokens each channel keeps its N state values in registers.
 */
export function f32_scan_selective_seq_x4(
  L: i32, D: i32, N: i32, x: usize, ldx: i32, dt: usize, lddt: i32, dtBias: usize,
  softplus: i32, A: usize, B: usize, ldb: i32, C: usize, ldc: i32, skip: usize, z: usize,
  ldz: i32, h: usize, y: usize, ldy: i32,
): void {
  const ldx4 = <usize>ldx << 2;
  const ldy4 = <usize>ldy << 2;
  const ldb4 = <usize>ldb << 2;
  const ldc4 = <usize>ldc << 2;
  for (let t0 = 0; t0 < L; t0 += BLOCK) {
    const T = min(BLOCK, L - t0);
    const xb = x + <usize>t0 * ldx4;
    const yb = y + <usize>t0 * ldy4;
    let dts = dt + <usize>t0 * (<usize>lddt << 2);
    let ldd4 = <usize>lddt << 2;
    if (dtBias != 0 || softplus != 0) {
      prepareDt(T, D, dts, lddt, dtBias, softplus, yb, ldy);
      dts = yb;
      ldd4 = ldy4;
    }
    scanTokens(T, D, N, xb, ldx4, dts, ldd4, A, B + <usize>t0 * ldb4, ldb4, C + <usize>t0 * ldc4,
      ldc4, h, yb, ldy4);
    const zb = z != 0 ? z + <usize>t0 * (<usize>ldz << 2) : 0;
    finishOutput(T, D, xb, ldx, skip, zb, ldz, yb, ldy);
  }
}
