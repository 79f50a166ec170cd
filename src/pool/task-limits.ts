// Stopping a task by its AbortSignal or its timeout: queued, it is
// cancelled; running, its Future rejects at once and its worker, which runs
// that task alone (see WorkerPool's dispatch), is killed and replaced.
import { AbortError, TaskTimeoutError } from '../errors.js';
import type { Future, FutureControl } from '../future.js';
import { kWhenDone } from '../symbols.js';

/** Per-task ways to stop a task (see TaskOptions in executor-options.ts). */
export interface TaskLimits {
  signal?: AbortSignal;
  /** Milliseconds from when a worker takes the task. */
  timeout?: number;
}

/** What watchLimits needs of a work item (see WorkItem in worker-pool.ts). */
export interface Stoppable {
  control: FutureControl<unknown>;
  future: Future<unknown>;
  worker?: { kill(): void };
  startTimer?: () => void;
  stopTimer?: () => void;
}

/**
 * Stops `item` when its signal aborts or its time is up. `unqueue` takes it
 * out of the pool's queue, if it is there, and frees its arguments.
 */
export function watchLimits<Item extends Stoppable>(
  item: Item,
  { signal, timeout }: TaskLimits,
  unqueue: (item: Item) => void,
): void {
  let timer: NodeJS.Timeout | undefined;
  const stop = (error: Error) => {
    if (item.control.cancel(error)) return; // not started: the pool's drop() has freed it
    unqueue(item);
    item.control.reject(error);
    item.worker?.kill();
  };
  const onAbort = () =>
    stop(new AbortError('the task was aborted by its AbortSignal', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });
  if (timeout !== undefined) {
    item.stopTimer = () => clearTimeout(timer);
    item.startTimer = () => {
      clearTimeout(timer); // sent again after its first worker died: the clock restarts
      timer = setTimeout(() => stop(new TaskTimeoutError(timeout)), timeout);
      timer.unref();
    };
  }
  item.future[kWhenDone](() => {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(timer);
  });
}
