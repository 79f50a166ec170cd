// What the pool knows about one worker, process or thread: its state, the
// tasks sent to it, and its receipts page (the holds it was given are the
// book's ledger's: see hold-ledger.ts). worker-process.ts and
// worker-thread.ts say how it runs, and every way the two differ (the pool
// asks the worker, never which kind it is).
import type { WorkerCrashedError } from '../errors.js';
import { native } from '../shm/native.js';
import type { Peer, SegmentBook, SegmentControl } from '../shm/segment-book.js';
import { newSegmentName, type SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { WorkerAllocator } from './worker-env.js';

/**
 * starting --ready--> idle <--take / finish--> busy
 *     \                 \                      /
 *      +----retire------> exiting <-----------+      (any) --ended--> dead
 */
export type WorkerState = 'starting' | 'idle' | 'busy' | 'exiting' | 'dead';

/** The moves each state allows; any other is ignored (a late 'ready', a retire() after death). */
const MOVES: Record<WorkerState, readonly WorkerState[]> = {
  starting: ['idle', 'exiting', 'dead'],
  idle: ['busy', 'exiting', 'dead'],
  busy: ['idle', 'exiting', 'dead'],
  exiting: ['dead'],
  dead: [],
};

export interface WorkerEvents {
  message(worker: PoolWorker, message: FromWorker): void;
  exit(worker: PoolWorker, code: number | null, signal: NodeJS.Signals | null, previous: WorkerState): void;
}

/** A kind of worker (processes, threads): what the executor and the pool need to know of it. */
export interface WorkerKind {
  /** Which kind: resolve-options.ts derives the executor's name and default execArgv from it. */
  readonly name: 'process' | 'thread';
  /**
   * Messages to these workers are copied by structured clone (a thread's
   * port), not serialized into a process's frames: arrays may travel as they are.
   */
  readonly structuredClone: boolean;
  start<Item>(
    execArgv: readonly string[],
    store: SegmentStore,
    events: WorkerEvents,
    allocator: WorkerAllocator,
  ): PoolWorker<Item>;
}

export abstract class PoolWorker<Item = unknown> implements Peer {
  /** Who owns the segments this worker creates, for sweeping them if it dies. */
  abstract readonly owner: SegmentOwner | undefined;
  abstract readonly pid: number | undefined;
  /** Its messages come by structured clone (see WorkerKind.structuredClone). */
  abstract readonly structuredClone: boolean;
  #state: WorkerState = 'starting';
  /** It has ended, and its last messages are still being read: it takes no task (ended() follows). */
  exited = false;
  readonly #inflight: Item[] = [];
  /** Milliseconds of its earlier spans with tasks in flight; and when the current span began. */
  #busyMs = 0;
  #busySince: number | undefined;
  tasksRun = 0;
  /** When its last result arrived (performance.now()), to measure how long its tasks take. */
  lastResultAt = 0;
  /** Ids of function sources this worker has compiled. */
  readonly knownSources = new Set<number>();
  /** The error no task caught that this worker reported before exiting, if any. */
  fatalError: unknown;

  /** The receipts segment (see WorkerConfig.receipts); '' if it could not be made. */
  readonly receiptsName: string;
  readonly #receipts: Float64Array | undefined;
  readonly #store: SegmentStore;

  constructor(store: SegmentStore) {
    this.#store = store;
    // Without receipts (no usable shared-memory directory) every task sent counts as run:
    // if the worker dies, they fail instead of running elsewhere.
    let name = newSegmentName();
    let receipts: Float64Array | undefined;
    try {
      receipts = new Float64Array(store.create(name, 16), 0, 2);
    } catch {
      name = '';
    }
    this.#receipts = receipts;
    this.receiptsName = name;
  }

  /** Tasks sent to it and not finished, in the order it runs them: the first one runs now. */
  get inflight(): readonly Item[] {
    return this.#inflight;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** The only place the state changes; false if `next` is no move from the current state. */
  #moveTo(next: WorkerState): boolean {
    if (!MOVES[this.#state].includes(next)) return false;
    this.#state = next;
    return true;
  }

  /** It said 'ready': it takes tasks. */
  started(): void {
    this.#moveTo('idle');
  }

  /** A task was sent to it. */
  take(item: Item): void {
    this.#moveTo('busy');
    if (this.#inflight.length === 0) this.#busySince = performance.now();
    this.#inflight.push(item);
  }

  /** Its task at `index` got its outcome; undefined if there is none there. */
  finish(index: number): Item | undefined {
    if (index < 0) return undefined; // splice(-1) would take the last one
    // Results come back in order: shift() takes the first without the array splice() returns.
    const item = index === 0 ? this.#inflight.shift() : this.#inflight.splice(index, 1)[0];
    if (this.#inflight.length === 0) {
      this.#endBusySpan();
      if (this.#state === 'busy') this.#moveTo('idle');
    }
    return item;
  }

  /** It is asked to exit (see retire()); false if it is exiting or dead already. */
  protected retiring(): boolean {
    return this.#moveTo('exiting');
  }

  /** Every task it had: it died. */
  takeAll(): Item[] {
    this.#endBusySpan();
    return this.#inflight.splice(0);
  }

  #endBusySpan(): void {
    if (this.#busySince === undefined) return;
    this.#busyMs += performance.now() - this.#busySince;
    this.#busySince = undefined;
  }

  /** Milliseconds it has had at least one task in flight, up to `now` (performance.now()). */
  busyMs(now: number): number {
    return this.#busyMs + (this.#busySince === undefined ? 0 : now - this.#busySince);
  }

  /** Called by the subclass once the worker has ended, with how. */
  protected ended(events: WorkerEvents, code: number | null, signal: NodeJS.Signals | null): void {
    const previous = this.#state;
    if (!this.#moveTo('dead')) return;
    this.receiptsMapped();
    events.exit(this, code, signal, previous);
    if (this.#receipts !== undefined) native.release(this.#receipts.buffer as ArrayBuffer);
  }

  /** The worker could not be started: its receipts segment goes at once. */
  protected discardReceipts(): void {
    this.receiptsMapped();
    if (this.#receipts !== undefined) native.release(this.#receipts.buffer as ArrayBuffer);
  }

  /** The worker has mapped its receipts segment (or died): its name can go. */
  receiptsMapped(): void {
    if (this.receiptsName !== '') this.#store.remove([this.receiptsName]);
  }

  /** How many tasks the worker has started and finished, over its life. */
  progress(): { started: number; finished: number } {
    if (this.#receipts === undefined) return { started: Number.POSITIVE_INFINITY, finished: 0 };
    return { started: this.#receipts[0]!, finished: this.#receipts[1]! };
  }

  /** How errors name it: 'worker process <pid>' or 'worker thread <id>'. */
  abstract readonly label: string;

  /** The error of a task it lost by dying; `when`: at what point of the task, if not while running it. */
  abstract crashError(
    code: number | null,
    signal: NodeJS.Signals | null,
    when: string | undefined,
  ): WorkerCrashedError;

  /** It joins the pool: the book routes to it the holds on segments it made. */
  abstract joinBook(book: SegmentBook): void;

  /**
   * It died: of the segments it made, those our arrays still live in are
   * adopted (they stay usable, also in tasks), the rest is removed, also
   * what nobody mapped yet (a half-sent result, say).
   */
  abstract leaveBook(book: SegmentBook): void;

  abstract send(message: ToWorker): void;

  sendControl(control: SegmentControl): void {
    this.send({ type: 'segments', control });
  }

  /** Asks the worker to exit once it is idle; it exits at once if it already is. */
  abstract retire(): void;

  abstract kill(): void;

  /** Whether this worker keeps the parent's event loop alive. */
  abstract hold(active: boolean): void;
}
