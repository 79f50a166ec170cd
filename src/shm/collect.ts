// Arrays that live in segments give their segments back only when they are
// garbage-collected (or released). V8 sees their bytes as external memory,
// but it collects lazily; where a process maps much and allocates little (a
// worker, or a loop that drops large results), collecting explicitly keeps
// the number of segments held by dead arrays small.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'major' | 'minor' }) => void;

let gc: Gc | undefined;

/**
 * V8's gc(), without leaving it exposed: the flag is on only while one
 * context is made, so the user's later `vm` contexts do not get a `gc` global.
 * A program started with --expose-gc has its own, which is used as it is.
 */
function exposeGc(): Gc {
  const own = (globalThis as { gc?: Gc }).gc;
  if (typeof own === 'function') return own;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * V8's serializer and deserializer keep every object they wrote or decoded
 * (and each buffer passed as transferred) until they are themselves
 * collected: an array one of them handled and the caller dropped is freed by
 * the collection after the one that frees it. Payloads whose root is a view
 * or a list of views are written and decoded without either keeping any
 * (transfer/wire.ts); the others that name segments count here until their
 * serializer or deserializer is collected.
 */
let keepers = 0;
const keeperGone = new FinalizationRegistry<undefined>(() => {
  keepers--;
});

/** `codec`, a V8 serializer or deserializer, wrote or decoded arrays that live in segments, and keeps them (see above). */
export function keepsArrays(codec: object): void {
  keepers++;
  keeperGone.register(codec, undefined);
}

/**
 * A full collection; twice while a serializer or deserializer may keep
 * arrays (see above). (gc() with options, such as { type: 'minor' }, does
 * not process FinalizationRegistry cells here.)
 */
export function collectGarbage(): void {
  gc ??= exposeGc();
  const twice = keepers > 0;
  gc();
  if (twice) gc();
}

/**
 * A full collection, after a minor one while a serializer or deserializer
 * may keep arrays (see above): half the cost of collectGarbage() (a minor one takes 0.1 ms
 * here, a full one 4) when the deserializer of the payload just decoded is
 * young, which it is unless V8 collected while it was decoding (a large
 * argument's external memory can make it do so, and move it to the old
 * generation): its arrays then wait for one more full collection
 * (collectOnce).
 */
export function collectYoungFirst(): void {
  gc ??= exposeGc();
  if (keepers > 0) gc({ type: 'minor' });
  gc();
}

/** One full collection. */
export function collectOnce(): void {
  gc ??= exposeGc();
  gc();
}

/** When a worker gives a task's received copies back: see TaskMessage.giveBack (pool/protocol.ts). */
export type GiveBack = 'now' | 'after';

export interface CollectionRules {
  /** Collect once this many bytes have been mapped or made in segments since the last collection... */
  bytes: number;
  /** ...and at least this many ms have passed since it. */
  minIntervalMs: number;
  /** What a byte of a copy-on-write mapping weighs in `bytes` (1 unless given). */
  copyOnWriteWeight?: number;
  /** Also collect once idle (not busy) this long (ms), if any bytes were tracked since the last collection. */
  idleMs?: number;
  /**
   * Once this many bytes of received copies have been mapped since the last
   * collection, collect right after a task whose sender waits for them,
   * before its outcome goes out (afterTask, 'now'), or at the note() after
   * the outcome went out ('after'); and at a note(), once this many bytes of
   * other arrays (made here, or shared mappings: neither copies nor
   * copy-on-write mappings) were mapped or made.
   */
  taskBytes?: number;
  /**
   * At most this share of the time in collections: the time since the last
   * collection must be at least its duration divided by this (a large heap
   * collects less often than a small one).
   */
  maxTimeShare?: number;
  /**
   * A collection is worth at most this many ms per MiB of segments it may
   * give back (the page faults of new segments it saves their makers): after
   * one that took t ms, the next waits until t / msPerMiB MiB were tracked.
   * A large heap collects slowly, and then only after many results.
   */
  msPerMiB?: number;
  /** Collect on a later turn of the event loop (so that the caller's code has dropped what it will drop), not at once. */
  nextTurn: boolean;
}

/**
 * When a process collects garbage to give segments back (the rules are in
 * tuning.ts: PARENT_COLLECTION, WORKER_COLLECTION). The process tells it how
 * many bytes it has tracked so far with note(), and whether it is busy.
 *
 * A hold on a segment made for this process (a copied argument) keeps memory
 * of its own: once taskBytes of them have piled up, they go back right after
 * a task, before the task's outcome, so that their owner has them back when
 * it hears of the result (a map over large chunks copies the next chunk into
 * one). Arrays the task made in segments (empty(), a result's copy) and
 * shared mappings go back after the outcome went out: collecting before it
 * would give their owner nothing it waits for, and delay the outcome (by
 * 18 ms a call for a task that returns a 160 MB empty() array). Not after every task: a collection is one or two full garbage collections
 * (collectGarbage), about 5 ms each even on a small heap, as much as the task itself for a 4 MB image
 * strip. A copy-on-write mapping of a segment its owner keeps frees only the
 * pages this process wrote, so it counts only toward `bytes`, weighed
 * (copyOnWriteWeight), and idleness.
 */
export class CollectionPolicy {
  readonly #rules: CollectionRules;
  readonly #collect: () => void;
  readonly #now: () => number;
  /**
   * Called as a collection is decided, when the bytes it counts are taken
   * (it runs a turn later with rules.nextTurn): arrays made or released from
   * then on belong to what comes after it (see newCollectionEpoch).
   */
  readonly #decided: () => void;
  /** [other bytes, copy-on-write bytes] tracked at the last collection, and now. */
  #collectedAt = [0, 0];
  #tracked = [0, 0];
  /** Bytes of received copies tracked at the last collection, and now (see afterTask). */
  #copiedAt = 0;
  #copied = 0;
  /** Bytes of arrays made here (in this process's own segments) at the last collection, and now (see afterTask). */
  #madeAt = 0;
  #made = 0;
  /** The last task's copies count toward taskBytes at note() (its giveBack was 'after'). */
  #copiesAfter = false;
  #lastAt = 0;
  /** How long the last collection took (ms). */
  #lastTook = 0;
  #scheduled = false;
  /** Called on the turn after the scheduled collection, once its finalizers have run (whenCollected). */
  #waiters: (() => void)[] = [];
  #idleTimer: NodeJS.Timeout | undefined;
  #idleDue = false;
  /** While true (a worker running a batch of tasks), a collection for being idle waits until it is false at a note(). */
  busy = false;

  /** `now`: the clock (ms), a test's own where it must not depend on the machine's speed. */
  constructor(
    rules: CollectionRules,
    collect: () => void = collectGarbage,
    now: () => number = () => performance.now(),
    decided: () => void = () => {},
  ) {
    this.#rules = rules;
    this.#collect = collect;
    this.#now = now;
    this.#decided = decided;
  }

  /**
   * `tracked`: bytes of arrays mapped or made in segments so far, ever, but
   * copy-on-write mappings; `copyOnWrite`: those of copy-on-write mappings.
   * True if it collected now (rules without nextTurn): their finalizers run on
   * a later turn.
   */
  note(tracked: number, copyOnWrite = 0): boolean {
    this.#tracked = [tracked, copyOnWrite];
    const other = tracked - this.#collectedAt[0]!;
    const cow = copyOnWrite - this.#collectedAt[1]!;
    if (this.#scheduled || (other <= 0 && cow <= 0)) return false;
    const { bytes, idleMs, copyOnWriteWeight = 1, taskBytes = Infinity } = this.#rules;
    const weighed = other + cow * copyOnWriteWeight;
    // taskBytes of arrays made here or shared mappings: collected after the outcome went out, so
    // that this process's own segments come back for its next results. Received copies count
    // toward `bytes` only here: afterTask gives them back when their sender waits for them.
    const others = this.#copiesAfter ? other : other - (this.#copied - this.#copiedAt);
    const full = (weighed >= bytes || others >= taskBytes) && this.#intervalPassed(Math.max(weighed, others));
    if (full || (this.#idleDue && !this.busy)) {
      this.#collectNow();
      return !this.#rules.nextTurn;
    }
    if (idleMs === undefined) return false;
    if (this.busy) {
      // Idle time counts from the end of the batch.
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      this.#idleDue = false;
      return false;
    }
    this.#idleTimer ??= setTimeout(() => {
      this.#idleTimer = undefined;
      this.#idleDue = true;
      // After this turn's poll phase: a task already waiting in the channel is read there, makes
      // the process busy, and the collection waits (the timer fires before the channel is read).
      setImmediate(() => {
        if (!this.busy) this.note(this.#tracked[0]!, this.#tracked[1]);
      });
    }, idleMs);
    return false;
  }

  /** A collection is scheduled for a later turn (nextTurn rules), or its finalizers have not run yet. */
  get pending(): boolean {
    return this.#scheduled;
  }

  /**
   * Runs `callback` on a turn after the scheduled collection, by when the
   * finalizers of what it collected have run (V8 queues them as a task of
   * their own, which Node runs before the next turn's immediates): what
   * they gave back can be reused by then. False, and nothing is called, if
   * no collection is pending.
   */
  whenCollected(callback: () => void): boolean {
    if (!this.#scheduled) return false;
    this.#waiters.push(callback);
    return true;
  }

  /** Enough time since the last collection, and `bytes` (tracked since) worth its cost. */
  #intervalPassed(bytes: number): boolean {
    const { minIntervalMs, maxTimeShare, msPerMiB } = this.#rules;
    const since = this.#now() - this.#lastAt;
    return (
      since >= minIntervalMs &&
      (maxTimeShare === undefined || since >= this.#lastTook / maxTimeShare) &&
      (msPerMiB === undefined || (bytes / 2 ** 20) * msPerMiB >= this.#lastTook)
    );
  }

  /**
   * After a task, with the bytes tracked so far (as note()) and, of those,
   * the bytes of received copies (arguments copied for this process alone);
   * `giveBack`: when the task's sender wants its copies back (see
   * TaskMessage.giveBack). True if it collected now, by the rule taskBytes on
   * the copies and 'now' (the caller then lets the finalizers run before it
   * sends the task's outcome); with 'after', the copies count toward
   * taskBytes at the next note(). Copies of a burst of submits are not waited
   * for: collecting for them after every few tasks cost workers given 16
   * image strips of 4 MB as much time as the strips' work (see tuning.ts).
   */
  afterTask(
    tracked: number,
    copyOnWrite: number,
    copied: number,
    giveBack: GiveBack | undefined,
    made = 0,
  ): boolean {
    this.#copied = copied;
    this.#copiesAfter = giveBack === 'after';
    const { taskBytes } = this.#rules;
    this.#made = made;
    if (
      giveBack !== 'now' ||
      taskBytes === undefined ||
      copied - this.#copiedAt < taskBytes ||
      this.#scheduled ||
      !this.#intervalPassed(copied - this.#copiedAt)
    ) {
      return false;
    }
    // Arrays made here since the last collection may be the outcome that is about to go out, alive
    // until it has: they stay counted, so the note() after it collects them (a worker's next
    // `new Float64Array(n)` then finds the last result's segment free).
    this.#tracked = [tracked - (made - this.#madeAt), copyOnWrite];
    this.#collectNow(this.#madeAt);
    return !this.#rules.nextTurn;
  }

  /** `madeAt`: what made bytes count as collected once it has run (afterTask leaves them as they were). */
  #collectNow(madeAt = this.#made): void {
    this.#idleDue = false;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const tracked = this.#tracked;
    const copied = this.#copied;
    this.#decided();
    const collect = () => {
      this.#collectedAt = tracked;
      this.#copiedAt = copied;
      this.#madeAt = madeAt;
      const started = this.#now();
      this.#collect();
      this.#lastAt = this.#now();
      this.#lastTook = this.#lastAt - started;
    };
    if (!this.#rules.nextTurn) {
      collect();
      return;
    }
    // Not unref'd: an unref'd immediate lets the event loop block in its poll for I/O first, and
    // tasks waiting for this collection (whenCollected) would wait for unrelated I/O.
    this.#scheduled = true;
    setImmediate(() => {
      collect();
      // Pending until the finalizers of what it collected have run (whenCollected).
      setImmediate(() => {
        this.#scheduled = false;
        for (const waiter of this.#waiters.splice(0)) waiter();
      });
    });
  }
}
