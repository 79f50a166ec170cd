// ProcessPoolExecutor: the facade users see. It validates, encodes arguments
// (arrays into shared memory) at submit time, and hands work to the pool.
import { availableParallelism } from 'node:os';
import { BrokenExecutorError, InvalidArgumentError, ShutdownError } from './errors.js';
import { Future, type FutureControl } from './future.js';
import { type MapInputs, type MapOptions, mapTasks, splitMapArguments } from './map.js';
import { ProcessPool, type WorkItem } from './pool/process-pool.js';
import type { TaskRef } from './pool/protocol.js';
import { type SegmentBook, segmentBook } from './shm/segment-book.js';
import { DEFAULT_SHM_DIR } from './shm/segment-store.js';
import { shmClear } from './shm/sweep.js';
import { FunctionTasks, type ModuleFunction, moduleTaskRef, taskRefOf } from './task-ref.js';
import { encode } from './transfer/encode.js';

/**
 * Arrays (buffers) of at least this many bytes travel through shared memory;
 * smaller ones are copied inline into the message. Measured here with
 * recycled segments (node --import tsx bench/threshold.ts): a segment round
 * trip costs 0.83x the inline one at 16 KiB, 0.62x at 64 KiB, 0.44x at
 * 128 KiB. 64 KiB is also the smallest segment, so nothing smaller is worth
 * a segment of its own.
 */
export const DEFAULT_THRESHOLD = 64 * 1024;

export interface ExecutorOptions {
  /** Worker processes at most. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Runs once in each worker before its first task: a self-contained function, or { module, name }. */
  initializer?: ((...args: any[]) => unknown) | ModuleFunction;
  /** Arguments for the initializer; they are copied to every worker (never through shared memory). @default [] */
  initargs?: unknown[];
  /** A worker is replaced by a fresh one after this many tasks. @default unlimited */
  maxTasksPerChild?: number;
  /** Buffers of at least this many bytes travel through shared memory. @default 65536 (64 KiB) */
  threshold?: number;
  /** Directory of the shared-memory segments. @default '/dev/shm' */
  shmDir?: string;
  /** Node.js options of the worker processes. @default process.execArgv */
  execArgv?: string[];
}

export interface ShutdownOptions {
  /** Wait until running and queued tasks have finished and the workers have exited. @default true */
  wait?: boolean;
  /** Cancel the tasks that have not started. @default false */
  cancelFutures?: boolean;
}

type AnyFunction = (...args: any[]) => any;

/** The typed proxy of a task module: each exported function submits a task and returns its Future. */
export type ModuleTasks<M> = {
  readonly [K in keyof M as M[K] extends AnyFunction ? K : never]: M[K] extends (...args: infer A) => infer R
    ? (...args: A) => Future<Awaited<R>>
    : never;
};

/** Options that make a process something else than a worker (run code given inline, a REPL, a test runner...). */
const NOT_INHERITED = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '-i',
  '--interactive',
  '-c',
  '--check',
  '--test',
  '--watch',
]);
const NOT_INHERITED_WITH_VALUE = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '--watch-path',
  '--inspect-port',
]);

/**
 * The parent's Node.js options minus those workers must not get: with
 * `node -e code`, a worker inheriting `-e code` would run that code (and start
 * workers of its own) instead of being a worker; debugger ports would clash.
 */
export function inheritableExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.split('=', 1)[0]!;
    if (
      NOT_INHERITED.has(flag) ||
      NOT_INHERITED_WITH_VALUE.has(flag) ||
      /^--(inspect|debug|test|watch)/.test(flag)
    ) {
      if (NOT_INHERITED_WITH_VALUE.has(arg)) i++; // its value is the next argument
      continue;
    }
    out.push(arg);
  }
  return out;
}

function positiveInteger(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `ProcessPoolExecutor: ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

export class ProcessPoolExecutor implements AsyncDisposable {
  readonly #pool: ProcessPool;
  readonly #book: SegmentBook;
  readonly #threshold: number;
  readonly #functions = new FunctionTasks();
  /** Functions of module proxies, so they can be passed to submit() and map() as tasks. */
  readonly #moduleFunctions = new WeakMap<AnyFunction, TaskRef>();
  readonly #maxWorkers: number;
  #nextId = 1;
  #shutdown = false;

  constructor(options: ExecutorOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('ProcessPoolExecutor: options must be an object');
    }
    this.#maxWorkers = positiveInteger(options.maxWorkers, 'maxWorkers') ?? availableParallelism();
    const maxTasksPerChild = positiveInteger(options.maxTasksPerChild, 'maxTasksPerChild');
    const threshold = options.threshold ?? DEFAULT_THRESHOLD;
    if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold < 0) {
      throw new InvalidArgumentError(
        `ProcessPoolExecutor: threshold must be a number of bytes >= 0, got ${String(threshold)}`,
      );
    }
    this.#threshold = Math.max(threshold, 1); // empty buffers always travel inline
    const shmDir = options.shmDir ?? DEFAULT_SHM_DIR;
    if (typeof shmDir !== 'string' || shmDir === '') {
      throw new InvalidArgumentError('ProcessPoolExecutor: shmDir must be a directory path');
    }
    const execArgv = options.execArgv ?? inheritableExecArgv(process.execArgv);
    if (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string')) {
      throw new InvalidArgumentError('ProcessPoolExecutor: execArgv must be an array of strings');
    }
    if (options.initargs !== undefined && !Array.isArray(options.initargs)) {
      throw new InvalidArgumentError('ProcessPoolExecutor: initargs must be an array');
    }
    this.#book = segmentBook(shmDir);
    const initializer =
      options.initializer === undefined
        ? undefined
        : taskRefOf(options.initializer, this.#functions, 'initializer');
    const initargs =
      initializer === undefined
        ? undefined
        : encode(
            options.initargs ?? [],
            { book: this.#book, threshold: Infinity, inlineOnly: true },
            'initargs',
          ).data;
    // Segments whose owners died (a crashed run, a killed parent) go now.
    shmClear({ dir: shmDir });
    this.#pool = new ProcessPool({
      maxWorkers: this.#maxWorkers,
      maxTasksPerChild,
      execArgv,
      config: { shmDir, threshold: this.#threshold },
      book: this.#book,
      initializer,
      initargs,
    });
  }

  /** The number of worker processes this executor runs at most. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  #checkOpen(): void {
    const broken = this.#pool.broken;
    if (broken !== undefined) {
      throw new BrokenExecutorError(`the executor is broken and cannot run tasks: ${broken.message}`, {
        cause: broken,
      });
    }
    if (this.#shutdown) throw new ShutdownError();
  }

  #taskRef(task: unknown, where: string): TaskRef {
    return (
      (typeof task === 'function' && this.#moduleFunctions.get(task as AnyFunction)) ||
      taskRefOf(task, this.#functions, where)
    );
  }

  /** @internal submits an already-resolved task; `args` is the argument list (or, for a chunk, the list of lists). */
  submitRef(task: TaskRef, args: unknown, chunk: boolean): Future<unknown> {
    this.#checkOpen();
    let item: WorkItem | undefined;
    let control!: FutureControl<unknown>;
    const future = new Future<unknown>(
      (c) => {
        control = c;
      },
      () => {
        if (item !== undefined) this.#pool.drop(item);
      },
    );
    let payload: WorkItem['args'];
    try {
      payload = encode(args, { book: this.#book, threshold: this.#threshold }, chunk ? 'chunk' : 'args');
    } catch (error) {
      control.start();
      control.reject(error);
      return future;
    }
    item = { id: this.#nextId++, task, args: payload, chunk, control, future };
    this.#pool.enqueue(item);
    return future;
  }

  /**
   * Runs `fn(...args)` in a worker process. `fn` is a self-contained function
   * (sent as source), a function of a module proxy (see `module()`), or
   * `{ module, name }`. Arguments are copied at once (value semantics).
   */
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submit(fn: ModuleFunction, ...args: unknown[]): Future<unknown>;
  submit(fn: AnyFunction | ModuleFunction, ...args: unknown[]): Future<unknown> {
    this.#checkOpen();
    return this.submitRef(this.#taskRef(fn, 'submit'), args, false);
  }

  /**
   * A typed proxy of a task module: `await ex.module<typeof import('./tasks.js')>(url).addOne(x)`.
   * `url` is a URL (new URL('./tasks.js', import.meta.url)), an absolute path or a package name.
   */
  module<M>(url: string | URL): ModuleTasks<M> {
    this.#checkOpen();
    const cache = new Map<string, AnyFunction>();
    moduleTaskRef(url, 'check', 'module');
    return new Proxy(Object.create(null) as ModuleTasks<M>, {
      get: (_target, name) => {
        // Not a thenable, not inspectable as one: awaiting the proxy must not call a task named 'then'.
        if (typeof name !== 'string' || name === 'then') return undefined;
        let fn = cache.get(name);
        if (fn === undefined) {
          const ref = moduleTaskRef(url, name, 'module');
          fn = (...args: unknown[]) => this.submitRef(ref, args, false);
          Object.defineProperty(fn, 'name', { value: name });
          this.#moduleFunctions.set(fn, ref);
          cache.set(name, fn);
        }
        return fn;
      },
    });
  }

  /**
   * Like Array.prototype.map across processes: calls `fn` with one item of
   * each iterable at a time and yields the results in input order. Inputs are
   * read lazily, with a bounded number of tasks in flight. The last argument
   * may be `{ chunksize, timeout }`.
   */
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterables: MapInputs<A>
  ): AsyncIterableIterator<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterablesThenOptions: [...MapInputs<A>, MapOptions]
  ): AsyncIterableIterator<Awaited<R>>;
  map(fn: AnyFunction | ModuleFunction, ...rest: unknown[]): AsyncIterableIterator<unknown> {
    this.#checkOpen();
    const task = this.#taskRef(fn, 'map');
    const { iterables, options } = splitMapArguments(rest);
    return mapTasks(this, task, iterables, options, this.#maxWorkers);
  }

  /**
   * Stops accepting tasks. With `wait` (the default) resolves once queued and
   * running tasks have finished and every worker has exited; `cancelFutures`
   * cancels the tasks that have not started.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
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
