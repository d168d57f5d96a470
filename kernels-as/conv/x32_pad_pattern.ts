// Input strips for the pattern-sparse 3x3 convolution (f32_conv3x3_pattern_4x8).
//
// For every channel and every 8 output columns (strip j), the zero-padded input columns those
// outputs read, row after row: a 4 x 8 tile of the convolution then reads one small contiguous
// block per channel.
// - Stride 1: 16 words per row, padded columns 8j .. 8j+11 (3 aligned vectors), then 4 zeros
//   (64-byte rows: the kernel's unaligned loads never split a cache line).
// - Stride 2: 20 words per row: the even padded columns 16j, 16j+2, …, 16j+22 (12 words), then
//   the odd ones 16j+1, …, 16j+15 (8 words), so 4 neighbouring outputs read 4 consecutive words.
// Every word is written (zeros outside the input), so the kernel may compute past the output's
// last row and column from them.
//
// Each input row is first copied into a zero-padded row (`line`, caller's scratch), so every
// strip is cut from it with vector loads, edges included.

/** Words of the scratch row `x32_pad_pattern` needs for rows of w words at stride s. */
export function x32_pad_pattern_line_words(w: i32, pl: i32, s: i32, strips: i32): i32 {
  // The strips read padded columns up to 8·strips + 3 (stride 1) or 16·strips + 7 (stride 2).
  const reach = s == 1 ? 8 * strips + 4 : 16 * strips + 8;
  return max(reach, pl + w);
}

/** Copies n words (a loop: memory.copy is a call, slower for rows this short). */
@inline function copyRow(dst: usize, src: usize, n: i32): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    for (; k + 4 <= n; k += 4) v128.store(dst + (<usize>k << 2), v128.load(src + (<usize>k << 2)));
  }
  for (; k < n; k++) store<f32>(dst + (<usize>k << 2), load<f32>(src + (<usize>k << 2)));
}

/**
 * Writes c channels of `strips` strips x `rows` rows (16 or 20 words each for stride s = 1, 2)
 * at `out` from x (c x h x w), with pt rows and pl columns of zeros before the input. `line`:
 * scratch of x32_pad_pattern_line_words words.
 */
export function x32_pad_pattern(
  c: i32, x: usize, h: i32, w: i32, pt: i32, pl: i32, s: i32, strips: i32, rows: i32,
  out: usize, line: usize,
): void {
  const rw = s == 1 ? 16 : 20;
  const lineWords = x32_pad_pattern_line_words(w, pl, s, strips);
  memory.fill(line, 0, <usize>lineWords << 2);
  // Bytes between the same row of two neighbouring strips.
  const stripBytes = <usize>rows * <usize>rw << 2;
  for (let ci = 0; ci < c; ci++) {
    const src = x + (<usize>ci * <usize>h * <usize>w << 2);
    const plane = out + <usize>ci * <usize>strips * stripBytes;
    for (let pr = 0; pr < rows; pr++) {
      const iy = pr - pt;
      const inside = iy >= 0 && iy < h;
      if (inside) copyRow(line + (<usize>pl << 2), src + (<usize>iy * <usize>w << 2), w);
      let dst = plane + (<usize>pr * <usize>rw << 2);
      for (let j = 0; j < strips; j++, dst += stripBytes) {
        if (ASC_FEATURE_SIMD) {
          if (!inside) {
            const z = i32x4.splat(0);
            for (let k = 0; k < rw; k += 4) v128.store(dst + (<usize>k << 2), z);
            continue;
          }
          if (s == 1) {
            const p = line + (<usize>(8 * j) << 2);
            v128.store(dst, v128.load(p));
            v128.store(dst, v128.load(p, 16), 16);
            v128.store(dst, v128.load(p, 32), 32);
            v128.store(dst, i32x4.splat(0), 48);
            continue;
          }
          // Even floats of (a0, a1), (a2, a3), (a4, a5), then the odd ones of the first two pairs.
          const p = line + (<usize>(16 * j) << 2);
          const a0 = v128.load(p), a1 = v128.load(p, 16), a2 = v128.load(p, 32);
          const a3 = v128.load(p, 48), a4 = v128.load(p, 64), a5 = v128.load(p, 80);
          v128.store(dst, i8x16.shuffle(a0, a1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27));
          v128.store(dst, i8x16.shuffle(a2, a3, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), 16);
          v128.store(dst, i8x16.shuffle(a4, a5, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), 32);
          v128.store(dst, i8x16.shuffle(a0, a1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31), 48);
          v128.store(dst, i8x16.shuffle(a2, a3, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31), 64);
          continue;
        }
        for (let k = 0; k < rw; k++) {
          // Padded column of word k: stride 1 8j + k; stride 2 even 16j + 2k, odd 16j + 2k' + 1.
          const col = s == 1 ? 8 * j + k : k < 12 ? 16 * j + 2 * k : 16 * j + 2 * (k - 12) + 1;
          const used = s == 1 ? k < 12 : true;
          store<f32>(dst + (<usize>k << 2), inside && used ? load<f32>(line + (<usize>col << 2)) : 0);
        }
      }
    }
  }
}
