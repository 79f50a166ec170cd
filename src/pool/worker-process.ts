// A worker that is a child process running src/worker/main.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WorkerCrashedError } from '../errors.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { processStartTime, type SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { PoolWorker, type WorkerEvents, type WorkerKind } from './pool-worker.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { type WorkerAllocator, workerEnv } from './worker-env.js';

/** How long after a worker's exit its channel may take to close before the pool stops waiting. */
const CLOSE_AFTER_EXIT_MS = 1000;

export const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** Child processes: ProcessPoolExecutor. */
export const processWorkers: WorkerKind = {
  name: 'process',
  structuredClone: false,
  start: (execArgv, store, events, allocator) => new WorkerProcess(execArgv, store, events, allocator),
};

export class WorkerProcess<Item = unknown> extends PoolWorker<Item> {
  readonly child: ChildProcess;
  readonly owner: SegmentOwner | undefined;
  readonly makesSegments = true;
  readonly structuredClone = false;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(
    execArgv: readonly string[],
    store: SegmentStore,
    events: WorkerEvents,
    allocator: WorkerAllocator,
  ) {
    super(store);
    try {
      this.child = fork(WORKER_ENTRY, [], {
        serialization: 'advanced',
        execArgv: [...execArgv],
        env: workerEnv(allocator),
      });
    } catch (error) {
      this.discardReceipts();
      throw error;
    }
    const pid = this.child.pid;
    const start = pid === undefined ? undefined : processStartTime(pid);
    this.owner = pid !== undefined && start !== undefined ? { pid, start } : undefined;
    this.child.on('message', (message: FromWorker) => events.message(this, message));
    // Node documents no order between 'exit' and the last messages of the channel: results the
    // worker wrote just before it ended may still be unread. 'close' comes once the channel is
    // closed too (every message read and emitted), so its tasks are classified only then.
    this.child.on('exit', (code, signal) => this.#exited(events, code, signal));
    this.child.on('close', (code, signal) => {
      clearTimeout(this.#closeTimer);
      this.ended(events, code, signal);
    });
    // A process that could not be spawned (no pid: EMFILE, EAGAIN...) emits 'error', no 'exit' nor 'close'.
    this.child.on('error', () => {
      if (this.child.pid === undefined) this.ended(events, this.child.exitCode, null);
    });
  }

  #exited(events: WorkerEvents, code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    // The channel closes when the last process that has it does: if the worker passed it on to
    // a process of its own that lives on, 'close' would never come.
    this.#closeTimer = setTimeout(() => this.ended(events, code, signal), CLOSE_AFTER_EXIT_MS);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get label(): string {
    return `worker process ${this.pid}`;
  }

  crashError(
    code: number | null,
    signal: NodeJS.Signals | null,
    when: string | undefined,
  ): WorkerCrashedError {
    return new WorkerCrashedError(this.pid, code, signal, when, this.fatalError);
  }

  joinBook(book: SegmentBook): void {
    book.addPeer(this);
  }

  leaveBook(book: SegmentBook): void {
    book.removePeer(this);
    if (this.owner !== undefined) removeSegmentsOf(this.owner, book.store);
  }

  send(message: ToWorker): void {
    if (this.child.connected && !this.exited) this.child.send(message);
  }

  retire(): void {
    if (!this.retiring()) return;
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies ToWorker);
    else this.child.kill('SIGKILL');
  }

  kill(): void {
    if (this.state !== 'dead') this.child.kill('SIGKILL');
  }

  hold(active: boolean): void {
    if (this.state === 'dead') return;
    if (active) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }
}
