// Which shmex worker this thread of JavaScript is, if it is one: read from
// how the pool started it (pool/worker-process.ts, pool/worker-thread.ts),
// never set by a call, so no module depends on being imported after another.
import { fileURLToPath } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';

/** The workerData of a shmex worker thread: the mark, who its parent is, and its wake-up counter. */
export interface ThreadWorkerData {
  readonly shmex: 'worker thread';
  /** The owner key of the thread that started it (segment-names.ts ownerKey): holds on its segments go there. */
  readonly parentKey: number;
  /** Bumped (and notified) by the parent after every message it posts: see THREAD_IDLE_WAIT_MS. */
  readonly wake: Int32Array;
}

/** The workerData a pool gives a worker thread it starts from the thread whose owner key is `parentKey`. */
export function threadWorkerData(parentKey: number, wake: Int32Array): ThreadWorkerData {
  return { shmex: 'worker thread', parentKey, wake };
}

function isThreadWorkerData(data: unknown): data is ThreadWorkerData {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as ThreadWorkerData).shmex === 'worker thread' &&
    Number.isSafeInteger((data as ThreadWorkerData).parentKey)
  );
}

/** In a worker thread: the owner key of its parent thread (read from its workerData). */
export function parentOwnerKey(data: unknown): number {
  return isThreadWorkerData(data) ? data.parentKey : process.pid;
}

/** In a worker thread: the counter its parent bumps after every message (read from its workerData). */
export function wakeCounter(data: unknown): Int32Array | undefined {
  return isThreadWorkerData(data) && data.wake instanceof Int32Array ? data.wake : undefined;
}

/** The entry script of a worker process (pool/worker-process.ts forks it). */
const WORKER_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

/**
 * 'process': a worker process of a ProcessPoolExecutor, which leaves the
 * segments its parent holds arrays in when it exits. 'thread': a worker
 * thread of a ThreadPoolExecutor, which does the same: it makes segments of
 * its own, named for it (`shmex.<pid>.<start>.t<threadId>.<random>`), and
 * lends them to its parent thread. undefined: a program (or a thread of its
 * own) using shmex.
 */
export const workerRole: 'process' | 'thread' | undefined = isMainThread
  ? process.argv[1] === WORKER_SCRIPT
    ? 'process'
    : undefined
  : isThreadWorkerData(workerData)
    ? 'thread'
    : undefined;
