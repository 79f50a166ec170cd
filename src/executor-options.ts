// The options of the executors and of withOptions(): their public types, and
// the check of withOptions(). The executors' options are resolved (checked,
// defaults applied) by resolve-options.ts.
import { InvalidArgumentError } from './errors.js';
import { describeValue, rejectUnknownKeys } from './options.js';
import type { TaskLimits } from './pool/worker-pool.js';
import type { ModuleFunction } from './task-ref.js';

export interface ExecutorOptions {
  /** Workers (processes, or threads for a ThreadPoolExecutor) at most. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Runs once in each worker before its first task: a self-contained function, or { module, name }. */
  initializer?: ((...args: any[]) => unknown) | ModuleFunction;
  /** Arguments for the initializer; they are copied to every worker (never through shared memory). @default [] */
  initargs?: unknown[];
  /** A worker is replaced by a fresh one after this many tasks. @default unlimited */
  maxTasksPerChild?: number;
  /** Buffers of at least this many bytes travel through shared memory. @default 65536 (64 KiB) */
  threshold?: number;
  /** Directory of the shared-memory segments. @default $SHMEX_SHM_DIR, else '/dev/shm' */
  shmDir?: string;
  /**
   * Used instead of `shmDir` when, as the executor starts, `shmDir` is missing,
   * not writable, or has less than 1 GiB free (a container's small /dev/shm),
   * and this directory is usable. Best on a tmpfs too; on a disk, the page
   * cache still shares the pages, but the kernel may write them out.
   * @default none
   */
  fallbackDir?: string;
  /**
   * Node.js options of the workers. @default for processes, process.execArgv without the options
   * that would make a worker something else (-e, --test, --inspect...); for threads, none (the
   * process's own options apply to them)
   */
  execArgv?: string[];
  /**
   * Bytes of shared memory the arguments of queued tasks (submitted, not yet
   * taken by a worker) may hold. Within it, submit() copies large arguments
   * at once; beyond it, a task's arrays are copied when a worker takes it, so
   * the caller must not write to them until then (see waitForRoom()).
   * `Infinity`: always copy at submit.
   * @default 256 MiB, or a quarter of the directory's size if smaller
   */
  maxQueuedBytes?: number;
  /**
   * What to do with a task's failure that nobody observes (awaits, asks the result of, passes to
   * wait/asCompleted/map...) before its Future is garbage-collected or the process exits: 'warn'
   * emits a process warning with code SHMEX_UNOBSERVED_FAILURE, naming the task and the error.
   * @default 'warn'
   */
  unobservedFailures?: 'warn' | 'ignore';
  /**
   * Where tasks' arrays are made in worker processes. 'tuned' sets up the C allocator (glibc's
   * malloc, through GLIBC_TUNABLES, ahead of the environment's own, which win): large blocks come
   * from the heap, backed by transparent huge pages, and memory a task freed (up to 512 MiB a
   * worker at the top of the heap) is kept for the next task, so tasks that return new large
   * arrays do not pay page faults on every call. 'shared' is 'tuned', and in tasks
   * `new Float64Array(length)` (any typed array) of 1 MiB or more is made in shared memory,
   * zeroed, so a task that returns it sends it without a copy, and the worker holds no second copy
   * of it; the worker's global typed-array constructors are replaced for that (instances,
   * `instanceof` and `x.constructor === Float64Array` behave as before). 'default' leaves glibc's
   * defaults and the constructors alone. A ThreadPoolExecutor takes only 'default': its threads
   * share this process's allocator, set up when it started.
   * @default 'shared' for processes, 'default' for threads
   */
  workerAllocator?: 'tuned' | 'shared' | 'default';
}

export interface ShutdownOptions {
  /** Wait until running and queued tasks have finished and the workers have exited. @default true */
  wait?: boolean;
  /** Cancel the tasks that have not started. @default false */
  cancelFutures?: boolean;
}

/** How tasks submitted through `withOptions(options)` may be stopped. */
export interface TaskOptions {
  /**
   * Aborting it stops the task: one that has not started is cancelled; one
   * that runs is stopped by killing its worker (a process, or a thread), which is replaced.
   * Either way its Future rejects with an AbortError whose cause is the
   * signal's reason. @default none
   */
  signal?: AbortSignal;
  /**
   * Milliseconds a task may run, counted from when a worker takes it; then it
   * is stopped as by an abort and its Future rejects with a TaskTimeoutError.
   * @default no limit
   */
  timeout?: number;
}

const TASK_OPTIONS: readonly (keyof TaskOptions)[] = ['signal', 'timeout'];

export function checkTaskOptions(options: unknown): TaskLimits {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `withOptions: options must be an object such as { signal, timeout }, got ${describeValue(options)}`,
    );
  }
  rejectUnknownKeys(options, TASK_OPTIONS, 'withOptions');
  const { signal, timeout } = options as TaskOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      `withOptions: signal must be an AbortSignal (from an AbortController), got ${describeValue(signal)}`,
    );
  }
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2 ** 31 - 1)) {
    throw new InvalidArgumentError(
      `withOptions: timeout must be a number of milliseconds > 0 and < 2^31, got ${describeValue(timeout)}`,
    );
  }
  const limits: TaskLimits = {};
  if (signal !== undefined) limits.signal = signal;
  if (timeout !== undefined) limits.timeout = timeout;
  return limits;
}
