// A worker that is a thread of this process running src/worker/main.ts
// (worker_threads). It maps the segments of this process but makes none, so
// it owns nothing to sweep and is no peer of the book (nothing is routed to
// it by name); terminate() stops it even in synchronous code.
import { Worker } from 'node:worker_threads';
import { WorkerCrashedError } from '../errors.js';
import type { SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import { WORKER_THREAD_DATA } from '../worker/role.js';
import { PoolWorker, type WorkerEvents, type WorkerKind } from './pool-worker.js';
import type { FromWorker, ToWorker } from './protocol.js';
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
  readonly owner: SegmentOwner | undefined = undefined;
  readonly makesSegments = false;
  readonly structuredClone = true;
  /** Errors name it by this id (its pid is this process's). */
  readonly threadId: number;
  #exited = false;

  constructor(execArgv: readonly string[], store: SegmentStore, events: WorkerEvents) {
    super(store);
    try {
      this.thread = new Worker(WORKER_ENTRY, { execArgv: [...execArgv], workerData: WORKER_THREAD_DATA });
    } catch (error) {
      this.discardReceipts();
      throw error;
    }
    this.threadId = this.thread.threadId;
    this.thread.on('message', (message: FromWorker) => events.message(this, message));
    // An error thrown while the thread loads, or that ends it (out of memory): the cause of its failure.
    this.thread.on('error', (error) => {
      this.fatalError ??= error;
    });
    this.thread.on('exit', (code) => {
      this.#exited = true;
      this.ended(events, code, null);
    });
  }

  /** A thread's segment holds go through this process: it is its own peer's process. */
  get pid(): number {
    return process.pid;
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

  joinBook(): void {}

  leaveBook(): void {}

  send(message: ToWorker): void {
    if (!this.#exited) this.thread.postMessage(message);
  }

  retire(): void {
    if (!this.retiring()) return;
    this.send({ type: 'exit' });
  }

  kill(): void {
    if (this.state !== 'dead') void this.thread.terminate();
  }

  hold(active: boolean): void {
    if (this.state === 'dead') return;
    if (active) this.thread.ref();
    else this.thread.unref();
  }
}
