/**
 * The one Wasm memory every kernel works in. TypeScript owns it: it hands out 64-byte aligned
 * blocks, and kernels receive byte offsets into it. Views are made fresh on each call because
 * growing the memory detaches the old buffer.
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError } from "../errors.ts";

const PAGE = 65536;
const ALIGN = 64;
/** The most a 32-bit Wasm memory can hold: 65536 pages. */
const CEILING = 65536 * PAGE;
/** Bytes kept free past the last block: kernels may read one vector past a row's end. */
const GUARD = 64;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** The size of the block `alloc(bytes)` hands out: at least 1 byte, rounded up to 64. */
export function blockBytes(bytes: number): number {
  return alignUp(Math.max(bytes, 1), ALIGN);
}

/** Bytes as people read them: "1.00 GiB", "256.0 MiB", "512 bytes". */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

/** Options of an arena. */
export interface ArenaOptions {
  /** Largest size the memory may grow to, in bytes (default and ceiling: 4 GiB). */
  maxBytes?: number;
  /** Offset below which the kernel module keeps its static data. */
  base: number;
  /**
   * A shared memory, for worker threads. It must declare its maximum up front (only
   * address space is reserved; pages are committed as the arena grows).
   */
  shared?: boolean;
}

/** Sees every allocation and free of an arena (a run being recorded). */
export interface ArenaWatcher {
  /** `bytes` (rounded up to the alignment) were allocated at `offset`. */
  alloc(offset: number, bytes: number): void;
  /** The block at `offset` was freed. */
  free(offset: number): void;
}

/**
 * Size class of a free block: floor(log2(bytes / ALIGN)). Blocks never exceed the arena's
 * maximum (4 GiB at most), so bytes / ALIGN < 2^26 and `Math.clz32` (which reduces its
 * argument modulo 2^32) is exact.
 */
function sizeClass(bytes: number): number {
  return 31 - Math.clz32(bytes / ALIGN);
}

/**
 * A good-fit allocator over one growable `WebAssembly.Memory`: free blocks are kept coalesced
 * and binned by power-of-two size class, so a request looks at one class and then takes any
 * block of the smallest non-empty larger class (a bit mask finds it) instead of walking every
 * free block. Streaming models allocate and free a few hundred small tensors per call, so this
 * path is hot.
 */
export class Arena {
  /** The memory kernels are instantiated with (replaced only by `moveTo`). */
  memory: WebAssembly.Memory;
  /** The most bytes this arena may use. */
  readonly maxBytes: number;
  readonly #base: number;
  #top: number;
  #peak = 0;
  #live = new Map<number, number>();
  /** Free blocks: offset to size, kept coalesced; `#freeEnds` maps end offset to start. */
  #free = new Map<number, number>();
  #freeEnds = new Map<number, number>();
  /**
   * Blocks freed but not yet merged, by exact size. Streaming models free and allocate the
   * same sizes every call, so most requests are served from here in O(1); everything here is
   * merged into the free lists before the arena grows, so fragmentation never raises the peak.
   */
  #recent = new Map<number, number[]>();
  #recentCount = 0;
  /** Free block offsets by size class, and a bit per non-empty class. */
  #bins: Set<number>[] = Array.from({ length: 32 }, () => new Set<number>());
  #nonEmpty = 0;
  #watcher: ArenaWatcher | undefined;
  /** Offsets (and sizes) the next allocations take, in order, while a run plan replays. */
  #script: readonly number[] | undefined;
  #scriptAt = 0;
  /** Scripted blocks handed out and not yet freed. */
  #scripted = new Set<number>();

  /** Creates an arena whose first block starts above `base`. */
  constructor(options: ArenaOptions) {
    const max = options.maxBytes ?? CEILING;
    if (typeof max !== "number" || !(max > 0)) {
      throw new InvalidArgumentError(
        `The maxMemoryBytes option must be a number of bytes above 0, got ${
          typeof max === "number" ? max : JSON.stringify(max)
        }`,
      );
    }
    this.maxBytes = Math.min(max, CEILING);
    this.#base = alignUp(options.base, ALIGN);
    this.#top = this.#base;
    const initial = Math.ceil((this.#base + GUARD) / PAGE) + 1;
    if (initial * PAGE > this.maxBytes) {
      throw new OutOfMemoryError(
        `Cannot create the arena: its maximum (maxMemoryBytes) of ${formatBytes(this.maxBytes)} ` +
          `is below the ${formatBytes(initial * PAGE)} the kernels need: raise maxMemoryBytes to ` +
          `at least ${initial * PAGE}`,
      );
    }
    this.memory = new WebAssembly.Memory({
      initial,
      maximum: Math.floor(this.maxBytes / PAGE),
      shared: options.shared ?? false,
    });
  }

  /** Bytes currently allocated. */
  get liveBytes(): number {
    let n = 0;
    for (const size of this.#live.values()) n += size;
    return n;
  }

  /** Highest end of any allocation so far, relative to the arena start. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Whether the memory is shared with worker threads. */
  get shared(): boolean {
    return typeof SharedArrayBuffer !== "undefined" &&
      this.memory.buffer instanceof SharedArrayBuffer;
  }

  /** Current size of the memory in bytes. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Allocates `bytes` (64-byte aligned) and returns the byte offset. `what` names the tensor
   * in the error when the request cannot be met.
   */
  alloc(bytes: number, what = "a tensor"): number {
    if (!Number.isFinite(bytes) || bytes < 0 || !Number.isInteger(bytes)) {
      throw new OutOfMemoryError(`Cannot allocate ${what}: invalid size ${bytes}`);
    }
    const size = blockBytes(bytes);
    // Refused before any size class is computed: past 2^38 bytes the class would wrap and a
    // small free block would be handed out for it.
    if (size > this.maxBytes) this.#ensure(this.#top + size, what, size);
    if (this.#script) {
      const at = this.#scriptAt;
      if (this.#script[at + 1] === size) {
        this.#scriptAt += 2;
        this.#scripted.add(this.#script[at]);
        return this.#script[at];
      }
      // Off script (should not happen: ops allocate the same every run): allocate normally,
      // which never hands out the planned blocks since they are in use.
      this.#script = undefined;
    }
    const off = this.#allocFree(size, what);
    this.#watcher?.alloc(off, size);
    return off;
  }

  #allocFree(size: number, what: string): number {
    const same = this.#recent.get(size);
    if (same?.length) {
      const off = same.pop()!;
      this.#recentCount--;
      this.#live.set(off, size);
      return off;
    }
    let found = this.#findFree(size);
    if (found < 0 && this.#recentCount > 0) {
      this.#mergeRecent();
      found = this.#findFree(size);
    }
    if (found >= 0) {
      const free = this.#free.get(found)!;
      this.#removeFree(found, free);
      if (free > size) this.#addFree(found + size, free - size);
      this.#live.set(found, size);
      return found;
    }
    const off = this.#top;
    this.#ensure(off + size + GUARD, what, size);
    this.#top = off + size;
    this.#peak = Math.max(this.#peak, this.#top - this.#base);
    this.#live.set(off, size);
    return off;
  }

  /**
   * Allocates the given block itself, `bytes` at `offset` (64-byte aligned), if all of it is
   * free: a run plan keeps the places its recorded run's values had. Returns whether it could.
   */
  claim(offset: number, bytes: number): boolean {
    const size = blockBytes(bytes);
    if (offset % ALIGN !== 0 || offset < this.#base) return false;
    this.#mergeRecent();
    const end = offset + size;
    if (offset >= this.#top) {
      this.#ensure(end + GUARD, "a planned block", size);
      if (offset > this.#top) this.#addFree(this.#top, offset - this.#top);
      this.#top = end;
      this.#peak = Math.max(this.#peak, end - this.#base);
    } else {
      let start = -1;
      for (const [s, n] of this.#free) {
        if (s <= offset && end <= s + n) {
          start = s;
          break;
        }
      }
      if (start < 0) return false;
      const n = this.#free.get(start)!;
      this.#removeFree(start, n);
      if (offset > start) this.#addFree(start, offset - start);
      if (start + n > end) this.#addFree(end, start + n - end);
    }
    this.#live.set(offset, size);
    return true;
  }

  /** Reports every allocation and free to `watcher` until called again without one. */
  watch(watcher: ArenaWatcher | undefined): void {
    this.#watcher = watcher;
  }

  /**
   * Makes the next allocations take these blocks, in order, as long as the sizes match
   * (`[offset, size, offset, size, …]`, blocks the caller holds); `undefined` ends it. A run
   * plan replays its ops' scratch allocations this way.
   */
  script(blocks: readonly number[] | undefined): void {
    this.#script = blocks;
    this.#scriptAt = 0;
    this.#scripted.clear();
  }

  /** Returns a block to the arena (kept by size for reuse; merged before the arena grows). */
  free(offset: number): void {
    if (this.#scripted.size && this.#scripted.delete(offset)) return;
    this.#watcher?.free(offset);
    const size = this.#live.get(offset);
    if (size === undefined) throw new RangeError(`Arena.free: ${offset} is not a live block`);
    this.#live.delete(offset);
    const same = this.#recent.get(size);
    if (same) same.push(offset);
    else this.#recent.set(size, [offset]);
    this.#recentCount++;
  }

  /** Merges every recently freed block into the free lists. */
  #mergeRecent(): void {
    for (const [size, offsets] of this.#recent) {
      for (const off of offsets) this.#merge(off, size);
      offsets.length = 0;
    }
    this.#recentCount = 0;
  }

  /** Puts a block on the free lists, merging it with free neighbours in O(1). */
  #merge(offset: number, size: number): void {
    let start = offset;
    let end = offset + size;
    const before = this.#freeEnds.get(start);
    if (before !== undefined) {
      this.#removeFree(before, start - before);
      start = before;
    }
    const after = this.#free.get(end);
    if (after !== undefined) {
      this.#removeFree(end, after);
      end += after;
    }
    if (end === this.#top) this.#top = start;
    else this.#addFree(start, end - start);
  }

  /** A free block of at least `size` bytes, or -1. */
  #findFree(size: number): number {
    const cls = sizeClass(size);
    if (this.#nonEmpty & (1 << cls)) {
      for (const off of this.#bins[cls]) if (this.#free.get(off)! >= size) return off;
    }
    // Any block of a larger class fits: take one from the smallest such class.
    const larger = cls >= 31 ? 0 : this.#nonEmpty & ~((2 << cls) - 1);
    if (larger === 0) return -1;
    const bin = this.#bins[31 - Math.clz32(larger & -larger)];
    return bin.values().next().value!;
  }

  #addFree(start: number, size: number): void {
    this.#free.set(start, size);
    this.#freeEnds.set(start + size, start);
    const cls = sizeClass(size);
    this.#bins[cls].add(start);
    this.#nonEmpty |= 1 << cls;
  }

  #removeFree(start: number, size: number): void {
    this.#free.delete(start);
    this.#freeEnds.delete(start + size);
    const cls = sizeClass(size);
    const bin = this.#bins[cls];
    bin.delete(start);
    if (bin.size === 0) this.#nonEmpty &= ~(1 << cls);
  }

  /** Frees every block. */
  reset(): void {
    this.script(undefined);
    this.#live.clear();
    this.#free.clear();
    this.#freeEnds.clear();
    for (const bin of this.#bins) bin.clear();
    this.#nonEmpty = 0;
    this.#recent.clear();
    this.#recentCount = 0;
    this.#top = this.#base;
  }

  #ensure(end: number, what: string, size: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > this.maxBytes) {
      throw new OutOfMemoryError(
        `Cannot allocate ${what}: ${formatBytes(size)} would take the arena to ` +
          `${formatBytes(end)}, past its maximum of ${formatBytes(this.maxBytes)}: ` +
          (end <= CEILING
            ? `raise the maxMemoryBytes option (of init(), loadModel() or loadMamba())`
            : `a Wasm memory holds at most ${formatBytes(CEILING)}, use smaller inputs`),
      );
    }
    // Grow geometrically so repeated small growths stay cheap.
    const want = Math.min(Math.max(end, have * 1.5), this.maxBytes);
    try {
      this.memory.grow(Math.ceil((want - have) / PAGE));
    } catch (cause) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        throw new OutOfMemoryError(
          `Cannot allocate ${what}: the host refused to grow the memory to ${formatBytes(end)}`,
          { cause },
        );
      }
    }
  }

  /**
   * Copies the arena's blocks into `memory` (growing it to this memory's size) and works in it
   * from now on: offsets stay valid. The bytes below the arena's base (a kernel instance's
   * static data) are left as `memory` has them.
   */
  moveTo(memory: WebAssembly.Memory): void {
    const have = this.memory.buffer.byteLength;
    const short = Math.ceil((have - memory.buffer.byteLength) / PAGE);
    if (short > 0) memory.grow(short);
    const bytes = have - this.#base;
    new Uint8Array(memory.buffer, this.#base, bytes).set(
      new Uint8Array(this.memory.buffer, this.#base, bytes),
    );
    this.memory = memory;
  }

  /** A Float32Array view of `length` floats at byte offset `offset`. */
  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, length);
  }

  /** An Int32Array view of `length` integers at byte offset `offset`. */
  i32(offset: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, offset, length);
  }

  /** A Uint8Array view of `length` bytes at byte offset `offset`. */
  u8(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, offset, length);
  }
}
