// A worker that is a thread of this process running src/worker/main.ts
// (worker_threads). Like a worker process it makes segments of its own, named
// for it (`shmex.<pid>.<start>.t<threadId>.<random>`: see segment-names.ts),
// and is a peer of the book: holds on its segments are routed to it by the
// thread part of their names. When it ends (retired, terminated, crashed),
// the parent adopts those its arrays still need and removes the rest, as for
// a dead worker process. terminate() stops it even in synchronous code.
import { Worker } from 'node:worker_threads';
import { WorkerCrashedError } from '../errors.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { ownerKey, type SegmentOwner, selfOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { threadWorkerData } from '../worker/role.js';
import { PoolWorker, type WorkerEvents, type WorkerKind } from './pool-worker.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { type FlatMessage, RunWriter, readFromWorker } from './thread-wire.js';
import { WORKER_ENTRY } from './worker-process.js';

/** Threads of this process: ThreadPoolExecutor. */
export const threadWorkers: WorkerKind = {
  name: 'thread',
  structuredClone: true,
  // Process-wide options apply to threads anyway, and new Worker() refuses many (V8 options,
  // -e), so inheriting the parent's would break programs run with them.
  start: (execArgv, store, events) => new WorkerThread(execArgv, store, events),
};

export class WorkerThread<Item = unknown> extends PoolWorker<Item> {
  readonly thread: Worker;
  readonly owner: SegmentOwner;
  readonly structuredClone = true;
  /** Errors name it by this id (its pid is this process's). */
  readonly threadId: number;
  #exited = false;
  /** Bumped after every message posted to it: an idle thread waits on it (see THREAD_IDLE_WAIT_MS). */
  readonly #wake = new Int32Array(new SharedArrayBuffer(4));
  /** Flattens its 'run' messages (see thread-wire.ts). */
  readonly #runs = new RunWriter();

  constructor(execArgv: readonly string[], store: SegmentStore, events: WorkerEvents) {
    super(store);
    try {
      const workerData = threadWorkerData(ownerKey(selfOwner()), this.#wake);
      this.thread = new Worker(WORKER_ENTRY, { execArgv: [...execArgv], workerData });
    } catch (error) {
      this.discardReceipts();
      throw error;
    }
    this.threadId = this.thread.threadId;
    const { pid, start } = selfOwner();
    this.owner = { pid, start, thread: this.threadId };
    this.thread.on('message', (message: FromWorker | FlatMessage) =>
      events.message(this, readFromWorker(message)),
    );
    // An error thrown while the thread loads, or that ends it (out of memory): the cause of its failure.
    this.thread.on('error', (error) => {
      this.fatalError ??= error;
    });
    this.thread.on('exit', (code) => {
      this.#exited = true;
      this.ended(events, code, null);
    });
  }

  /** Its owner key (see ownerKey): the ledger routes holds on its segments by it. */
  get pid(): number {
    return ownerKey(this.owner);
  }

  get label(): string {
    return `worker thread ${this.threadId}`;
  }

  crashError(
    code: number | null,
    signal: NodeJS.Signals | null,
    when: string | undefined,
  ): WorkerCrashedError {
    return new WorkerCrashedError(undefined, code, signal, when, this.fatalError, this.threadId);
  }

  joinBook(book: SegmentBook): void {
    book.addPeer(this);
  }

  leaveBook(book: SegmentBook): void {
    book.removePeer(this);
    removeSegmentsOf(this.owner, book.store);
  }

  send(message: ToWorker): void {
    if (this.#exited) return;
    try {
      this.thread.postMessage(this.#runs.write(message));
    } catch (error) {
      this.#runs.undo();
      throw error;
    }
    Atomics.add(this.#wake, 0, 1);
    Atomics.notify(this.#wake, 0);
  }

  retire(): void {
    if (!this.retiring()) return;
    this.send({ type: 'exit' });
  }

  kill(): void {
    if (this.state !== 'dead') void this.thread.terminate();
  }

  /** Whether it keeps the event loop alive now (see hold()). */
  #held: boolean | undefined;

  hold(active: boolean): void {
    // The pool asks after every dispatch and every result: ref()/unref() only on a change.
    if (this.state === 'dead' || active === this.#held) return;
    this.#held = active;
    if (active) this.thread.ref();
    else this.thread.unref();
  }
}
