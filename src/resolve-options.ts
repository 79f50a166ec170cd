// An executor's options, checked and with their defaults applied: a pure
// function of the options, the executor kind and the environment it reads
// (the parent's execArgv, the number of CPUs). Nothing here touches the file
// system or process-wide state: that is executor-setup.ts.
import { InvalidArgumentError } from './errors.js';
import { inheritableExecArgv } from './exec-argv.js';
import type { ExecutorOptions } from './executor-options.js';
import { describeValue, rejectUnknownKeys } from './options.js';
import { WORKER_ALLOCATORS, type WorkerAllocator } from './pool/worker-env.js';
import { DEFAULT_THRESHOLD } from './tuning.js';

export type ExecutorKind = 'process' | 'thread';

/** What resolveOptions reads of the process it runs in. */
export interface ResolveEnv {
  /** The parent's Node.js options (process.execArgv). */
  execArgv: readonly string[];
  /** os.availableParallelism(). */
  availableParallelism: number;
  /** Where segments go when no shmDir is given (SHMEX_SHM_DIR, else /dev/shm). */
  defaultShmDir: string;
}

export interface ResolvedOptions {
  /** The class name errors start with. */
  where: 'ProcessPoolExecutor' | 'ThreadPoolExecutor';
  maxWorkers: number;
  maxTasksPerChild: number | undefined;
  /** At least 1: empty buffers always travel inline. */
  threshold: number;
  /** The directory asked for; executor-setup.ts may take fallbackDir instead. */
  shmDir: string;
  fallbackDir: string | undefined;
  execArgv: readonly string[];
  initializer: ExecutorOptions['initializer'];
  initargs: unknown[];
  reportUnobserved: boolean;
  /** undefined: the default, which depends on the directory (see defaultQueuedBytes). */
  maxQueuedBytes: number | undefined;
  workerAllocator: WorkerAllocator;
}

export const EXECUTOR_OPTIONS: readonly (keyof ExecutorOptions)[] = [
  'maxWorkers',
  'initializer',
  'initargs',
  'maxTasksPerChild',
  'threshold',
  'shmDir',
  'fallbackDir',
  'execArgv',
  'unobservedFailures',
  'maxQueuedBytes',
  'workerAllocator',
];

/** Names other pool libraries give the number of workers. */
export const MAX_WORKERS_ALIASES: Readonly<Record<string, string>> = Object.fromEntries(
  [
    'threads',
    'workers',
    'processes',
    'concurrency',
    'max_workers',
    'maxthreads',
    'numworkers',
    'poolsize',
    'size',
  ].map((alias) => [alias, 'maxWorkers']),
);

/** Checks `options` (in the order of the checks below) and applies the defaults; throws InvalidArgumentError. */
export function resolveOptions(options: unknown, kind: ExecutorKind, env: ResolveEnv): ResolvedOptions {
  const where = kind === 'thread' ? 'ThreadPoolExecutor' : 'ProcessPoolExecutor';
  const fail = (message: string) => new InvalidArgumentError(`${where}: ${message}`);
  if (typeof options !== 'object' || options === null) {
    throw fail(`options must be an object, got ${describeValue(options)}`);
  }
  rejectUnknownKeys(options, EXECUTOR_OPTIONS, where, MAX_WORKERS_ALIASES);
  const o = options as ExecutorOptions;
  const maxWorkers = positiveInteger(o.maxWorkers, 'maxWorkers', fail) ?? env.availableParallelism;
  const maxTasksPerChild = positiveInteger(o.maxTasksPerChild, 'maxTasksPerChild', fail);
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold < 0) {
    throw fail(`threshold must be a number of bytes >= 0, got ${describeValue(threshold)}`);
  }
  const shmDir = directory(o.shmDir, 'shmDir', fail) ?? env.defaultShmDir;
  const fallbackDir = directory(o.fallbackDir, 'fallbackDir', fail);
  // Threads get none by default: process-wide options apply to them anyway, and new Worker()
  // refuses many (V8 options, -e), so inheriting the parent's would break programs run with them.
  const execArgv = o.execArgv ?? (kind === 'thread' ? [] : inheritableExecArgv(env.execArgv));
  checkExecArgv(execArgv, fail);
  if (o.initargs !== undefined && !Array.isArray(o.initargs)) {
    throw fail(`initargs must be an array, got ${describeValue(o.initargs)}`);
  }
  const unobserved = o.unobservedFailures ?? 'warn';
  if (unobserved !== 'warn' && unobserved !== 'ignore') {
    throw fail(`unobservedFailures must be 'warn' or 'ignore', got ${describeValue(unobserved)}`);
  }
  const maxQueuedBytes = o.maxQueuedBytes;
  if (
    maxQueuedBytes !== undefined &&
    (typeof maxQueuedBytes !== 'number' || Number.isNaN(maxQueuedBytes) || maxQueuedBytes < 0)
  ) {
    throw fail(
      `maxQueuedBytes must be a number of bytes >= 0 (or Infinity), got ${describeValue(maxQueuedBytes)}`,
    );
  }
  const workerAllocator = o.workerAllocator ?? 'shared';
  if (!WORKER_ALLOCATORS.includes(workerAllocator)) {
    throw fail(
      `workerAllocator must be 'tuned', 'shared' or 'default', got ${describeValue(workerAllocator)}`,
    );
  }
  if (kind === 'thread' && workerAllocator === 'tuned') {
    throw fail(
      "workerAllocator cannot be 'tuned' for threads: they share this process's allocator, which " +
        "glibc sets up when the process starts (set GLIBC_TUNABLES in the environment of node instead; 'shared' " +
        'makes large typed arrays in shared memory, and works in threads)',
    );
  }
  return {
    where,
    maxWorkers,
    maxTasksPerChild,
    threshold: Math.max(threshold, 1),
    shmDir,
    fallbackDir,
    execArgv,
    initializer: o.initializer,
    initargs: o.initargs ?? [],
    reportUnobserved: unobserved === 'warn',
    maxQueuedBytes,
    workerAllocator,
  };
}

type Fail = (message: string) => InvalidArgumentError;

function positiveInteger(value: unknown, name: string, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw fail(`${name} must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

function directory(value: unknown, name: string, fail: Fail): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw fail(`${name} must be a directory path, got ${describeValue(value)}`);
  }
  return value;
}

function checkExecArgv(execArgv: unknown, fail: Fail): asserts execArgv is readonly string[] {
  if (Array.isArray(execArgv) && execArgv.every((a) => typeof a === 'string')) return;
  const bad = Array.isArray(execArgv) ? execArgv.find((a) => typeof a !== 'string') : execArgv;
  throw fail(
    `execArgv must be an array of strings, got ${Array.isArray(execArgv) ? 'an array holding ' : ''}${describeValue(bad)}`,
  );
}
