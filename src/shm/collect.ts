// Arrays that live in segments give their segments back only when they are
// garbage-collected (or released). V8 sees their bytes as external memory,
// but it collects lazily; where a process maps much and allocates little (a
// worker, or a loop that drops large results), collecting explicitly keeps
// the number of segments held by dead arrays small.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/**
 * V8's gc(), without leaving it exposed: the flag is on only while one
 * context is made, so the user's later `vm` contexts do not get a `gc` global.
 * A program started with --expose-gc has its own, which is used as it is.
 */
function exposeGc(): () => void {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return own;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * A full collection. Run twice: V8's deserializer keeps what it decoded
 * until the deserializer itself is collected. (gc() with options, such as
 * { type: 'minor' }, does not process FinalizationRegistry cells here.)
 */
export function collectGarbage(): void {
  gc ??= exposeGc();
  gc();
  gc();
}

export interface CollectionRules {
  /** Collect once this many bytes have been mapped or made in segments since the last collection... */
  bytes: number;
  /** ...and at least this many ms have passed since it. */
  minIntervalMs: number;
  /** Also collect once idle this long (ms) with bytes mapped since the last collection (see CollectionPolicy.busy). */
  idleMs?: number;
  /** Collect on a later turn of the event loop (so that the caller's code has dropped what it will drop), not at once. */
  nextTurn: boolean;
}

/**
 * When a process collects garbage to give segments back (the rules are in
 * tuning.ts: PARENT_COLLECTION, WORKER_COLLECTION). The process tells it how
 * many bytes it has tracked so far with note(), and whether it is busy.
 */
export class CollectionPolicy {
  readonly #rules: CollectionRules;
  readonly #collect: () => void;
  #collectedAtBytes = 0;
  #lastAt = 0;
  #scheduled = false;
  #tracked = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  /**
   * While true (a worker running a batch of tasks), no collection for being
   * idle: the idle time counts from the first note() after it is false again.
   * Counted from when bytes were mapped instead, it collected after every task
   * that took longer than idleMs, whatever it had mapped.
   */
  busy = false;

  constructor(rules: CollectionRules, collect: () => void = collectGarbage) {
    this.#rules = rules;
    this.#collect = collect;
  }

  /** `tracked`: bytes of arrays mapped or made in segments so far, ever. */
  note(tracked: number): void {
    this.#tracked = tracked;
    const pending = tracked - this.#collectedAtBytes;
    if (this.#scheduled || pending <= 0) return;
    const { bytes, minIntervalMs, idleMs } = this.#rules;
    if (pending >= bytes && performance.now() - this.#lastAt >= minIntervalMs) {
      this.#collectNow(tracked);
      return;
    }
    if (idleMs === undefined) return;
    if (this.busy) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      return;
    }
    this.#idleTimer ??= setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.busy && this.#tracked > this.#collectedAtBytes) this.#collectNow(this.#tracked);
    }, idleMs);
  }

  #collectNow(tracked: number): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const collect = () => {
      this.#collectedAtBytes = tracked;
      this.#lastAt = performance.now();
      this.#collect();
    };
    if (!this.#rules.nextTurn) {
      collect();
      return;
    }
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      collect();
    }).unref();
  }
}
