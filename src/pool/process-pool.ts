// The engine behind ProcessPoolExecutor: a queue of work items and a set of
// worker processes. One place owns every state change: items move from the
// queue to an idle worker and back out as a settled Future; a worker that
// dies fails only the item it was running and is replaced on demand.
import { BrokenExecutorError, WorkerCrashedError } from '../errors.js';
import type { Future, FutureControl } from '../future.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { decode } from '../transfer/decode.js';
import type { Payload } from '../transfer/encode.js';
import { rebuildError } from '../transfer/remote-error.js';
import type { FromWorker, TaskRef, WorkerConfig } from './protocol.js';
import { WorkerProcess, type WorkerState } from './worker-process.js';

export interface WorkItem {
  id: number;
  task: TaskRef;
  args: Payload;
  chunk: boolean;
  control: FutureControl<unknown>;
  future: Future<unknown>;
  /** The Future was moved to running (it may go back to the queue if its worker died before taking it). */
  started?: boolean;
}

export interface PoolOptions {
  maxWorkers: number;
  maxTasksPerChild: number | undefined;
  execArgv: readonly string[];
  config: WorkerConfig;
  book: SegmentBook;
  initializer: TaskRef | undefined;
  /** Encoded inline (no segments): every worker decodes the same bytes. */
  initargs: Uint8Array | undefined;
}

type Worker = WorkerProcess<WorkItem>;

/** Pools not yet closed; one 'exit' listener for all of them. */
const livePools = new Set<ProcessPool>();
process.on('exit', () => {
  for (const pool of livePools) pool.killWorkers();
});

/** Consecutive workers that die before they are ready, before the pool gives up. */
const MAX_STARTUP_FAILURES = 3;

export class ProcessPool {
  readonly #options: PoolOptions;
  readonly #queue: WorkItem[] = [];
  readonly #workers = new Set<Worker>();
  #broken: Error | undefined;
  #closing = false;
  #startupFailures = 0;
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;
  constructor(options: PoolOptions) {
    this.#options = options;
    livePools.add(this);
  }

  /** At process exit: workers must not outlive their parent, nor their segments. */
  killWorkers(): void {
    for (const worker of this.#workers) {
      worker.kill();
      if (worker.owner !== undefined) removeSegmentsOf(worker.owner, this.#options.book.store);
    }
  }

  /** Why the pool cannot run tasks any more, if it cannot. */
  get broken(): Error | undefined {
    return this.#broken;
  }

  enqueue(item: WorkItem): void {
    this.#queue.push(item);
    this.#pump();
  }

  /** A queued item was cancelled: drop it and free its argument segments. */
  drop(item: WorkItem): void {
    const at = this.#queue.indexOf(item);
    if (at >= 0) this.#queue.splice(at, 1);
    this.#options.book.free(item.args.leases);
    this.#pump();
  }

  /** Stops taking work; resolves when the queue has drained and every worker has exited. */
  close(): Promise<void> {
    this.#closing = true;
    if (this.#closed === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#closed = { promise, resolve };
    }
    this.#pump();
    return this.#closed.promise;
  }

  /** Items still queued, oldest first. */
  queued(): readonly WorkItem[] {
    return this.#queue;
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const worker = this.#idleWorker();
      if (worker === undefined) break;
      const item = this.#queue.shift()!;
      // false: cancelled meanwhile; drop() already freed it.
      if (item.started || item.control.start()) {
        item.started = true;
        this.#dispatch(worker, item);
      }
    }
    let starting = 0;
    for (const worker of this.#workers) if (worker.state === 'starting') starting++;
    while (
      this.#broken === undefined &&
      this.#queue.length > starting &&
      this.#workers.size < this.#options.maxWorkers
    ) {
      this.#spawn();
      starting++;
    }
    if (this.#closing && this.#queue.length === 0) {
      for (const worker of this.#workers)
        if (worker.state === 'idle' || worker.state === 'starting') worker.retire();
      if (this.#workers.size === 0) this.#finishClose();
    }
    // Idle workers must not keep the parent alive; a closing pool waits for its workers' exit.
    const active =
      this.#queue.length > 0 || this.#closing || [...this.#workers].some((w) => w.state === 'busy');
    for (const worker of this.#workers) worker.hold(active);
  }

  #idleWorker(): Worker | undefined {
    for (const worker of this.#workers) if (worker.state === 'idle') return worker;
    return undefined;
  }

  #spawn(): void {
    const worker: Worker = new WorkerProcess<WorkItem>(this.#options.execArgv, {
      message: (w, message) => this.#onMessage(w as Worker, message),
      exit: (w, code, signal, previous) => this.#onExit(w as Worker, code, signal, previous),
    });
    this.#workers.add(worker);
    this.#options.book.addPeer(worker);
    const { initializer, initargs, config } = this.#options;
    worker.send({
      type: 'init',
      config,
      ...(initializer === undefined ? {} : { initializer: this.#withSource(worker, initializer) }),
      ...(initargs === undefined ? {} : { initargs }),
    });
  }

  /** A source TaskRef carries its source only the first time a worker sees it. */
  #withSource(worker: Worker, task: TaskRef): TaskRef {
    if (task.kind !== 'source') return task;
    if (worker.knownSources.has(task.id)) return { kind: 'source', id: task.id, name: task.name };
    worker.knownSources.add(task.id);
    return task;
  }

  #dispatch(worker: Worker, item: WorkItem): void {
    worker.state = 'busy';
    worker.current = item;
    worker.acknowledged = false;
    for (const name of item.args.leases) worker.holds.set(name, (worker.holds.get(name) ?? 0) + 1);
    worker.send({
      type: 'run',
      id: item.id,
      task: this.#withSource(worker, item.task),
      args: item.args.bytes,
      leases: item.args.leases,
      chunk: item.chunk,
    });
  }

  #onMessage(worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case 'started':
        if (worker.current?.id === message.id) worker.acknowledged = true;
        return;
      case 'segments': {
        if (message.control.type === 'free') {
          for (const name of message.control.names) {
            const held = worker.holds.get(name) ?? 0;
            if (held <= 1) worker.holds.delete(name);
            else worker.holds.set(name, held - 1);
          }
        }
        this.#options.book.onControl(message.control);
        return;
      }
      case 'ready':
        this.#startupFailures = 0;
        if (worker.state === 'starting') worker.state = 'idle';
        break;
      case 'init-failed':
        this.#breakPool(
          new BrokenExecutorError(
            `the initializer failed in worker process ${worker.pid}; the executor cannot run tasks`,
            {
              cause: rebuildError(message.error),
            },
          ),
        );
        return;
      case 'done':
      case 'failed': {
        const item = worker.current;
        if (item === undefined || item.id !== message.id) return;
        worker.current = undefined;
        worker.tasksRun++;
        worker.state = 'idle';
        if (message.type === 'done') this.#settleDone(worker, item, message.result, message.leases);
        else item.control.reject(rebuildError(message.error));
        const limit = this.#options.maxTasksPerChild;
        if (limit !== undefined && worker.tasksRun >= limit) worker.retire();
        break;
      }
    }
    this.#pump();
  }

  #settleDone(worker: Worker, item: WorkItem, result: Uint8Array, leases: string[]): void {
    let value: unknown;
    try {
      value = decode(result, this.#options.book, worker, leases);
    } catch (error) {
      item.control.reject(error);
      return;
    }
    item.control.resolve(value);
  }

  #onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null, previous: WorkerState): void {
    const wasStarting = previous === 'starting';
    this.#workers.delete(worker);
    // Whatever the worker created and nobody mapped yet (a half-sent result, say).
    const { book } = this.#options;
    book.removePeer(worker);
    if (worker.owner !== undefined) removeSegmentsOf(worker.owner, book.store);
    const item = worker.current;
    worker.current = undefined;
    const requeue = item !== undefined && !worker.acknowledged && this.#broken === undefined;
    if (requeue) {
      // Its argument holds go with it to the next worker.
      for (const name of item.args.leases) worker.holds.set(name, (worker.holds.get(name) ?? 1) - 1);
    }
    // What it held of other processes' segments, it will never free.
    for (const [name, count] of worker.holds) for (let i = 0; i < count; i++) book.free([name]);
    worker.holds.clear();
    if (requeue) {
      // It died before it took the task (killed while idle, say): the task never ran, so it runs elsewhere.
      this.#queue.unshift(item);
    } else if (item !== undefined) {
      item.control.reject(new WorkerCrashedError(worker.pid, code, signal));
    } else if (wasStarting && !this.#closing && this.#broken === undefined) {
      if (++this.#startupFailures >= MAX_STARTUP_FAILURES) {
        this.#breakPool(
          new BrokenExecutorError(
            `${MAX_STARTUP_FAILURES} worker processes in a row died while starting (last: ${signal ?? `exit code ${code}`})`,
          ),
        );
        return;
      }
    }
    this.#pump();
  }

  #breakPool(error: Error): void {
    if (this.#broken !== undefined) return;
    this.#broken = error;
    for (const item of this.#queue.splice(0)) {
      this.#options.book.free(item.args.leases);
      if (item.control.start()) item.control.reject(error);
    }
    for (const worker of this.#workers) {
      if (worker.current === undefined) worker.kill();
    }
    this.#pump();
  }

  #finishClose(): void {
    livePools.delete(this);
    this.#closed?.resolve();
  }
}
