// The pool's part of ExecutorStats: its workers and the tasks it holds now,
// and how busy its workers have been (each PoolWorker times its busy spans).
import type { ExecutorStats } from '../stats.js';
import type { WorkerState } from './pool-worker.js';

export type PoolStats = Pick<
  ExecutorStats,
  'workers' | 'busyWorkers' | 'idleWorkers' | 'queuedTasks' | 'runningTasks' | 'utilization'
>;

/** What countPool reads of a worker. */
interface Counted {
  readonly state: WorkerState;
  readonly inflight: readonly { future: { done(): boolean } }[];
  busyMs(now: number): number;
}

/**
 * `pastBusyMs`: busy time of the workers that have exited; `createdAt`: when
 * the pool was made (performance.now()), so that utilization is busy time
 * over what `maxWorkers` workers could have worked since.
 */
export function countPool(
  workers: ReadonlySet<Counted>,
  queuedTasks: number,
  pastBusyMs: number,
  createdAt: number,
  maxWorkers: number,
): PoolStats {
  const now = performance.now();
  let busyWorkers = 0;
  let idleWorkers = 0;
  let runningTasks = 0;
  let busyMs = pastBusyMs;
  for (const worker of workers) {
    if (worker.inflight.length > 0) busyWorkers++;
    else if (worker.state === 'idle') idleWorkers++;
    // An aborted task stays with the worker being killed for it, settled already.
    for (const item of worker.inflight) if (!item.future.done()) runningTasks++;
    busyMs += worker.busyMs(now);
  }
  const capacity = (now - createdAt) * maxWorkers;
  return {
    workers: workers.size,
    busyWorkers,
    idleWorkers,
    queuedTasks,
    runningTasks,
    utilization: capacity > 0 ? Math.min(1, busyMs / capacity) : 0,
  };
}
