// A worker that is a child process running src/worker/main.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WorkerCrashedError } from '../errors.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { processStartTime, type SegmentOwner } from '../shm/segment-names.js';
import type { SegmentStore } from '../shm/segment-store.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { CHANNEL_STDIO, FROM_WORKER_FD, TO_WORKER_FD } from './channel-fds.js';
import { FrameInput, readFramesFrom } from './frame-input.js';
import { FrameOutput } from './frames.js';
import { PoolWorker, type WorkerEvents, type WorkerKind } from './pool-worker.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { type WorkerAllocator, workerEnv } from './worker-env.js';

/** How long after a worker's exit its channel may take to close before the pool stops waiting. */
const CLOSE_AFTER_EXIT_MS = 1000;

export const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** One of the channel's pipes; a closed stand-in if the process could not be spawned (it has none). */
function pipe(child: ChildProcess, fd: number): Socket {
  const socket = child.stdio[fd] as Socket | null | undefined;
  return socket ?? new Socket().destroy();
}

/** Child processes: ProcessPoolExecutor. */
export const processWorkers: WorkerKind = {
  name: 'process',
  structuredClone: false,
  start: (execArgv, store, events, allocator) => new WorkerProcess(execArgv, store, events, allocator),
};

export class WorkerProcess<Item = unknown> extends PoolWorker<Item> {
  readonly child: ChildProcess;
  readonly owner: SegmentOwner | undefined;
  readonly structuredClone = false;
  #closeTimer: NodeJS.Timeout | undefined;
  /** The channel's pipes (see frames.ts); Node's IPC channel carries no message. */
  readonly #toWorker: Socket;
  readonly #fromWorker: Socket;
  readonly #output: FrameOutput;
  #held: boolean | undefined;

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
        stdio: CHANNEL_STDIO,
        env: workerEnv(allocator),
      });
    } catch (error) {
      this.discardReceipts();
      throw error;
    }
    const pid = this.child.pid;
    const start = pid === undefined ? undefined : processStartTime(pid);
    this.owner = pid !== undefined && start !== undefined ? { pid, start } : undefined;
    this.#toWorker = pipe(this.child, TO_WORKER_FD);
    this.#output = new FrameOutput(this.#toWorker);
    // Results are read into one buffer of the reader's own and decoded there (see FrameInput).
    const input = new FrameInput((message) => events.message(this, message as FromWorker));
    this.#fromWorker = readFramesFrom(pipe(this.child, FROM_WORKER_FD), input);
    // A write to a worker that has just died fails (EPIPE); a pipe a dead worker left unread is
    // reset (ECONNRESET). Its 'exit' and 'close' say what happened: the errors add nothing. A
    // pipe each way, so that an error while writing never closes the pipe results are read from.
    this.#toWorker.on('error', () => {});
    this.#fromWorker.on('error', () => {});
    // 'exit' may come before the last frames of the pipe are read: results the worker wrote just
    // before it ended may still be unread. 'close' comes once every stdio pipe is closed too
    // (read to its end, every frame emitted), so its tasks are classified only then.
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
    if (this.#output.writable && !this.exited) this.#output.write(message);
  }

  retire(): void {
    if (!this.retiring()) return;
    if (this.#output.writable) this.#output.write({ type: 'exit' });
    else this.child.kill('SIGKILL');
  }

  kill(): void {
    if (this.state !== 'dead') this.child.kill('SIGKILL');
  }

  hold(active: boolean): void {
    // Called after every message: the handles are touched only when it changes.
    if (this.state === 'dead' || active === this.#held) return;
    this.#held = active;
    if (active) {
      this.child.ref();
      this.child.channel?.ref();
      this.#toWorker.ref();
      this.#fromWorker.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
      this.#toWorker.unref();
      this.#fromWorker.unref();
    }
  }
}
