// The budget of queued work (the executor option maxQueuedBytes): how many
// bytes the arguments of tasks that wait in the queue hold in shared memory.
// submit() copies a task's large arguments into segments at once while they
// fit the budget; beyond it, the task keeps references to the caller's arrays
// and copies them when a worker takes it (see "Queued memory" in
// docs/guide.md). A task gives its bytes back when it leaves the queue: taken
// by a worker, cancelled, aborted, or failed with the pool.
//
// The bytes are counted before anything is copied, from the arguments
// themselves (queuedBytesOf), so that a task over the budget costs no copy.
import { statfsSync } from 'node:fs';
import { kWhenDone } from '../symbols.js';
import type { Payload } from '../transfer/encode.js';
import { QUEUED_BYTES_CAP, QUEUED_BYTES_DIR_SHARE } from '../tuning.js';

/** Objects looked into at most per task: a huge plain structure is counted by its first ones. */
const MAX_VISITS = 10_000;

/**
 * The bytes `args` would put in new segments if encoded now: of every
 * distinct ArrayBuffer or SharedArrayBuffer reached through views, plain
 * arrays, objects (own enumerable properties), Maps and Sets, the part that
 * travels (its views' covering range; a bare or shared buffer whole) if it
 * is at least `threshold` bytes, unless the buffer already lives in a
 * segment (`inSegment`: it is lent, not copied). A small Node Buffer travels
 * as its own bytes, whatever its pool.
 */
export function queuedBytesOf(
  args: readonly unknown[],
  threshold: number,
  inSegment: (buffer: ArrayBufferLike) => boolean,
): number {
  try {
    return count(args, threshold, inSegment);
  } catch {
    // A value the encoder will refuse (a view without its prototype, a Proxy that throws):
    // it counts nothing, so it is encoded at submit and its Future rejects there.
    return 0;
  }
}

function count(
  args: readonly unknown[],
  threshold: number,
  inSegment: (buffer: ArrayBufferLike) => boolean,
): number {
  let stack: object[] | undefined;
  for (const arg of args) {
    if (typeof arg !== 'object' || arg === null) continue;
    // The common case of small tasks: a view of a small buffer, which counts nothing (no Set made).
    if (ArrayBuffer.isView(arg) && arg.buffer.byteLength < threshold) continue;
    if (stack === undefined) stack = [];
    stack.push(arg);
  }
  if (stack === undefined) return 0;
  const seen = new Set<object>();
  // What travels of each buffer, as the encoder settles it (Scan.cover): a view's range, the union
  // of its buffer's views' ranges with the start aligned down to 8 bytes; a bare or shared buffer whole.
  // Counting a view's whole buffer would make 16 strips of a 64 MB image weigh 1 GB, and leave
  // most of them uncopied at submit.
  const ranges = new Map<ArrayBufferLike, { start: number; end: number }>();
  while (stack.length > 0 && seen.size < MAX_VISITS) {
    const value = stack.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    let buffer: ArrayBufferLike;
    let start = 0;
    let end: number;
    if (ArrayBuffer.isView(value)) {
      if (Buffer.isBuffer(value) && value.byteLength < threshold) continue;
      buffer = value.buffer;
      end = buffer.byteLength;
      if (!(buffer instanceof SharedArrayBuffer)) {
        start = value.byteOffset - (value.byteOffset % 8);
        end = value.byteOffset + value.byteLength;
      }
    } else if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      buffer = value;
      end = buffer.byteLength;
    } else {
      pushChildren(value, stack);
      continue;
    }
    const range = ranges.get(buffer);
    if (range === undefined) ranges.set(buffer, { start, end });
    else {
      range.start = Math.min(range.start, start);
      range.end = Math.max(range.end, end);
    }
  }
  let bytes = 0;
  for (const [buffer, { start, end }] of ranges) {
    if (end - start >= threshold && end > start && !inSegment(buffer)) bytes += end - start;
  }
  return bytes;
}

/** Pushes the values an object holds; only data properties, so that no getter of the caller's runs twice. */
function pushChildren(value: object, stack: object[]): void {
  const push = (v: unknown) => {
    if (typeof v === 'object' && v !== null) stack.push(v);
  };
  if (Array.isArray(value)) value.forEach(push);
  else if (value instanceof Map) {
    for (const [k, v] of value) {
      push(k);
      push(v);
    }
  } else if (value instanceof Set) value.forEach(push);
  else {
    for (const key of Object.keys(value)) push(Object.getOwnPropertyDescriptor(value, key)?.value);
  }
}

/**
 * The default budget for a directory: a share of its size (a container's
 * small /dev/shm gets a small budget), at most QUEUED_BYTES_CAP.
 */
export function defaultQueuedBytes(dir: string): number {
  let size = Number.POSITIVE_INFINITY;
  try {
    const fs = statfsSync(dir);
    size = fs.blocks * fs.bsize;
  } catch {
    // Unreadable: the cap alone (creating segments there will say what is wrong).
  }
  return Math.min(QUEUED_BYTES_CAP, Math.floor(size * QUEUED_BYTES_DIR_SHARE));
}

/** What the budget reads and sets of a queued task (a WorkItem of worker-pool.ts). */
export interface Admitted {
  args: Payload;
  future: { [kWhenDone](callback: () => void): void };
  control: { reject(error: unknown): void };
  prepare?: () => boolean;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
}

/**
 * The count of queued bytes against the budget, and the callers waiting for
 * room (waitForRoom). Pure bookkeeping: the executor charges a task when it
 * snapshots its arguments at submit, and discharges it when the task leaves
 * the queue.
 */
export class QueuedBytes {
  readonly limit: number;
  #used = 0;
  readonly #waiters: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes of the arguments of queued tasks that were snapshotted at submit. */
  get used(): number {
    return this.#used;
  }

  /**
   * Whether a task whose arguments hold `bytes` is snapshotted at submit:
   * if they fit, or if nothing else is queued (one task larger than the
   * whole budget is still copied at once: it waits for no other).
   */
  fits(bytes: number): boolean {
    return bytes === 0 || this.#used === 0 || this.#used + bytes <= this.limit;
  }

  charge(bytes: number): void {
    this.#used += bytes;
  }

  discharge(bytes: number): void {
    this.#used -= bytes;
    this.#wake();
  }

  /**
   * Counts a queued task whose arguments hold `bytes`: `copy` undefined, they
   * were copied at submit, and count until the task leaves the queue (taken
   * by a worker, or its Future settled); otherwise they are copied by
   * `item.prepare`, as a worker takes it.
   */
  admit(item: Admitted, bytes: number, copy: (() => Payload) | undefined): void {
    let counted = copy === undefined ? bytes : 0;
    const leave = () => {
      this.discharge(counted);
      counted = 0;
    };
    if (counted > 0) {
      this.charge(counted);
      item.future[kWhenDone](leave);
    }
    item.prepare = () => {
      if (counted > 0) leave();
      if (copy === undefined) return true;
      const take = copy;
      copy = undefined; // a task sent again (its first worker died before starting it) keeps its copy
      try {
        item.args = take();
        return true;
      } catch (error) {
        if (error instanceof Error) {
          error.message += ` (its arguments were over maxQueuedBytes at submit, so they were read when a worker took the task)`;
        }
        item.control.reject(error);
        return false;
      }
    };
  }

  /** Resolves once `bytes` fit (after the callers that asked before, in order); 0 bytes never wait. */
  whenRoom(bytes: number): Promise<void> {
    if (bytes === 0 || (this.#waiters.length === 0 && this.fits(bytes))) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  /** Lets every waiter go (the executor shut down: their submit will say so). */
  releaseWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /**
   * Wakes waiters in order while they fit, counting those woken now as if
   * they had submitted already (they do so on their next microtask).
   */
  #wake(): void {
    let promised = 0;
    while (this.#waiters.length > 0) {
      const { bytes, resolve } = this.#waiters[0]!;
      const used = this.#used + promised;
      if (!(bytes === 0 || used === 0 || used + bytes <= this.limit)) break;
      this.#waiters.shift();
      promised += bytes;
      resolve();
    }
  }
}
