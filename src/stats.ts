// What ex.stats() reports. The pool counts what it owns (workers, the queue,
// tasks in workers, busy time); each Future counts how it ended, once, in
// the executor's tally.

/** A snapshot of an executor, from `ex.stats()`. */
export interface ExecutorStats {
  /** Worker processes (or threads) alive now, including those starting or exiting. */
  workers: number;
  /** Workers with at least one task sent to them and not settled. */
  busyWorkers: number;
  /** Workers started and waiting for work. */
  idleWorkers: number;
  /** Tasks submitted and not yet sent to a worker. */
  queuedTasks: number;
  /**
   * Tasks sent to a worker and not settled. Quick tasks are sent several to a
   * worker at a time, so this counts those waiting in a worker behind the one it runs.
   */
  runningTasks: number;
  /** Tasks that finished with a value. */
  completedTasks: number;
  /** Tasks that finished with an error (also those stopped while running by an abort or a timeout). */
  failedTasks: number;
  /** Tasks cancelled before they started (`cancel()`, `cancelFutures`, an abort while queued). */
  cancelledTasks: number;
  /**
   * In [0, 1]: the time workers had at least one task in flight, summed over
   * workers, divided by (time since the executor was created × maxWorkers).
   */
  utilization: number;
}

export type Outcome = 'completed' | 'failed' | 'cancelled';

/** How the Futures of one executor ended. */
export class TaskTally {
  completed = 0;
  failed = 0;
  cancelled = 0;

  count(outcome: Outcome): void {
    this[outcome]++;
  }
}
