/**
 * Layout of the pool's control block (a SharedArrayBuffer apart from the arena): one slot per
 * worker, then the shared queue.
 *
 * A kernel call is stored as [function index, argument count, scratch-argument mask,
 * arguments...] in Float64 words. A slot holds one job: either a short program of calls, or
 * (call count `SLOT.QUEUE_JOB`) the order to claim items from the shared queue until none is
 * left, with the worker's scratch block start in the first program word.
 *
 * The queue holds a list of items, each a few calls; a thread claims the next item by an
 * atomic add on the queue's counter, so a thread the host slows down simply claims fewer.
 *
 * @module
 */

/** Byte layout, word indices and states of a slot. */
export const SLOT = {
  /** Bytes per slot (a multiple of the cache line, so two threads never share one). */
  bytes: 32768,
  /** Int32 word indices. */
  state: 0,
  callCount: 1,
  /** Calls the worker has finished, ever (it adds one after each). */
  progress: 2,
  /** A failed call's error text (UTF-8, zero padded). */
  errorByte: 16,
  errorBytes: 112,
  /** The program: Float64 words from here to the end of the slot. */
  programByte: 128,
  programWords: (32768 - 128) / 8,
  /** Call count of a job that claims items from the shared queue. */
  QUEUE_JOB: -1,
  /** Loads of the state word before a worker blocks in Atomics.wait. */
  spins: 2000,
  /** States. */
  IDLE: 0,
  POSTED: 1,
  RUNNING: 2,
  DONE: 3,
  FAILED: 4,
  EXIT: 5,
} as const;

/** Byte layout of the shared queue, after the last slot. */
export const QUEUE = {
  bytes: 262144,
  /** Int32 word indices: the next item to claim, and how many items there are. */
  next: 0,
  count: 1,
  /** Int32 table of where each item starts in the call words (count + 1 entries). */
  tableByte: 64,
  maxItems: 4095,
  /** The items' calls: Float64 words from here to the end of the queue. */
  callsByte: 64 + 4096 * 4,
  callWords: (262144 - 64 - 4096 * 4) / 8,
} as const;
