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

/**
 * Collects once `bytesSince()` reaches `bytes`, on a later turn of the event
 * loop (so that the caller's code has dropped what it will drop), at most
 * once per `minIntervalMs`.
 */
export class CollectionPolicy {
  readonly #bytes: number;
  readonly #minIntervalMs: number;
  #collectedAtBytes = 0;
  #lastAt = 0;
  #scheduled = false;

  constructor(bytes: number, minIntervalMs: number) {
    this.#bytes = bytes;
    this.#minIntervalMs = minIntervalMs;
  }

  /** `tracked`: bytes of arrays mapped or made in segments so far, ever. */
  note(tracked: number): void {
    if (this.#scheduled || tracked - this.#collectedAtBytes < this.#bytes) return;
    if (performance.now() - this.#lastAt < this.#minIntervalMs) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#collectedAtBytes = tracked;
      this.#lastAt = performance.now();
      collectGarbage();
    }).unref();
  }
}
