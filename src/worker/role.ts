// Which shmex worker this thread of JavaScript is, if it is one: read from
// how the pool started it (pool/worker-process.ts, pool/worker-thread.ts),
// never set by a call, so no module depends on being imported after another.
import { fileURLToPath } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';

/** The workerData of a shmex worker thread: the mark, and who its parent is. */
interface ThreadWorkerData {
  readonly shmex: 'worker thread';
  /** The owner key of the thread that started it (segment-names.ts ownerKey): holds on its segments go there. */
  readonly parentKey: number;
}

/** The workerData a pool gives a worker thread it starts from the thread whose owner key is `parentKey`. */
export function threadWorkerData(parentKey: number): ThreadWorkerData {
  return { shmex: 'worker thread', parentKey };
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
