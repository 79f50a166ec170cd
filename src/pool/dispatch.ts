// Which queued items go to which worker now (see "Dispatch" in
// docs/design.md): one each to idle workers first; when tasks are quick
// (they have taken under QUICK_TASK_MS on average), also a few more to every
// worker, so that one message carries many tasks and a worker never waits
// for the parent between them. Long tasks are never queued behind each
// other in a worker, where another worker could run them.
import { PREFETCH, QUICK_TASK_MS } from '../tuning.js';
import type { WorkerState } from './pool-worker.js';

/** What dispatch reads of a queued item. */
export interface Dispatchable {
  /** How the task may be stopped while it runs: such a task runs alone in its worker. */
  limits?: unknown;
}

/** What dispatch reads of a worker. */
export interface Taker<Item> {
  readonly state: WorkerState;
  readonly exited: boolean;
  readonly inflight: readonly Item[];
  readonly tasksRun: number;
}

/** How much the pool knows of its tasks and its workers' limit. */
export interface DispatchLimits {
  /** Moving average of how long a task takes in a worker, in ms. */
  taskMs: number;
  maxTasksPerChild: number | undefined;
  /** Tasks a worker may hold at once when they are not quick (1 unless given). */
  depth?: number;
}

/** How many more tasks `worker` may be sent now, `batch` being those planned for it already. */
function room<Item extends Dispatchable>(
  worker: Taker<Item>,
  batch: readonly Item[],
  next: Item,
  { taskMs, maxTasksPerChild, depth: longDepth = 1 }: DispatchLimits,
): number {
  if ((worker.state !== 'idle' && worker.state !== 'busy') || worker.exited) return 0;
  const taken = worker.inflight.length + batch.length;
  // A task that may be stopped runs alone: stopping it kills its worker, and nothing else with it.
  if (taken > 0 && (next.limits !== undefined || worker.inflight[0]?.limits !== undefined)) return 0;
  if (batch[0]?.limits !== undefined) return 0;
  const depth = taskMs < QUICK_TASK_MS ? PREFETCH : longDepth;
  const left = maxTasksPerChild === undefined ? depth : Math.min(depth, maxTasksPerChild - worker.tasksRun);
  return left - taken;
}

/**
 * Takes from `queue` the items that go to a worker now, by worker.
 * `start(item)`: false if the item was cancelled meanwhile (it is dropped).
 */
export function planDispatch<Item extends Dispatchable, W extends Taker<Item>>(
  queue: Item[],
  workers: Iterable<W>,
  limits: DispatchLimits,
  start: (item: Item) => boolean,
): Map<W, Item[]> {
  const batches = new Map<W, Item[]>();
  // Fewest tasks in flight first. By insertion: Array.prototype.sort allocates more than a
  // handful of workers is worth, and this runs for every task.
  const ready: W[] = [];
  for (const worker of workers) {
    let at = ready.length;
    ready.push(worker);
    for (; at > 0 && ready[at - 1]!.inflight.length > worker.inflight.length; at--)
      ready[at] = ready[at - 1]!;
    ready[at] = worker;
  }
  let placed = true;
  while (queue.length > 0 && placed) {
    placed = false;
    for (const worker of ready) {
      if (queue.length === 0) break;
      if (room(worker, batches.get(worker) ?? [], queue[0]!, limits) <= 0) continue;
      const item = queue.shift()!;
      if (!start(item)) continue;
      const batch = batches.get(worker);
      if (batch === undefined) batches.set(worker, [item]);
      else batch.push(item);
      placed = true;
    }
  }
  return batches;
}
