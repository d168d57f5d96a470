// The swizzle masks of the C4n swizzle kernels (f32_gemv_c4n_swizzle.tmpl.ts,
// f32_gemm_c4n_swizzle.tmpl.ts): for each of the 256 mask ids, 16 byte indices into a group's
// 16 bytes of x; lane j takes the 4 bytes of the input at position (id >> 2 j) & 3
// (swizzleLanePositions in _swizzle_layout.ts).
//
// The module's start function fills the table, as instantiation would copy a data segment, at
// the bottom of memory, below the data segments (build.ts passes --memoryBase 4096). It is no
// data segment because with an imported memory a `memory.data` block, even of zeros, is one,
// and this one would put 4 KB into every download of the module where the loop takes a few
// dozen bytes. A compile-time address keeps the kernels' mask loads a static offset.

/** The table: 256 masks of 16 bytes, at address 0. */
export const SWIZZLE_MASKS: usize = 0;

for (let id: u32 = 0; id < 256; id++) {
  for (let j: u32 = 0; j < 4; j++) {
    // Bytes 4 pos, 4 pos + 1, 4 pos + 2, 4 pos + 3 of lane j, lowest first.
    const pos = (id >> (j << 1)) & 3;
    store<u32>(SWIZZLE_MASKS + (<usize>id << 4) + (<usize>j << 2), pos * 0x04040404 + 0x03020100);
  }
}
