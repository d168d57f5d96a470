/**
 * Layout of one worker's slot in the pool's control block (a SharedArrayBuffer apart from
 * the arena). Slots are 256 bytes apart so two threads never share a cache line.
 *
 * @module
 */

/** Byte layout, word indices and states of a slot. */
export const SLOT = {
  /** Bytes per slot. */
  bytes: 256,
  /** Int32 word indices. */
  state: 0,
  fn: 1,
  argCount: 2,
  /** Float64 arguments start here (byte offset in the slot). */
  argsByte: 16,
  maxArgs: 16,
  /** A failed call's error text (UTF-8, zero padded). */
  errorByte: 144,
  errorBytes: 112,
  /** Loads of the state word before a worker blocks in Atomics.wait. */
  spins: 20000,
  /** States. */
  IDLE: 0,
  POSTED: 1,
  RUNNING: 2,
  DONE: 3,
  FAILED: 4,
  EXIT: 5,
} as const;
