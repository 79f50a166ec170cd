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
  #busy = false;
  /** When the worker last ran out of tasks (performance.now()). */
  #idleSince = 0;

  /** A batch of tasks starts: no trim while it runs. */
  busy(): void {
    this.#worked = true;
    this.#busy = true;
  }

  /**
   * The worker has nothing to do: trim if it stays so. One timer for many
   * batches: a worker answering tasks one at a time goes idle after each, and
   * clearing and arming a timer every time cost more than the tasks' own work
   * in the worker; when it fires early it waits for the time left.
   */
  idle(): void {
    this.#busy = false;
    this.#idleSince = performance.now();
    if (workerRole !== 'process' || !this.#worked || this.#timer !== undefined) return;
    this.#arm(WORKER_HEAP_TRIM_IDLE_MS);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#busy) return; // idle() arms it again
      const left = this.#idleSince + WORKER_HEAP_TRIM_IDLE_MS - performance.now();
      if (left > 1) {
        this.#arm(left);
        return;
      }
      this.#worked = false;
      collectGarbage();
      native.trimHeap();
    }, ms);
    this.#timer.unref();
  }
}
