// What the pool holds of one submitted task, from submit until its Future
// settles: its payload, its Future's controls, and where it is (queued, or
// sent to a worker, and since when).
import type { Future, FutureControl } from '../future.js';
import type { Payload } from '../transfer/encode.js';
import type { PoolWorker } from './pool-worker.js';
import type { TaskRef } from './protocol.js';
import type { TaskLimits } from './task-limits.js';

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
  worker?: PoolWorker<WorkItem>;
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
