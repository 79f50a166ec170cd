// One worker: a child process running src/worker/main.ts, and what the
// parent knows about it. The pool (process-pool.ts) decides what it runs.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { native } from '../shm/native.js';
import type { Peer, SegmentControl } from '../shm/segment-book.js';
import { newSegmentName, processStartTime, type SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import type { FromWorker, ToWorker } from './protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

export type WorkerState = 'starting' | 'idle' | 'busy' | 'exiting' | 'dead';

export interface WorkerEvents {
  message(worker: WorkerProcess, message: FromWorker): void;
  exit(
    worker: WorkerProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    previous: WorkerState,
  ): void;
}

export class WorkerProcess<Item = unknown> implements Peer {
  readonly child: ChildProcess;
  /** Who owns the segments this worker creates, for sweeping them if it dies. */
  readonly owner: SegmentOwner | undefined;
  state: WorkerState = 'starting';
  /** Tasks sent to it and not finished, in the order it runs them: the first one runs now. */
  readonly inflight: Item[] = [];
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

  constructor(execArgv: readonly string[], store: SegmentStore, events: WorkerEvents) {
    this.#store = store;
    // Without receipts (no usable shared-memory directory) every task sent counts as run:
    // if the worker dies, they fail instead of running elsewhere.
    let name = newSegmentName();
    try {
      this.#receipts = new Float64Array(native.create(store.path(name), 16), 0, 2);
    } catch {
      name = '';
    }
    this.receiptsName = name;
    this.child = fork(WORKER_ENTRY, [], { serialization: 'advanced', execArgv: [...execArgv] });
    const pid = this.child.pid;
    const start = pid === undefined ? undefined : processStartTime(pid);
    this.owner = pid !== undefined && start !== undefined ? { pid, start } : undefined;
    this.child.on('message', (message: FromWorker) => events.message(this, message));
    const ended = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.state === 'dead') return;
      this.receiptsMapped();
      const previous = this.state;
      this.state = 'dead';
      events.exit(this, code, signal, previous);
      if (this.#receipts !== undefined) native.release(this.#receipts.buffer as ArrayBuffer);
    };
    this.child.on('exit', ended);
    // A process that could not be spawned (no pid: EMFILE, EAGAIN...) emits 'error' and no 'exit'.
    this.child.on('error', () => {
      if (this.child.pid === undefined || this.child.exitCode !== null) ended(this.child.exitCode, null);
    });
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

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  sendControl(control: SegmentControl): void {
    this.send({ type: 'segments', control });
  }

  /** Asks the worker to exit once it is idle; it exits at once if it already is. */
  retire(): void {
    if (this.state === 'dead' || this.state === 'exiting') return;
    this.state = 'exiting';
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies ToWorker);
    else this.child.kill('SIGKILL');
  }

  kill(): void {
    if (this.state !== 'dead') this.child.kill('SIGKILL');
  }

  /** Whether this worker keeps the parent's event loop alive. */
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
