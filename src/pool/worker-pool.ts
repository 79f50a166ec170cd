// The engine behind ProcessPoolExecutor and ThreadPoolExecutor: a queue of
// work items and a set of workers of one kind (WorkerKind: processes or
// threads; the pool never asks which). One place owns every state change:
// items move from the queue to an idle worker and back out as a settled
// Future; a worker that dies fails only the item it was running and is
// replaced on demand. When queued items go is its Dispatcher's to decide
// (dispatcher.ts).
import { BrokenExecutorError } from '../errors.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { decode } from '../transfer/decode.js';
import type { Encoded } from '../transfer/encode.js';
import { releaseSnapshots } from '../transfer/own-view.js';
import { rebuildError } from '../transfer/remote-error.js';
import { Dispatcher, withSource } from './dispatcher.js';
import { countPool, type PoolStats } from './pool-stats.js';
import type { PoolWorker, WorkerEvents, WorkerKind, WorkerState } from './pool-worker.js';
import type { FromWorker, TaskOutcome, TaskRef, WorkerConfig } from './protocol.js';
import { SpaceReclaim } from './reclaim.js';
import { watchLimits } from './task-limits.js';
import type { WorkItem } from './work-item.js';
import { classifyUnanswered, failUnanswered, type Unanswered } from './worker-death.js';
import type { WorkerAllocator } from './worker-env.js';

export type { PoolStats } from './pool-stats.js';
export type { TaskLimits } from './task-limits.js';
export type { WorkItem } from './work-item.js';

export interface PoolOptions {
  /** Child processes, or threads of this process. */
  kind: WorkerKind;
  maxWorkers: number;
  maxTasksPerChild: number | undefined;
  execArgv: readonly string[];
  /** How a worker process's C allocator is set up (threads have their process's). */
  allocator: WorkerAllocator;
  /** What every worker gets; each one's receipts segment is added per worker. */
  config: Omit<WorkerConfig, 'receipts'>;
  book: SegmentBook;
  initializer: TaskRef | undefined;
  /** Encoded inline (no segments): every worker decodes the same bytes. */
  initargs: Encoded | undefined;
}

type Worker = PoolWorker<WorkItem>;

/** Pools not yet closed; one 'exit' listener for all of them. */
const livePools = new Set<WorkerPool>();
process.on('exit', () => {
  for (const pool of livePools) pool.killWorkers();
});

/**
 * Microtasks are queued on it rather than with queueMicrotask(), which makes
 * an AsyncResource for each: a sequence of tiny tasks queues one per task.
 */
const settled = Promise.resolve();

/** Consecutive workers that die before they are ready, before the pool gives up. */
const MAX_STARTUP_FAILURES = 3;

/** Microtasks an idle pool waits before it lets its workers go (see #holdWorkers): an awaited Future's continuation runs 2 after it settles. */
const LET_GO_HOPS = 3;

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #queue: WorkItem[] = [];
  readonly #workers = new Set<Worker>();
  #broken: Error | undefined;
  #closing = false;
  #startupFailures = 0;
  #pumpScheduled = false;
  readonly #dispatcher: Dispatcher;
  readonly #pumpNow = () => {
    this.#pumpScheduled = false;
    this.#dispatcher.turnEnded();
    this.#pump();
  };
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;
  readonly #createdAt = performance.now();
  /** Busy time (see PoolWorker.busyMs) of the workers that have exited. */
  #pastBusyMs = 0;
  readonly #reclaim: SpaceReclaim;
  constructor(options: PoolOptions) {
    this.#options = options;
    this.#reclaim = new SpaceReclaim(options.book);
    this.#dispatcher = new Dispatcher(
      this.#queue,
      this.#workers,
      options.book,
      options.maxTasksPerChild,
      () => this.#pump(),
    );
    livePools.add(this);
  }

  /** At process exit: workers must not outlive their parent, nor their segments. */
  killWorkers(): void {
    for (const worker of this.#workers) {
      worker.kill();
      worker.receiptsMapped(); // a worker still starting has not mapped it yet: its name goes now
      if (worker.owner !== undefined) removeSegmentsOf(worker.owner, this.#options.book.store);
    }
  }

  /** Why the pool cannot run tasks any more, if it cannot. */
  get broken(): Error | undefined {
    return this.#broken;
  }

  enqueue(item: WorkItem): void {
    if (item.limits !== undefined) {
      watchLimits(item, item.limits, (queued) => {
        // Started once, then put back after its worker died: not in any worker now.
        const at = this.#queue.indexOf(queued);
        if (at < 0) return;
        this.#queue.splice(at, 1);
        this.#options.book.free(queued.args.leases);
        this.#pump();
      });
    }
    this.#queue.push(item);
    if (item.args.leases.length > 0 && this.#queue.length === 1) this.#dispatcher.dispatchEarly();
    // Tasks submitted in one go (a loop of submit(), map) are dispatched together, several to a message.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      void settled.then(this.#pumpNow);
    }
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

  /** The pool's part of ExecutorStats: its workers and the tasks it holds now, and its busy time. */
  stats(): PoolStats {
    const { maxWorkers } = this.#options;
    return countPool(this.#workers, this.#queue.length, this.#pastBusyMs, this.#createdAt, maxWorkers);
  }

  /** Items still queued, oldest first. */
  queued(): readonly WorkItem[] {
    return this.#queue;
  }

  #pump(): void {
    this.#dispatcher.dispatch();
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
    this.#holdWorkers();
  }

  /**
   * Idle workers must not keep the parent alive; a closing pool waits for its
   * workers' exit. They are held at once, and let go a few microtasks later
   * (LET_GO_HOPS), if the pool is still idle then: a caller that awaits each
   * task and submits the next one does so in those microtasks, so its workers
   * are not let go and held again for every task (four handles each way),
   * and the event loop, which runs only once the microtasks are done, never
   * sees them held while idle. Unref and ref again cost less than an
   * immediate that waited for the next turn (and the extra pass of the event
   * loop it made): the parent's CPU per sequential round trip 22.0 -> 20.1 µs
   * (tiny-cpu.mjs --latency); letting go after the microtasks, 14.0 -> 13.8.
   */
  #holdWorkers(): void {
    if (this.#active()) {
      for (const worker of this.#workers) worker.hold(true);
      return;
    }
    if (this.#letGoIn > 0) return;
    this.#letGoIn = LET_GO_HOPS;
    void settled.then(this.#letGo);
  }

  /** Microtasks left before idle workers are let go; 0: none planned. */
  #letGoIn = 0;
  readonly #letGo = (): void => {
    if (--this.#letGoIn > 0) {
      void settled.then(this.#letGo);
      return;
    }
    const active = this.#active();
    for (const worker of this.#workers) worker.hold(active);
  };

  #active(): boolean {
    if (this.#queue.length > 0 || this.#closing) return true;
    for (const worker of this.#workers) if (worker.state === 'busy') return true;
    return false;
  }

  #spawn(): void {
    const events: WorkerEvents = {
      message: (w, message) => this.#onMessage(w as Worker, message),
      exit: (w, code, signal, previous) => this.#onExit(w as Worker, code, signal, previous),
    };
    const { kind, execArgv, allocator, book } = this.#options;
    let worker: Worker;
    try {
      worker = kind.start<WorkItem>(execArgv, book.store, events, allocator);
    } catch (error) {
      // new Worker() refuses options it does not accept (ERR_WORKER_INVALID_EXEC_ARGV), for one.
      this.#breakPool(
        new BrokenExecutorError(`could not start a worker: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        }),
      );
      return;
    }
    this.#workers.add(worker);
    worker.joinBook(book);
    const { initializer, initargs, config } = this.#options;
    worker.send({
      type: 'init',
      config: { ...config, receipts: worker.receiptsName },
      ...(initializer === undefined ? {} : { initializer: withSource(worker, initializer) }),
      ...(initargs === undefined ? {} : { initargs }),
    });
  }

  #onMessage(worker: Worker, message: FromWorker): void {
    // Nothing comes after a process's 'close', unless its channel outlived it (see WorkerProcess):
    // its holds were settled in #onExit, and its outcomes counted as lost or failed.
    if (worker.state === 'dead') return;
    switch (message.type) {
      case 'segments':
        this.#options.book.onControl(message.control, worker);
        return;
      case 'fatal':
        worker.fatalError = rebuildError(message.error);
        return;
      case 'reclaim':
        this.#reclaim.request(worker, message.id, this.#workers);
        return;
      case 'reclaimed':
        this.#reclaim.answered(worker, message.id);
        return;
      case 'ready':
        worker.receiptsMapped();
        this.#startupFailures = 0;
        worker.started();
        break;
      case 'init-failed':
        this.#breakPool(
          new BrokenExecutorError(
            `the initializer failed in ${worker.label}; the executor cannot run tasks`,
            { cause: rebuildError(message.error) },
          ),
        );
        return;
      case 'results':
        for (const outcome of message.outcomes) this.#settle(worker, outcome);
        if (
          this.#options.maxTasksPerChild !== undefined &&
          worker.tasksRun >= this.#options.maxTasksPerChild
        ) {
          if (worker.inflight.length === 0) worker.retire();
        }
        break;
    }
    this.#pump();
  }

  #settle(worker: Worker, outcome: TaskOutcome): void {
    // A loop, not findIndex(): no closure per result.
    const inflight = worker.inflight;
    let at = 0;
    while (at < inflight.length && inflight[at]!.id !== outcome.id) at++;
    const item = worker.finish(at < inflight.length ? at : -1);
    if (item === undefined) return;
    // Its arguments will never be sent again: their snapshots' memory serves later tasks.
    releaseSnapshots(item.args);
    this.#options.book.answered(worker, item.id);
    item.worker = undefined;
    worker.tasksRun++;
    // Service time: from the later of sending and the previous result, to this result.
    const now = performance.now();
    const took = now - Math.max(item.sentAt ?? now, worker.lastResultAt);
    worker.lastResultAt = now;
    this.#dispatcher.measured(took);
    if (!outcome.ok) {
      item.control.reject(rebuildError(outcome.error));
      return;
    }
    let value: unknown;
    try {
      value = decode(outcome.result, this.#options.book, worker, outcome.leases, worker.structuredClone);
    } catch (error) {
      item.control.reject(error);
      return;
    }
    item.control.resolve(value);
    if (outcome.leases.length > 0) this.#dispatcher.resultMapped();
  }

  // --- a worker died: its steps, in order ---

  #onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null, previous: WorkerState): void {
    this.#forget(worker);
    // Every outcome it sent has been settled (a process's 'close' comes after its last message).
    const items = worker.takeAll();
    for (const item of items) item.worker = undefined;
    const fates = classifyUnanswered(items, worker.progress(), worker.tasksRun);
    // Those already settled (aborted, timed out) are not run again.
    const requeued = fates.notStarted.filter((item) => !item.future.done());
    this.#rollBackHolds(worker, fates, requeued);
    this.#requeue(requeued);
    failUnanswered(fates, (when) => worker.crashError(code, signal, when));
    if (
      fates.crashed === undefined &&
      previous === 'starting' &&
      this.#countStartupFailure(worker, code, signal)
    )
      return; // broken: #breakPool has pumped
    this.#pump();
  }

  /** It is no longer one of the pool's workers; its segments go (see PoolWorker.leaveBook). */
  #forget(worker: Worker): void {
    this.#workers.delete(worker);
    this.#reclaim.workerGone(worker);
    this.#dispatcher.workerGone(worker);
    worker.leaveBook(this.#options.book);
    this.#pastBusyMs += worker.busyMs(performance.now());
  }

  /**
   * The one place a dead worker's holds are rolled back: it will never free
   * those it had; the leases of tasks that go back to the queue stay held
   * for their next worker; the holds it took for results it lost go too.
   */
  #rollBackHolds(worker: Worker, fates: Unanswered<WorkItem>, requeued: WorkItem[]): void {
    const { lost, unknown, crashed } = fates;
    this.#options.book.workerGone(
      worker,
      requeued.map((item) => item.args.leases),
      [...lost, ...unknown, ...(crashed ? [crashed] : [])].map((item) => item.id),
    );
  }

  /** Tasks it never started run elsewhere, first; a broken pool fails them instead. */
  #requeue(requeued: WorkItem[]): void {
    for (const item of requeued) item.stopTimer?.();
    if (this.#broken === undefined) {
      this.#queue.unshift(...requeued);
      return;
    }
    for (const item of requeued) {
      this.#options.book.free(item.args.leases);
      item.control.reject(this.#broken);
    }
  }

  /** A worker died before it was ready: after MAX_STARTUP_FAILURES in a row, the pool breaks (true). */
  #countStartupFailure(worker: Worker, code: number | null, signal: NodeJS.Signals | null): boolean {
    if (this.#broken !== undefined || ++this.#startupFailures < MAX_STARTUP_FAILURES) return false;
    this.#breakPool(
      new BrokenExecutorError(
        `${MAX_STARTUP_FAILURES} workers in a row died while starting (last: ${worker.label}, ${signal ?? `exit code ${code}`})`,
        worker.fatalError === undefined ? undefined : { cause: worker.fatalError },
      ),
    );
    return true;
  }

  #breakPool(error: Error): void {
    if (this.#broken !== undefined) return;
    this.#broken = error;
    for (const item of this.#queue.splice(0)) {
      this.#options.book.free(item.args.leases);
      if (item.started || item.control.start()) item.control.reject(error);
    }
    for (const worker of this.#workers) {
      if (worker.inflight.length === 0) worker.kill();
    }
    this.#pump();
  }

  #finishClose(): void {
    livePools.delete(this);
    this.#closed?.resolve();
  }
}
