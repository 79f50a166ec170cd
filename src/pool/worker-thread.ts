// A worker that is a thread of this process running src/worker/main.ts
// (worker_threads). It maps the segments of this process but makes none, so
// it owns nothing to sweep; terminate() stops it even in synchronous code.
import { Worker } from 'node:worker_threads';
import type { SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import { PoolWorker, type WorkerEvents } from './pool-worker.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { WORKER_ENTRY } from './worker-process.js';

export class WorkerThread<Item = unknown> extends PoolWorker<Item> {
  readonly thread: Worker;
  readonly owner: SegmentOwner | undefined = undefined;
  override readonly threadId: number;
  #exited = false;

  constructor(execArgv: readonly string[] | undefined, store: SegmentStore, events: WorkerEvents) {
    super(store);
    try {
      this.thread = new Worker(WORKER_ENTRY, execArgv === undefined ? {} : { execArgv: [...execArgv] });
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

  override get label(): string {
    return `worker thread ${this.threadId}`;
  }

  send(message: ToWorker): void {
    if (!this.#exited) this.thread.postMessage(message);
  }

  retire(): void {
    if (this.state === 'dead' || this.state === 'exiting') return;
    this.state = 'exiting';
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
