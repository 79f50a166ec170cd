// What the pool knows about one worker, process or thread: its state, the
// tasks sent to it, the segment holds it was given, and its receipts page.
// worker-process.ts and worker-thread.ts say how it runs.
import { native } from '../shm/native.js';
import type { Peer, SegmentBook, SegmentControl } from '../shm/segment-book.js';
import { newSegmentName, type SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import type { FromWorker, ToWorker } from './protocol.js';

export type WorkerState = 'starting' | 'idle' | 'busy' | 'exiting' | 'dead';

export interface WorkerEvents {
  message(worker: PoolWorker, message: FromWorker): void;
  exit(worker: PoolWorker, code: number | null, signal: NodeJS.Signals | null, previous: WorkerState): void;
}

export abstract class PoolWorker<Item = unknown> implements Peer {
  /** Who owns the segments this worker creates, for sweeping them if it dies (none for a thread). */
  abstract readonly owner: SegmentOwner | undefined;
  abstract readonly pid: number | undefined;
  /** Set for a worker thread: errors name it by this id. */
  readonly threadId: number | undefined = undefined;
  state: WorkerState = 'starting';
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
  /** Segment holds this worker has been given and not freed yet, by name: given back if it dies. */
  readonly holds = new Map<string, number>();

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

  /** A task was sent to it. */
  take(item: Item): void {
    if (this.#inflight.length === 0) this.#busySince = performance.now();
    this.#inflight.push(item);
  }

  /** Its task at `index` got its outcome; undefined if there is none there. */
  finish(index: number): Item | undefined {
    if (index < 0) return undefined; // splice(-1) would take the last one
    const [item] = this.#inflight.splice(index, 1);
    if (this.#inflight.length === 0) this.#endBusySpan();
    return item;
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
    if (this.state === 'dead') return;
    this.receiptsMapped();
    const previous = this.state;
    this.state = 'dead';
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

  /**
   * It died: gives back, through `book`, the holds it had on other processes'
   * segments, which it will never free. The leases of tasks that go back to
   * the queue stay held for their next worker; the holds it took for results
   * it lost are given back too.
   */
  giveBackHolds(book: SegmentBook, requeuedLeases: string[][], lostResultHolds: string[][]): void {
    for (const leases of requeuedLeases)
      for (const name of leases) this.holds.set(name, (this.holds.get(name) ?? 1) - 1);
    for (const [name, count] of this.holds) for (let i = 0; i < count; i++) book.free([name]);
    this.holds.clear();
    for (const names of lostResultHolds) book.free(names);
  }

  /** How errors name it: 'worker process <pid>' or 'worker thread <id>'. */
  get label(): string {
    return `worker process ${this.pid}`;
  }

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
