// The engine behind ProcessPoolExecutor and ThreadPoolExecutor: a queue of
// work items and a set of workers of one kind (WorkerKind: processes or
// threads; the pool never asks which). One place owns every state change:
// items move from the queue to an idle worker and back out as a settled
// Future; a worker that dies fails only the item it was running and is
// replaced on demand.
import { BrokenExecutorError } from '../errors.js';
import type { Future, FutureControl } from '../future.js';
import { CollectionPolicy, type GiveBack } from '../shm/collect.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { removeSegmentsOf } from '../shm/sweep.js';
import { decode } from '../transfer/decode.js';
import type { Encoded, Payload } from '../transfer/encode.js';
import { releaseSnapshots } from '../transfer/own-view.js';
import { rebuildError } from '../transfer/remote-error.js';
import { BURST_DEPTH_MS, PARENT_COLLECTION, QUICK_TASK_MS } from '../tuning.js';
import { planDispatch } from './dispatch.js';
import { countPool, type PoolStats } from './pool-stats.js';
import type { PoolWorker, WorkerEvents, WorkerKind, WorkerState } from './pool-worker.js';
import type { FromWorker, TaskMessage, TaskOutcome, TaskRef, WorkerConfig } from './protocol.js';
import { SpaceReclaim } from './reclaim.js';
import { type TaskLimits, watchLimits } from './task-limits.js';
import { classifyUnanswered, failUnanswered, type Unanswered } from './worker-death.js';
import type { WorkerAllocator } from './worker-env.js';

export type { PoolStats } from './pool-stats.js';
export type { TaskLimits } from './task-limits.js';

export interface WorkItem {
  id: number;
  task: TaskRef;
  args: Payload;
  chunk: boolean;
  control: FutureControl<unknown>;
  future: Future<unknown>;
  /** The parent copies more arguments as it ends (map's window, over maxQueuedBytes): see TaskMessage.giveBack. */
  copiesFollow?: boolean;
  /** The Future was moved to running (it may go back to the queue if its worker died before taking it). */
  started?: boolean;
  sentAt?: number;
  /** How the task may be stopped while it runs; such a task runs alone in its worker. */
  limits?: TaskLimits;
  /** The worker it was sent to, while it is there. */
  worker?: Worker;
  /** Starts the timeout clock, when a worker takes the task. */
  startTimer?: () => void;
  /** Stops it, when the task goes back to the queue (its worker died before starting it). */
  stopTimer?: () => void;
  /**
   * Called as a worker takes it: the item leaves the queued-bytes budget,
   * and a task over it copies its arguments now (false: that failed, and its Future is rejected).
   */
  prepare?: () => boolean;
}

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

/** Collections that give back the segments of results dropped without release() (see tuning.ts). */
const parentCollection = new CollectionPolicy(PARENT_COLLECTION);

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
  /** Dispatch waits for the parent's pending collection (#waitForCollection). */
  #awaitingCollection = false;
  /** Workers sent a task of the current burst of submits (see #dispatchEarly). */
  readonly #burst = new Set<Worker>();
  readonly #pumpNow = () => {
    this.#pumpScheduled = false;
    this.#burst.clear();
    this.#pump();
  };
  /** Moving average of how long a task takes in a worker, in ms (starts high: no prefetch until measured). */
  #taskMs = 1000;
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;
  readonly #createdAt = performance.now();
  /** Busy time (see PoolWorker.busyMs) of the workers that have exited. */
  #pastBusyMs = 0;
  readonly #reclaim: SpaceReclaim;
  constructor(options: PoolOptions) {
    this.#options = options;
    this.#reclaim = new SpaceReclaim(options.book);
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
      });
    }
    this.#queue.push(item);
    if (item.args.leases.length > 0 && this.#queue.length === 1) this.#dispatchEarly();
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
    this.#dispatch();
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

  /**
   * A task whose arguments are in segments, submitted to an empty queue, goes to a worker at once:
   * in a loop of submits of large heap arrays, the worker runs it while the caller copies the next
   * ones (16 strips of 4 MB were all copied, 25 ms here, before the first one was sent). A worker
   * that took a task of this burst may take a second one while tasks are short (BURST_DEPTH_MS):
   * it would finish the first before the loop ends, and wait, idle, for this process to answer.
   */
  #dispatchEarly(): void {
    // Quick tasks are not: they go several to a message, on the pump's microtask.
    const deep = this.#taskMs >= QUICK_TASK_MS && this.#taskMs < BURST_DEPTH_MS;
    const takers: Worker[] = [];
    for (const worker of this.#workers)
      if (worker.inflight.length === 0 || (deep && this.#burst.has(worker))) takers.push(worker);
    if (takers.length === 0 || this.#waitForCollection()) return;
    const limits = {
      taskMs: this.#taskMs,
      maxTasksPerChild: this.#options.maxTasksPerChild,
      depth: deep ? 2 : 1,
    };
    for (const [worker, items] of planDispatch(this.#queue, takers, limits, this.#start)) {
      this.#burst.add(worker);
      this.#send(worker, items);
    }
  }

  /** Hands queued items to workers (see dispatch.ts). */
  #dispatch(): void {
    if (this.#queue.length === 0 || this.#waitForCollection()) return;
    const limits = { taskMs: this.#taskMs, maxTasksPerChild: this.#options.maxTasksPerChild };
    const batches = planDispatch(this.#queue, this.#workers, limits, this.#start);
    for (const [worker, items] of batches) this.#send(worker, items);
  }

  /** An item leaves the queue for a worker: false if it was cancelled meanwhile (drop() freed it). */
  readonly #start = (item: WorkItem): boolean => {
    if (!item.started && !item.control.start()) return false;
    item.started = true;
    return item.prepare?.() ?? true;
  };

  /**
   * True while tasks wait for a pending collection of dropped results (see
   * PARENT_COLLECTION): a loop that drops each large result and submits the
   * next call would otherwise have its worker make the next result in a new
   * segment while the last one, dead, still holds its own. Sent after the
   * collection, behind the frees it led to, the task finds that segment free.
   */
  #waitForCollection(): boolean {
    if (this.#awaitingCollection) return true;
    const waiting = parentCollection.whenCollected(() => {
      this.#awaitingCollection = false;
      this.#options.book.flushFrees();
      this.#pump();
    });
    this.#awaitingCollection = waiting;
    return waiting;
  }

  #send(worker: Worker, items: WorkItem[]): void {
    const now = performance.now();
    // A loop, not items.map(): map's array changes its elements kind once map is optimised,
    // which deoptimised every function the message went through.
    const tasks: TaskMessage[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      item.sentAt = now;
      item.worker = worker;
      item.startTimer?.();
      worker.take(item);
      this.#options.book.lentTo(worker, item.args.leases);
      tasks.push({
        id: item.id,
        task: this.#withSource(worker, item.task),
        args: item.args.data,
        leases: item.args.leases,
        chunk: item.chunk,
        giveBack: this.#giveBack(item),
      });
    }
    worker.send({ type: 'run', tasks });
  }

  /**
   * When the worker gives the item's copied arguments back (TaskMessage.giveBack): not while the
   * next queued task has its arguments in segments already (a burst copied at submit, which
   * waits for none: 16 image strips spent as long collecting as working), else after its outcome.
   * A string, not an object, per task: tiny tasks pay for every allocation.
   */
  #giveBack(item: WorkItem): GiveBack | undefined {
    if (item.copiesFollow) return 'now';
    // Not #queue[0] of an empty queue: a read out of bounds deoptimises.
    if (this.#queue.length > 0 && this.#queue[0]!.args.leases.length > 0) return undefined;
    return 'after';
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
    this.#taskMs = this.#taskMs * 0.8 + took * 0.2;
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
    if (outcome.leases.length > 0)
      parentCollection.note(this.#options.book.bytesTracked, this.#options.book.copyOnWriteBytesTracked);
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
