// Which shmex worker this thread of JavaScript is, if it is one: read from
// how the pool started it (pool/worker-process.ts, pool/worker-thread.ts),
// never set by a call, so no module depends on being imported after another.
import { fileURLToPath } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';

/** The workerData of a shmex worker thread. */
export const WORKER_THREAD_DATA = 'shmex worker thread';

/** The entry script of a worker process (pool/worker-process.ts forks it). */
const WORKER_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

/**
 * 'process': a worker process of a ProcessPoolExecutor, which leaves the
 * segments its parent holds arrays in when it exits. 'thread': a worker
 * thread of a ThreadPoolExecutor, which maps segments its parent made but
 * makes none (a segment's name says which process owns it, and a thread is
 * not one). undefined: a program (or a thread of its own) using shmex.
 */
export const workerRole: 'process' | 'thread' | undefined = isMainThread
  ? process.argv[1] === WORKER_SCRIPT
    ? 'process'
    : undefined
  : workerData === WORKER_THREAD_DATA
    ? 'thread'
    : undefined;
