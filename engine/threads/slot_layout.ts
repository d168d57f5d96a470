/**
 * Layout of one worker's slot in the pool's control block (a SharedArrayBuffer apart from
 * the arena). A slot holds one job: a short program of kernel calls, each stored as
 * [function index, argument count, arguments...] in Float64 words.
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
  /** A failed call's error text (UTF-8, zero padded). */
  errorByte: 16,
  errorBytes: 112,
  /** The program: Float64 words from here to the end of the slot. */
  programByte: 128,
  programWords: (32768 - 128) / 8,
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
