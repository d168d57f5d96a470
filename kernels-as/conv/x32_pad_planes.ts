// Zero-padded copy of image planes for the pattern-sparse 3x3 convolution.
//
// Plane layout (what f32_conv3x3_pattern_w16 reads): hp rows of `rowStride` words per plane,
// planes `planeStride` words apart. With stride 1 a padded row is stored as is; with stride 2
// its even columns come first and its odd columns start at word `rowStride / 2`, so the taps
// of 4 neighbouring outputs read 4 consecutive words (no strided gather). Every word of a
// plane is written, slack included.

/**
 * Copies c planes of h x w words at `x` into `out` with pt rows / pl columns of zeros before
 * and zeros everywhere else. s is 1 or 2 (column split, see above).
 */
export function x32_pad_planes(
  c: i32, x: usize, h: i32, w: i32, pt: i32, pl: i32, s: i32, hp: i32, rowStride: i32,
  planeStride: i32, out: usize,
): void {
  const half = rowStride >> 1;
  for (let ci = 0; ci < c; ci++) {
    const src = x + (<usize>ci * <usize>h * <usize>w << 2);
    const dst = out + (<usize>ci * <usize>planeStride << 2);
    memory.fill(dst, 0, <usize>planeStride << 2);
    for (let r = 0; r < h; r++) {
      const pr = r + pt;
      if (pr < 0 || pr >= hp) continue;
      const srow = src + (<usize>r * <usize>w << 2);
      const drow = dst + (<usize>pr * <usize>rowStride << 2);
      if (s == 1) {
        memory.copy(drow + (<usize>pl << 2), srow, <usize>w << 2);
        continue;
      }
      for (let j = 0; j < w; j++) {
        const pj = j + pl;
        const col = (pj & 1) * half + (pj >> 1);
        store<u32>(drow + (<usize>col << 2), load<u32>(srow + (<usize>j << 2)));
      }
    }
  }
}
