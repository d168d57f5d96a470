import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { Arena } from "../../../engine/wasm/arena.ts";
import { OutOfMemoryError } from "../../../engine/errors.ts";
import { Random } from "../../_random.ts";

Deno.test("arena blocks are 64-byte aligned, disjoint, and reused after free", () => {
  const arena = new Arena({ base: 65536 });
  const rng = new Random(1);
  const live = new Map<number, number>();
  let span = 0;
  for (let step = 0; step < 2000; step++) {
    if (live.size > 0 && rng.next() < 0.45) {
      const keys = [...live.keys()];
      const off = keys[rng.int(0, keys.length - 1)];
      arena.free(off);
      live.delete(off);
    } else {
      const bytes = rng.int(0, 5000);
      const off = arena.alloc(bytes);
      ok(off % 64 === 0 && off >= 65536);
      for (const [o, n] of live) ok(off + bytes <= o || o + n <= off, "overlap");
      live.set(off, Math.max(bytes, 1));
      span = Math.max(span, off + bytes - 65536);
    }
  }
  for (const off of live.keys()) arena.free(off);
  deepStrictEqual(arena.liveBytes, 0);
  // Everything merges back: one block as large as everything used starts at the base, and
  // the peak does not move.
  const peak = arena.peakBytes;
  deepStrictEqual(arena.alloc(span), 65536);
  deepStrictEqual(arena.peakBytes, peak);
});

Deno.test("arena grows the memory and keeps a guard past the last block", () => {
  const arena = new Arena({ base: 65536 });
  const before = arena.memoryBytes;
  const off = arena.alloc(10 * 2 ** 20);
  ok(arena.memoryBytes > before);
  ok(arena.memoryBytes >= off + 10 * 2 ** 20 + 16);
  arena.f32(off, 10).fill(1);
});

Deno.test("arena refuses requests past its maximum with OutOfMemoryError", () => {
  const arena = new Arena({ base: 65536, maxBytes: 2 ** 20 });
  throws(
    () => arena.alloc(2 ** 20),
    (e) => e instanceof OutOfMemoryError && /1\.0 MiB/.test(e.message),
  );
  throws(
    () => arena.alloc(-1, 'tensor "x"'),
    (e) => e instanceof OutOfMemoryError && /"x"/.test(e.message),
  );
  throws(() => arena.alloc(Infinity), OutOfMemoryError);
  throws(() => arena.alloc(2 ** 40), OutOfMemoryError);
  throws(() => arena.free(12345), RangeError);
  throws(() => new Arena({ base: 65536, maxBytes: 1000 }), OutOfMemoryError);
});

Deno.test("arena refuses a request past 2^38 bytes even when a free block is waiting", () => {
  // 2^38 + 64 bytes is 2^32 + 1 blocks of 64: a size class taken modulo 2^32 would call it
  // tiny and hand out the free block below.
  const arena = new Arena({ base: 65536 });
  const a = arena.alloc(4096);
  arena.alloc(64);
  arena.free(a);
  throws(() => arena.alloc(2 ** 38 + 64), OutOfMemoryError);
  throws(() => arena.alloc(2 ** 53), OutOfMemoryError);
});
