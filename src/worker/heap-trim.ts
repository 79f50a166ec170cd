// Gives a worker's freed heap memory back once it has been idle for a while
// (WORKER_HEAP_TRIM_IDLE_MS): the tuned allocator (pool/worker-env.ts) keeps
// freed memory for the next task, and this bounds how long it does. The
// arrays a task dropped are freed by V8 only when it collects them, so a
// collection comes first. Only a worker process does it: a worker thread's
// heap is its process's, whose allocator shmex neither tuned nor owns.
import { collectGarbage } from '../shm/collect.js';
import { native } from '../shm/native.js';
import { WORKER_HEAP_TRIM_IDLE_MS } from '../tuning.js';
import { workerRole } from './role.js';

export class IdleHeapTrim {
  #timer: NodeJS.Timeout | undefined;
  /** Whether a task ran since the last trim: an idle worker trims once, not every period. */
  #worked = false;

  /** A batch of tasks starts: no trim while it runs. */
  busy(): void {
    this.#worked = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The worker has nothing to do: trim if it stays so. */
  idle(): void {
    if (workerRole !== 'process' || !this.#worked || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#worked = false;
      collectGarbage();
      native.trimHeap();
    }, WORKER_HEAP_TRIM_IDLE_MS);
    this.#timer.unref();
  }
}
