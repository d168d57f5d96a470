/**
 * The code every pool worker runs, as a string: workers start from a Blob URL (browsers,
 * Deno) or `eval` (Node `worker_threads`), so no separate file has to be found next to a
 * bundle or a URL import, and nothing a bundler rewrites can leak into it.
 *
 * Protocol (see pool.ts for the layout of a slot in the control block): the worker waits on
 * its slot's state word; when the main thread posts a job (state POSTED) the worker claims it
 * (POSTED → RUNNING), runs the slot's program of kernel calls in order (or, for a queue job,
 * claims and runs the shared queue's items until none is left), and stores DONE or FAILED
 * (with the error text), then notifies. EXIT ends the loop.
 *
 * @module
 */
import { QUEUE, SLOT } from "./slot_layout.ts";

/** JavaScript source of a pool worker. */
export const WORKER_SOURCE = `
"use strict";
const SLOT = ${JSON.stringify(SLOT)};
const QUEUE = ${JSON.stringify(QUEUE)};
function start(data, post) {
  const { module, memory, control, slot, names, tailScratch, queueByte } = data;
  let exports;
  try {
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    exports.kernel_set_tail_scratch(tailScratch);
  } catch (e) {
    post({ ok: false, error: String(e) });
    return;
  }
  const fns = names.map((n) => exports[n]);
  const words = new Int32Array(control, slot * SLOT.bytes, SLOT.bytes / 4);
  const program = new Float64Array(control, slot * SLOT.bytes + SLOT.programByte, SLOT.programWords);
  const text = new Uint8Array(control, slot * SLOT.bytes + SLOT.errorByte, SLOT.errorBytes);
  const queue = new Int32Array(control, queueByte, QUEUE.tableByte / 4);
  const table = new Int32Array(control, queueByte + QUEUE.tableByte, QUEUE.maxItems + 1);
  const queued = new Float64Array(control, queueByte + QUEUE.callsByte, QUEUE.callWords);
  // Runs the call encoded at word p of buf (see slot_layout.ts); returns the word after it.
  function runCall(buf, p, scratch) {
    const fn = fns[buf[p]];
    const n = buf[p + 1];
    const mask = buf[p + 2];
    const a = [];
    for (let i = 0; i < n; i++) {
      const v = buf[p + 3 + i];
      a.push((mask & (1 << i)) !== 0 ? v + scratch : v);
    }
    fn(...a);
    Atomics.add(words, SLOT.progress, 1);
    return p + 3 + n;
  }
  function runQueued(scratch) {
    const count = queue[QUEUE.count];
    for (;;) {
      const item = Atomics.add(queue, QUEUE.next, 1);
      if (item >= count) return;
      for (let p = table[item], end = table[item + 1]; p < end;) p = runCall(queued, p, scratch);
    }
  }
  post({ ok: true });
  for (;;) {
    let state = Atomics.load(words, SLOT.state);
    for (let i = 0; i < SLOT.spins && state !== SLOT.POSTED && state !== SLOT.EXIT; i++) {
      state = Atomics.load(words, SLOT.state);
    }
    if (state === SLOT.EXIT) return;
    if (state !== SLOT.POSTED) {
      Atomics.wait(words, SLOT.state, state);
      continue;
    }
    if (Atomics.compareExchange(words, SLOT.state, SLOT.POSTED, SLOT.RUNNING) !== SLOT.POSTED) {
      continue;
    }
    let next = SLOT.DONE;
    try {
      const calls = words[SLOT.callCount];
      if (calls === SLOT.QUEUE_JOB) runQueued(program[0]);
      for (let c = 0, p = 0; c < calls; c++) p = runCall(program, p, 0);
    } catch (e) {
      const bytes = new TextEncoder().encode(String(e)).subarray(0, SLOT.errorBytes);
      text.fill(0);
      text.set(bytes);
      next = SLOT.FAILED;
    }
    Atomics.store(words, SLOT.state, next);
    Atomics.notify(words, SLOT.state);
  }
}
if (typeof self === "undefined") {
  const { parentPort } = require("node:worker_threads");
  parentPort.once("message", (data) => start(data, (m) => parentPort.postMessage(m)));
} else {
  self.onmessage = (e) => {
    self.onmessage = null;
    start(e.data, (m) => self.postMessage(m));
    if (typeof self.close === "function") self.close();
  };
}
`;
