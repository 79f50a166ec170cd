// ProcessPoolExecutor: the facade users see. Its options are resolved by
// resolve-options.ts and set up by executor-setup.ts; it encodes arguments
// (arrays into shared memory) at submit time, within the queued-bytes
// budget (pool/queued-bytes.ts), and hands work to the pool.
import { availableParallelism } from 'node:os';
import { AbortError, BrokenExecutorError, ShutdownError } from './errors.js';
import type { ExecutorOptions, ShutdownOptions, TaskOptions } from './executor-options.js';
import { setUpExecutor } from './executor-setup.js';
import { Future, type FutureControl, type FutureOptions, kControl } from './future.js';
import { type MapInputs, type MapIterator, type MapOptions, mapTasks, splitMapArguments } from './map.js';
import type { WorkerKind } from './pool/pool-worker.js';
import type { TaskRef } from './pool/protocol.js';
import { defaultQueuedBytes, QueuedBytes, queuedBytesOf } from './pool/queued-bytes.js';
import { type TaskLimits, WorkerPool, type WorkItem } from './pool/worker-pool.js';
import { processWorkers } from './pool/worker-process.js';
import { threadWorkers } from './pool/worker-thread.js';
import { processExiting } from './process-exit.js';
import { resolveOptions } from './resolve-options.js';
import type { SegmentBook } from './shm/segment-book.js';
import { defaultShmDir } from './shm/segment-store.js';
import { type ExecutorStats, TaskTally } from './stats.js';
import { type ModuleFunction, TaskRefs } from './task-ref.js';
import { limitedRunner, type ModuleTasks, type TaskRunner } from './task-runner.js';
import { type EncodeOptions, encode, type Payload } from './transfer/encode.js';
import { GIVE_BACK_NOW_BYTES } from './tuning.js';

export type { ModuleTasks, TaskRunner } from './task-runner.js';

type AnyFunction = (...args: any[]) => any;

/** The arguments of a task over the queued-bytes budget until a worker takes it: nothing held. */
const NOT_COPIED: Payload = Object.freeze({ data: Object.freeze({ raw: undefined }), leases: [] });

/** The setup of a Future whose control is read from it afterwards (future[kControl]). */
const noSetup = (): void => {};

/**
 * A submitted Future's options, holding its work item: one object per task,
 * no closure (a tiny task's parent cost is mostly allocation).
 */
class SubmitHooks implements FutureOptions {
  readonly tally: TaskTally;
  readonly reportAs: TaskRef | undefined;
  readonly #pool: WorkerPool;
  item: WorkItem | undefined;

  constructor(pool: WorkerPool, tally: TaskTally, reportAs: TaskRef | undefined) {
    this.#pool = pool;
    this.tally = tally;
    this.reportAs = reportAs;
  }

  onCancel(): void {
    if (this.item !== undefined) this.#pool.drop(this.item);
  }
}

/**
 * A submitted task until its Future settles. A class, with every field set by its constructor in
 * one order: items of every kind have one shape, so the pool's functions that read them stay
 * optimised (fields added to some items later gave them several); and, unlike an object literal,
 * it has no allocation site whose tenuring decision, made by the collector during a burst of tasks,
 * would throw away the optimised code of submit.
 */
class QueuedItem implements WorkItem {
  started = false;
  sentAt: number | undefined = undefined;
  limits: TaskLimits | undefined = undefined;
  worker: WorkItem['worker'] = undefined;
  startTimer: (() => void) | undefined = undefined;
  stopTimer: (() => void) | undefined = undefined;
  prepare: (() => boolean) | undefined = undefined;

  constructor(
    readonly id: number,
    readonly task: TaskRef,
    public args: Payload,
    readonly chunk: boolean,
    readonly control: FutureControl<unknown>,
    readonly future: Future<unknown>,
    readonly copiesFollow: boolean,
  ) {}
}

/**
 * What ProcessPoolExecutor and ThreadPoolExecutor share: everything but the
 * kind of worker. Not constructed directly.
 */
export abstract class PoolExecutor implements AsyncDisposable, TaskRunner {
  readonly #pool: WorkerPool;
  readonly #book: SegmentBook;
  readonly #threshold: number;
  readonly #tasks = new TaskRefs();
  /** Functions of module proxies, so they can be passed to submit() and map() as tasks. */
  readonly #maxWorkers: number;
  readonly #shmDir: string;
  readonly #tally = new TaskTally();
  readonly #reportUnobserved: boolean;
  readonly #queuedBytes: QueuedBytes;
  #nextId = 1;
  #shutdown = false;
  /** What encode() is given for an argument list, and for a chunk's lists: the same every task. */
  readonly #encodeArgs: EncodeOptions;
  readonly #encodeChunk: EncodeOptions;

  protected constructor(options: ExecutorOptions, kind: WorkerKind) {
    const env = {
      execArgv: process.execArgv,
      availableParallelism: availableParallelism(),
      defaultShmDir: defaultShmDir(),
    };
    const resolved = resolveOptions(options, kind.name, env);
    const setup = setUpExecutor(resolved, kind.structuredClone, this.#tasks.functions, env.defaultShmDir);
    this.#maxWorkers = resolved.maxWorkers;
    this.#threshold = resolved.threshold;
    this.#reportUnobserved = resolved.reportUnobserved;
    this.#shmDir = setup.shmDir;
    this.#book = setup.book;
    const encodeOptions = {
      book: setup.book,
      threshold: resolved.threshold,
      structuredClone: kind.structuredClone,
    };
    this.#encodeArgs = { ...encodeOptions, outerLevels: 1 };
    this.#encodeChunk = { ...encodeOptions, outerLevels: 2 };
    this.#queuedBytes = new QueuedBytes(resolved.maxQueuedBytes ?? defaultQueuedBytes(setup.shmDir));
    this.#pool = new WorkerPool({
      kind,
      maxWorkers: resolved.maxWorkers,
      maxTasksPerChild: resolved.maxTasksPerChild,
      execArgv: resolved.execArgv,
      allocator: resolved.workerAllocator,
      config: {
        shmDir: setup.shmDir,
        threshold: resolved.threshold,
        ...(resolved.workerAllocator === 'shared' ? { sharedArrays: true } : {}),
      },
      book: setup.book,
      initializer: setup.initializer,
      initargs: setup.initargs,
    });
  }

  /** The directory this executor's segments go to: `shmDir`, or `fallbackDir` if it was taken. */
  get shmDir(): string {
    return this.#shmDir;
  }

  /** The number of worker processes this executor runs at most. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  /** What the executor is doing now, and how its tasks have ended so far. */
  stats(): ExecutorStats {
    const pool = this.#pool.stats();
    const tally = this.#tally;
    return {
      workers: pool.workers,
      busyWorkers: pool.busyWorkers,
      idleWorkers: pool.idleWorkers,
      queuedTasks: pool.queuedTasks,
      runningTasks: pool.runningTasks,
      completedTasks: tally.completed,
      failedTasks: tally.failed,
      cancelledTasks: tally.cancelled,
      utilization: pool.utilization,
    };
  }

  #checkOpen(): void {
    const broken = this.#pool.broken;
    if (broken !== undefined) {
      throw new BrokenExecutorError(`the executor is broken and cannot run tasks: ${broken.message}`, {
        cause: broken,
      });
    }
    if (this.#shutdown) throw new ShutdownError();
    if (processExiting()) {
      throw new ShutdownError('cannot submit a task: the process is exiting, so no new task can run');
    }
  }

  #taskRef(task: unknown, where: string): TaskRef {
    return this.#tasks.refOf(task, where);
  }

  /** The most bytes the arguments of queued tasks hold in shared memory (maxQueuedBytes). */
  get maxQueuedBytes(): number {
    return this.#queuedBytes.limit;
  }

  /** Resolves once a task with these arguments would have them copied at submit (see maxQueuedBytes). */
  waitForRoom(...args: unknown[]): Promise<void> {
    this.#checkOpen();
    return this.#queuedBytes.whenRoom(this.#bytesOf(args));
  }

  /** Bytes of `args` that submit would copy into new segments (heap arrays at or above the threshold). */
  #copiedBytesOf(args: unknown): number {
    return queuedBytesOf(
      args as unknown[],
      this.#threshold,
      (buffer) => this.#book.infoOf(buffer) !== undefined,
    );
  }

  /** What `args` weigh against maxQueuedBytes (nothing when there is no budget). */
  #bytesOf(args: unknown): number {
    if (this.#queuedBytes.limit === Number.POSITIVE_INFINITY) return 0;
    return this.#copiedBytesOf(args);
  }

  /**
   * @internal submits an already-resolved task; `args` is the argument list (or, for a chunk, the
   * list of lists). `eager`: copy its arguments now whatever the budget (map bounds its own window).
   */
  submitRef(
    task: TaskRef,
    args: unknown,
    chunk: boolean,
    limits?: TaskLimits,
    eager = false,
  ): Future<unknown> {
    this.#checkOpen();
    if (limits?.signal?.aborted) {
      // Nothing to encode nor to run: cancelled at once, as an abort while queued would.
      return new Future<unknown>(
        (c) => {
          c.cancel(
            new AbortError('the task was aborted by its AbortSignal', { cause: limits.signal?.reason }),
          );
        },
        { tally: this.#tally },
      );
    }
    const hooks = new SubmitHooks(this.#pool, this.#tally, this.#reportUnobserved ? task : undefined);
    const future = new Future<unknown>(noSetup, hooks);
    const control = future[kControl];
    const bytes = this.#bytesOf(args);
    const now = eager || this.#queuedBytes.fits(bytes);
    let payload: Payload = NOT_COPIED;
    if (now) {
      try {
        payload = this.#encode(args, chunk);
      } catch (error) {
        control.start();
        control.reject(error);
        return future;
      }
    }
    // map copies its next element as one of its tasks ends, and a task over the budget is copied as
    // a worker takes it: either reuses the segment of a copy its worker gave back. Copies made at
    // submit have none to wait for, unless they are large: a loop that awaits each call copies the
    // next argument as soon as the result is in (GIVE_BACK_NOW_BYTES).
    const copiesFollow = eager || !now || bytes >= GIVE_BACK_NOW_BYTES;
    const stoppable = limits !== undefined && (limits.signal !== undefined || limits.timeout !== undefined);
    const item = new QueuedItem(this.#nextId++, task, payload, chunk, control, future, copiesFollow);
    if (stoppable) item.limits = limits;
    hooks.item = item;
    if (bytes > 0) this.#queuedBytes.admit(item, bytes, now ? undefined : () => this.#encode(args, chunk));
    this.#pool.enqueue(item);
    return future;
  }

  #encode(args: unknown, chunk: boolean): Payload {
    return encode(args, chunk ? this.#encodeChunk : this.#encodeArgs, chunk ? 'chunk' : 'args');
  }

  /**
   * Runs `fn(...args)` in a worker process. `fn` is a self-contained function
   * (sent as source), a function of a module proxy (see `module()`), or
   * `{ module, name }`. Arguments are copied at once (value semantics).
   */
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submit(fn: ModuleFunction, ...args: unknown[]): Future<unknown>;
  submit(fn: AnyFunction | ModuleFunction, ...args: unknown[]): Future<unknown> {
    return this.#submit(fn, args, undefined);
  }

  #submit(
    fn: AnyFunction | ModuleFunction,
    args: unknown[],
    limits: TaskLimits | undefined,
  ): Future<unknown> {
    this.#checkOpen();
    return this.submitRef(this.#taskRef(fn, 'submit'), args, false, limits);
  }

  /**
   * A typed proxy of a task module: `await ex.module<typeof import('./tasks.js')>(url).addOne(x)`.
   * `url` is a URL (new URL('./tasks.js', import.meta.url)), an absolute path or a package name.
   */
  module<M>(url: string | URL): ModuleTasks<M> {
    return this.#module<M>(url, undefined);
  }

  #module<M>(url: string | URL, limits: TaskLimits | undefined): ModuleTasks<M> {
    this.#checkOpen();
    return this.#tasks.moduleProxy<ModuleTasks<M>>(url, (ref, args) =>
      this.submitRef(ref, args, false, limits),
    );
  }

  /**
   * Like Array.prototype.map across processes: calls `fn` with one item of
   * each iterable at a time and yields the results in input order. Inputs are
   * read lazily, with a bounded number of tasks in flight. The last argument
   * may be `{ chunksize, timeout }`.
   */
  map<A extends unknown[], R>(fn: (...args: A) => R, ...iterables: MapInputs<A>): MapIterator<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterablesThenOptions: [...MapInputs<A>, MapOptions]
  ): MapIterator<Awaited<R>>;
  map(fn: AnyFunction | ModuleFunction, ...rest: unknown[]): MapIterator<unknown> {
    return this.#map(fn, rest, undefined);
  }

  #map(
    fn: AnyFunction | ModuleFunction,
    rest: unknown[],
    limits: TaskLimits | undefined,
  ): MapIterator<unknown> {
    this.#checkOpen();
    const task = this.#taskRef(fn, 'map');
    const { iterables, options } = splitMapArguments(rest);
    const submitter = {
      submitRef: (ref: TaskRef, args: unknown, chunk: boolean) =>
        this.submitRef(ref, args, chunk, limits, true),
      copies: (args: unknown) => this.#copiedBytesOf(args) > 0,
    };
    return mapTasks(submitter, task, iterables, options, this.#maxWorkers);
  }

  /**
   * This executor's submit, module and map, with per-task options: an
   * AbortSignal and a timeout that stop a running task by replacing its
   * worker process. `ex.withOptions({ timeout: 5000 }).submit(fn, x)`.
   * Such tasks run one at a time in a worker (never batched with others).
   */
  withOptions(options: TaskOptions): TaskRunner {
    return limitedRunner(options, (limits) => ({
      submit: (fn, ...args) => this.#submit(fn, args, limits),
      module: (url) => this.#module(url, limits),
      map: (fn, ...rest) => this.#map(fn, rest, limits),
    }));
  }

  /**
   * Stops accepting tasks. With `wait` (the default) resolves once queued and
   * running tasks have finished and every worker has exited; `cancelFutures`
   * cancels the tasks that have not started.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    this.#queuedBytes.releaseWaiters();
    if (cancelFutures) {
      for (const item of [...this.#pool.queued()]) item.future.cancel();
    }
    // Idle segments go back to the OS as soon as this executor is done with them.
    const closed = this.#pool.close().then(() => this.#book.trimIdle());
    if (wait) await closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

/**
 * Runs tasks in worker processes; arrays travel through shared memory both
 * ways. See README.md.
 */
export class ProcessPoolExecutor extends PoolExecutor {
  constructor(options: ExecutorOptions = {}) {
    super(options, processWorkers);
  }
}

/**
 * The same API on worker threads of this process. Arguments travel as with
 * processes (through shared memory, mapped copy-on-write, or by reference
 * with shared()); results come back inline (a thread makes no segments), and
 * empty()/zeros()/from() in a thread task make ordinary arrays. A stopped
 * task (abort, timeout) terminates its thread. Node options of threads are
 * limited to those worker_threads accept.
 */
export class ThreadPoolExecutor extends PoolExecutor {
  constructor(options: ExecutorOptions = {}) {
    super(options, threadWorkers);
  }
}
