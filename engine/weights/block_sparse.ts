/**
 * Block-sparse (block column-row) weights for the matrix-vector kernel `f32_gemv_block_16`.
 *
 * W (m x k, row-major) is cut into bands of `br` = 16 rows, and each band into blocks of `bc`
 * columns. Inside a block, the rows and the columns that are entirely zero are removed; the
 * kept entries form a small dense sub-matrix. Blocks with nothing kept are not stored.
 *
 * Layout (all little-endian, as the kernel reads it from the arena):
 * - `bandBlocks`: Int32Array of bands + 1 (bands = ceil(m / 16)); the blocks of band b are
 *   `[bandBlocks[b], bandBlocks[b + 1])`, in increasing column order.
 * - `blocks`: Int32Array of 4 per block: first kept column (index into `cols`), kept column
 *   count (at least 1), first value (index into `values`, a multiple of 4), row mask (bit r set:
 *   row 16 b + r is kept; at least one bit, none past row m - 1). The column and value starts
 *   are the running totals of the blocks before, so blocks are contiguous and in order.
 * - `cols`: Int32Array of the kept columns' absolute indices, strictly increasing within a
 *   band, each block's inside one window `[c * bc, (c + 1) * bc)`.
 * - `values`: Float32Array; per block, per kept column (column-major), the kept rows' values in
 *   increasing row order, padded with zeros to 4 * ceil(kept rows / 4) floats, so one kept
 *   column is 1 to 4 vectors.
 *
 * The packer keeps all the band's rows of a block when 13 or more of its 16 survive: the values
 * take 4 vectors per column either way, and a full block is added to y with vector adds.
 * Zeros inside the kept sub-matrix are stored as zeros; -0 counts as zero (it unpacks as +0).
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import { popcount } from "./popcount.ts";
import type { Kernels } from "../wasm/kernels.ts";
import type { KernelExports } from "../../kernels-as/build/kernel_abi.ts";

/** Rows per band: the kernel keeps 16 rows in 4 f32x4 vectors. */
export const BLOCK_SPARSE_BR = 16;
/** Default block width in columns (bench/block_sparse.ts measured 128, 256 and 512). */
export const BLOCK_SPARSE_BC = 256;

/** Host-side packed block-sparse weights (see the module doc for the layout). */
export interface PackedBlockSparse {
  /** Rows of W (outputs). */
  m: number;
  /** Columns of W (inputs). */
  k: number;
  /** Rows per band (16). */
  br: number;
  /** Columns per block. */
  bc: number;
  /** bands + 1 block starts. */
  bandBlocks: Int32Array;
  /** 4 integers per stored block: column start, column count, value start, row mask. */
  blocks: Int32Array;
  /** Kept column indices. */
  cols: Int32Array;
  /** Kept values, column-major per block, kept rows padded to a multiple of 4. */
  values: Float32Array;
}

/** Options of `packBlockSparse` and `detectBlockSparse`. */
export interface BlockSparseOptions {
  /** Rows per band; only 16 is supported (the kernel's tile). */
  br?: number;
  /** Columns per block (default `BLOCK_SPARSE_BC`). */
  bc?: number;
  /** Row stride of W in floats (default k). */
  ld?: number;
}

/** What block-sparse packing would keep of a matrix. */
export interface BlockSparseStats {
  /** Blocks in the grid (bands x column windows). */
  blocks: number;
  /** Blocks with at least one non-zero. */
  keptBlocks: number;
  /** Non-zero weights. */
  nonzeros: number;
  /** Floats the packed values take, padding included. */
  storedValues: number;
  /** Kept column indices (one i32 each). */
  keptColumns: number;
  /** nonzeros / (m k). */
  nonzeroFraction: number;
  /** storedValues / (m k): the share of the dense weight bytes the kernel streams. */
  storedFraction: number;
}

interface Block {
  cols: number[];
  mask: number;
  rows: number[];
}

function bandCount(m: number): number {
  return Math.ceil(m / BLOCK_SPARSE_BR);
}

function resolve(m: number, k: number, options: BlockSparseOptions) {
  const br = options.br ?? BLOCK_SPARSE_BR;
  const bc = options.bc ?? BLOCK_SPARSE_BC;
  const ld = options.ld ?? k;
  if (br !== BLOCK_SPARSE_BR) {
    throw new RangeError(`Block-sparse weights: br ${br} is not supported: the kernel uses 16`);
  }
  if (!Number.isInteger(bc) || bc < 1) {
    throw new RangeError(`Block-sparse weights: bc ${bc} is not a positive integer`);
  }
  if (!Number.isInteger(m) || !Number.isInteger(k) || m < 0 || k < 0 || ld < k) {
    throw new RangeError(`Block-sparse weights: invalid shape ${m}x${k} with row stride ${ld}`);
  }
  return { br, bc, ld };
}

/** The kept rows and columns of every non-empty block, band by band. */
function findBlocks(w: Float32Array, m: number, k: number, bc: number, ld: number): Block[][] {
  if (m > 0 && (m - 1) * ld + k > w.length) {
    throw new RangeError(`Block-sparse weights: ${w.length} floats for ${m}x${k} (stride ${ld})`);
  }
  const bands: Block[][] = [];
  for (let b = 0; b < bandCount(m); b++) {
    const row0 = b * BLOCK_SPARSE_BR;
    const rows = Math.min(BLOCK_SPARSE_BR, m - row0);
    const band: Block[] = [];
    for (let c0 = 0; c0 < k; c0 += bc) {
      const c1 = Math.min(k, c0 + bc);
      const cols: number[] = [];
      let mask = 0;
      for (let c = c0; c < c1; c++) {
        let any = false;
        for (let r = 0; r < rows; r++) {
          if (w[(row0 + r) * ld + c] !== 0) {
            any = true;
            mask |= 1 << r;
          }
        }
        if (any) cols.push(c);
      }
      if (cols.length === 0) continue;
      // 13+ kept rows take 4 vectors anyway: keep the whole band for the vector-add path.
      if (popcount(mask) > 12) mask = (1 << rows) - 1;
      const kept: number[] = [];
      for (let r = 0; r < rows; r++) if (mask & (1 << r)) kept.push(r);
      band.push({ cols, mask, rows: kept });
    }
    bands.push(band);
  }
  return bands;
}

function paddedRows(mask: number): number {
  return Math.ceil(popcount(mask) / 4) * 4;
}

/** Kept blocks, kept columns and stored values (padding included) of a block grid. */
function countBlocks(bands: Block[][]): { blocks: number; cols: number; values: number } {
  const count = { blocks: 0, cols: 0, values: 0 };
  for (const band of bands) {
    for (const blk of band) {
      count.blocks++;
      count.cols += blk.cols.length;
      count.values += blk.cols.length * paddedRows(blk.mask);
    }
  }
  return count;
}

/**
 * Measures what block-sparse packing would keep of W (m x k), without packing it.
 *
 * @example
 * ```ts
 * import { detectBlockSparse } from "./block_sparse.ts";
 * const w = new Float32Array(32 * 8);
 * w[0] = 1;
 * const s = detectBlockSparse(w, 32, 8);
 * console.assert(s.keptBlocks === 1 && s.storedValues === 4);
 * ```
 */
export function detectBlockSparse(
  w: Float32Array,
  m: number,
  k: number,
  options: BlockSparseOptions = {},
): BlockSparseStats {
  const { bc, ld } = resolve(m, k, options);
  const bands = findBlocks(w, m, k, bc, ld);
  const { blocks: keptBlocks, cols: keptColumns, values: storedValues } = countBlocks(bands);
  let nonzeros = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) if (w[i * ld + j] !== 0) nonzeros++;
  const total = Math.max(m * k, 1);
  return {
    blocks: bands.length * Math.ceil(k / bc),
    keptBlocks,
    nonzeros,
    storedValues,
    keptColumns,
    nonzeroFraction: nonzeros / total,
    storedFraction: storedValues / total,
  };
}

/**
 * Packs W (m x k, row stride `ld`) into bands of 16 rows and blocks of `bc` columns, removing
 * the rows and columns that are zero inside each block.
 *
 * @example
 * ```ts
 * import { packBlockSparse, unpackBlockSparse } from "./block_sparse.ts";
 * const w = Float32Array.from([0, 2, 0, 0, 0, 0, 3, 0]);
 * const p = packBlockSparse(w, 2, 4, { bc: 4 });
 * console.assert(p.cols.join() === "1,2" && p.blocks[3] === 0b11);
 * console.assert(unpackBlockSparse(p).join() === w.join());
 * ```
 */
export function packBlockSparse(
  w: Float32Array,
  m: number,
  k: number,
  options: BlockSparseOptions = {},
): PackedBlockSparse {
  const { br, bc, ld } = resolve(m, k, options);
  const bands = findBlocks(w, m, k, bc, ld);
  const { blocks: nBlocks, cols: nCols, values: nValues } = countBlocks(bands);
  const bandBlocks = new Int32Array(bands.length + 1);
  const blocks = new Int32Array(4 * nBlocks);
  const cols = new Int32Array(nCols);
  const values = new Float32Array(nValues);
  let t = 0;
  let c = 0;
  let v = 0;
  bands.forEach((band, b) => {
    bandBlocks[b] = t;
    for (const blk of band) {
      blocks.set([c, blk.cols.length, v, blk.mask], 4 * t++);
      const stride = paddedRows(blk.mask);
      for (const col of blk.cols) {
        cols[c++] = col;
        blk.rows.forEach((r, i) => values[v + i] = w[(b * br + r) * ld + col]);
        v += stride;
      }
    }
  });
  bandBlocks[bands.length] = t;
  return { m, k, br, bc, bandBlocks, blocks, cols, values };
}

/**
 * Rejects packed weights a kernel could misread: lengths, block metadata, out-of-range or
 * repeated indices, non-zero padding. `what` names the weights in the message.
 *
 * @example
 * ```ts
 * import { packBlockSparse, validateBlockSparse } from "./block_sparse.ts";
 * const p = packBlockSparse(Float32Array.from([1, 0, 0, 4]), 2, 2);
 * validateBlockSparse(p, 'initializer "fc.weight"');
 * ```
 */
export function validateBlockSparse(p: PackedBlockSparse, what = "block-sparse weights"): void {
  const fail = (why: string) => new ModelFormatError(`Invalid ${what}: ${why}`);
  const { m, k, bc } = p;
  if (!Number.isInteger(m) || !Number.isInteger(k) || m < 0 || k < 0 || m * k >= 2 ** 31) {
    throw fail(`shape ${m}x${k} is not a valid matrix shape`);
  }
  if (p.br !== BLOCK_SPARSE_BR) throw fail(`br ${p.br}, ${BLOCK_SPARSE_BR} expected`);
  if (!Number.isInteger(bc) || bc < 1) throw fail(`bc ${bc} is not a positive integer`);
  const bands = bandCount(m);
  if (p.bandBlocks.length !== bands + 1) {
    throw fail(`${p.bandBlocks.length} band starts, ${bands + 1} expected`);
  }
  if (p.blocks.length % 4 !== 0) {
    throw fail(`block table of ${p.blocks.length} integers, not 4 per block`);
  }
  const nBlocks = p.blocks.length / 4;
  if (p.bandBlocks[0] !== 0) throw fail(`band 0 starts at block ${p.bandBlocks[0]}, not 0`);
  if (p.bandBlocks[bands] !== nBlocks) {
    throw fail(`the bands end at block ${p.bandBlocks[bands]}, there are ${nBlocks}`);
  }
  let c = 0;
  let v = 0;
  for (let b = 0; b < bands; b++) {
    const t0 = p.bandBlocks[b];
    const t1 = p.bandBlocks[b + 1];
    if (t1 < t0) throw fail(`band ${b} ends at block ${t1} before it starts at ${t0}`);
    const rows = Math.min(BLOCK_SPARSE_BR, m - b * BLOCK_SPARSE_BR);
    let last = -1;
    for (let t = t0; t < t1; t++) {
      const [c0, nc, v0, mask] = p.blocks.subarray(4 * t, 4 * t + 4);
      const at = `block ${t} (band ${b})`;
      if (c0 !== c) throw fail(`${at} starts at column entry ${c0}, ${c} expected`);
      if (v0 !== v) throw fail(`${at} starts at value ${v0}, ${v} expected`);
      if (nc < 1 || c0 + nc > p.cols.length) {
        throw fail(`${at} has ${nc} columns from ${c0} of ${p.cols.length}`);
      }
      if (mask <= 0 || mask >= 1 << rows) throw fail(`${at} has row mask ${mask} for ${rows} rows`);
      const window = Math.floor(p.cols[c0] / bc);
      for (let j = c0; j < c0 + nc; j++) {
        const col = p.cols[j];
        if (col < 0 || col >= k) {
          throw fail(`column index ${col} at ${j} is out of range [0, ${k})`);
        }
        if (col <= last) throw fail(`column index ${col} at ${j} is repeated or out of order`);
        if (Math.floor(col / bc) !== window) {
          throw fail(`${at} spans more than one ${bc}-column window (column ${col})`);
        }
        last = col;
      }
      const stride = paddedRows(mask);
      const kept = popcount(mask);
      if (v + nc * stride > p.values.length) {
        throw fail(`${at} needs values up to ${v + nc * stride}, there are ${p.values.length}`);
      }
      for (let j = 0; j < nc; j++) {
        for (let i = kept; i < stride; i++) {
          if (p.values[v + j * stride + i] !== 0) throw fail(`${at} has non-zero padding`);
        }
      }
      c += nc;
      v += nc * stride;
    }
  }
  if (c !== p.cols.length) throw fail(`${p.cols.length} column indices, ${c} used`);
  if (v !== p.values.length) throw fail(`${p.values.length} values, ${v} used`);
}

/**
 * Expands packed weights back to the dense m x k row-major matrix.
 *
 * @example
 * ```ts
 * import { packBlockSparse, unpackBlockSparse } from "./block_sparse.ts";
 * const w = Float32Array.from([0, 0, 5, 0, 0, 7]);
 * console.assert(unpackBlockSparse(packBlockSparse(w, 3, 2)).join() === w.join());
 * ```
 */
export function unpackBlockSparse(p: PackedBlockSparse): Float32Array {
  const w = new Float32Array(p.m * p.k);
  for (let b = 0; b + 1 < p.bandBlocks.length; b++) {
    for (let t = p.bandBlocks[b]; t < p.bandBlocks[b + 1]; t++) {
      const [c0, nc, v0, mask] = p.blocks.subarray(4 * t, 4 * t + 4);
      const stride = paddedRows(mask);
      const rows: number[] = [];
      for (let r = 0; r < BLOCK_SPARSE_BR; r++) if (mask & (1 << r)) rows.push(r);
      for (let j = 0; j < nc; j++) {
        rows.forEach((r, i) => {
          w[(b * BLOCK_SPARSE_BR + r) * p.k + p.cols[c0 + j]] = p.values[v0 + j * stride + i];
        });
      }
    }
  }
  return w;
}

/** Packed block-sparse weights in the arena: byte offsets of the four arrays. */
export interface BlockSparseWeights {
  /** Rows of W. */
  m: number;
  /** Columns of W. */
  k: number;
  /** Bands of 16 rows: the kernel's row-range unit. */
  bands: number;
  /** Byte offset of the band starts (i32). */
  bandBlocks: number;
  /** Byte offset of the block table (i32). */
  blocks: number;
  /** Byte offset of the column indices (i32). */
  cols: number;
  /** Byte offset of the values (f32). */
  values: number;
}

/**
 * Validates packed weights and copies them into the arena for `f32_gemv_block_16`.
 *
 * @example
 * ```ts
 * import { loadKernels } from "../wasm/kernels.ts";
 * import { packBlockSparse, releaseBlockSparse, uploadBlockSparse } from "./block_sparse.ts";
 * const kr = await loadKernels();
 * const p = packBlockSparse(Float32Array.from([1, 0, 0, 2]), 2, 2);
 * const w = uploadBlockSparse(kr, p, "fc");
 * const x = kr.arena.alloc(8);
 * kr.arena.f32(x, 2).set([3, 4]);
 * const y = kr.arena.alloc(8);
 * kr.fn.f32_gemv_block_16(w.m, 0, w.bands, w.bandBlocks, w.blocks, w.cols, w.values, x, 0, y, 0, 0, 0);
 * console.assert(kr.arena.f32(y, 2).join() === "3,8");
 * releaseBlockSparse(kr, w);
 * ```
 */
export function uploadBlockSparse(
  kr: Kernels,
  p: PackedBlockSparse,
  name = "block-sparse weights",
): BlockSparseWeights {
  validateBlockSparse(p, `"${name}"`);
  const bandBlocks = kr.arena.alloc(p.bandBlocks.byteLength, `"${name}" band starts`);
  kr.arena.i32(bandBlocks, p.bandBlocks.length).set(p.bandBlocks);
  const blocks = kr.arena.alloc(p.blocks.byteLength, `"${name}" blocks`);
  kr.arena.i32(blocks, p.blocks.length).set(p.blocks);
  const cols = kr.arena.alloc(p.cols.byteLength, `"${name}" column indices`);
  kr.arena.i32(cols, p.cols.length).set(p.cols);
  const values = kr.arena.alloc(p.values.byteLength, `"${name}" values`);
  kr.arena.f32(values, p.values.length).set(p.values);
  return { m: p.m, k: p.k, bands: p.bandBlocks.length - 1, bandBlocks, blocks, cols, values };
}

/**
 * Copies weights back out of the arena (the inverse of `uploadBlockSparse`): what
 * `unpackBlockSparse` expands when a product needs the dense matrix after all.
 */
export function downloadBlockSparse(kr: Kernels, w: BlockSparseWeights): PackedBlockSparse {
  const bandBlocks = kr.arena.i32(w.bandBlocks, w.bands + 1).slice();
  const blocks = kr.arena.i32(w.blocks, 4 * bandBlocks[w.bands]).slice();
  // The column and value arrays end where their last stored block's part ends.
  let cols = 0;
  let values = 0;
  for (let t = 0; t < blocks.length; t += 4) {
    const [c0, nc, v0, mask] = blocks.subarray(t, t + 4);
    cols = Math.max(cols, c0 + nc);
    values = Math.max(values, v0 + nc * paddedRows(mask));
  }
  return {
    m: w.m,
    k: w.k,
    br: BLOCK_SPARSE_BR,
    bc: BLOCK_SPARSE_BC,
    bandBlocks,
    blocks,
    cols: kr.arena.i32(w.cols, cols).slice(),
    values: kr.arena.f32(w.values, values).slice(),
  };
}

/** Frees the arena blocks of `uploadBlockSparse`. */
export function releaseBlockSparse(kr: Kernels, w: BlockSparseWeights): void {
  for (const o of [w.bandBlocks, w.blocks, w.cols, w.values]) kr.arena.free(o);
}

/** Options of `blockGemvArgs`. */
export interface BlockGemvOptions {
  /** Byte offset of m bias floats, or 0 (default). */
  bias?: number;
  /** Activation code (kernels-as/activations.ts) and its parameters; default none. */
  act?: number;
  p0?: number;
  p1?: number;
  /** First band and band count (default: all bands). */
  bands?: [number, number];
}

/** The argument list of `f32_gemv_block_16` for y = act(W x + bias) at byte offsets x, y. */
export function blockGemvArgs(
  w: BlockSparseWeights,
  x: number,
  y: number,
  options: BlockGemvOptions = {},
): Parameters<KernelExports["f32_gemv_block_16"]> {
  const [band0, count] = options.bands ?? [0, w.bands];
  return [
    w.m,
    band0,
    count,
    w.bandBlocks,
    w.blocks,
    w.cols,
    w.values,
    x,
    options.bias ?? 0,
    y,
    options.act ?? 0,
    options.p0 ?? 0,
    options.p1 ?? 0,
  ];
}
