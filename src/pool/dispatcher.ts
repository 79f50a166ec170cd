// When queued items go to workers, and the message that takes them: the pool
// (worker-pool.ts) owns the queue and the workers' lives; this decides, each
// time it is asked, which items leave the queue now (planning: dispatch.ts),
// sends them, and learns from each answer how long tasks take. It holds items
// back while the parent's collection of dropped results is pending, and lets
// a worker hold two tasks of a burst of copied submits.
import { bytesHeldSinceCollection } from '../shm/books.js';
import { CollectionPolicy, collectGarbage, type GiveBack } from '../shm/collect.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { newCollectionEpoch } from '../shm/view-registry.js';
import { BURST_DEPTH_MS, PARENT_COLLECTION, QUICK_TASK_MS } from '../tuning.js';
import { planDispatch } from './dispatch.js';
import type { PoolWorker } from './pool-worker.js';
import type { TaskMessage, TaskRef } from './protocol.js';
import type { WorkItem } from './work-item.js';

type Worker = PoolWorker<WorkItem>;

/**
 * Collections that give back the segments of results dropped without
 * release() (see tuning.ts). They count results still alive that came since
 * the last one, in every directory (bytesHeldSinceCollection in books.ts):
 * results V8 collected on its own, or the caller released, call for none.
 */
const parentCollection = new CollectionPolicy(
  PARENT_COLLECTION,
  collectGarbage,
  () => performance.now(),
  newCollectionEpoch,
);

/** A source TaskRef carries its source only the first time a worker sees it. */
export function withSource(worker: Worker, task: TaskRef): TaskRef {
  if (task.kind !== 'source') return task;
  if (worker.knownSources.has(task.id)) return { kind: 'source', id: task.id, name: task.name };
  worker.knownSources.add(task.id);
  return task;
}

export class Dispatcher {
  readonly #queue: WorkItem[];
  readonly #workers: ReadonlySet<Worker>;
  readonly #book: SegmentBook;
  readonly #maxTasksPerChild: number | undefined;
  /** Called once a pending collection has run and its frees have gone out: dispatch again. */
  readonly #collected: () => void;
  /** Dispatch waits for the parent's pending collection (#waitForCollection). */
  #awaitingCollection = false;
  /** Workers sent a task of the current burst of submits, until its queue is drained (see dispatchEarly). */
  readonly #burst = new Set<Worker>();
  /** Moving average of how long a task takes in a worker, in ms (starts high: no prefetch until measured). */
  #taskMs = 1000;

  constructor(
    queue: WorkItem[],
    workers: ReadonlySet<Worker>,
    book: SegmentBook,
    maxTasksPerChild: number | undefined,
    collected: () => void,
  ) {
    this.#queue = queue;
    this.#workers = workers;
    this.#book = book;
    this.#maxTasksPerChild = maxTasksPerChild;
    this.#collected = collected;
  }

  /** Tasks take long enough not to go several to a message, and short enough for a worker to hold two of a burst. */
  get #burstTasksShort(): boolean {
    return this.#taskMs >= QUICK_TASK_MS && this.#taskMs < BURST_DEPTH_MS;
  }

  /** The burst of submits of the turn that ends is over, once its queue is drained. */
  turnEnded(): void {
    if (this.#queue.length === 0) this.#burst.clear();
  }

  /** An answer came: the task took `ms` in its worker. */
  measured(ms: number): void {
    this.#taskMs = this.#taskMs * 0.8 + ms * 0.2;
  }

  /** A result that came in segments: the parent's collection rule counts it. */
  resultMapped(): void {
    const { held, copyOnWrite } = bytesHeldSinceCollection();
    parentCollection.note(held, copyOnWrite);
  }

  /**
   * A task whose arguments are in segments, submitted to an empty queue, goes to a worker at once:
   * in a loop of submits of large heap arrays, the worker runs it while the caller copies the next
   * ones (16 strips of 4 MB were all copied, 25 ms here, before the first one was sent). A worker
   * that took a task of this burst may take a second one while tasks are short (BURST_DEPTH_MS):
   * it would finish the first before the loop ends, and wait, idle, for this process to answer.
   */
  dispatchEarly(): void {
    // Quick tasks are not: they go several to a message, on the pump's microtask.
    const deep = this.#burstTasksShort;
    const takers: Worker[] = [];
    for (const worker of this.#workers)
      if (worker.inflight.length === 0 || (deep && this.#burst.has(worker))) takers.push(worker);
    if (takers.length === 0 || this.#waitForCollection()) return;
    const limits = {
      taskMs: this.#taskMs,
      maxTasksPerChild: this.#maxTasksPerChild,
      depth: deep ? 2 : 1,
    };
    for (const [worker, items] of planDispatch(this.#queue, takers, limits, this.#start)) {
      this.#burst.add(worker);
      this.#send(worker, items);
    }
  }

  /**
   * Hands queued items to workers (see dispatch.ts). While a burst's short tasks are queued, a
   * worker that took one of them may hold two, as in dispatchEarly: with one, it waits for this
   * process between tasks, and this process may be busy (a collection here took 10 to 20 ms, and
   * both workers of 16 image strips waited for it). Other workers hold one: a worker busy with a
   * task from before the burst may be busy long, and the burst's task would wait behind it.
   */
  dispatch(): void {
    if (this.#queue.length === 0) {
      this.#burst.clear(); // drained by cancels, aborts or a broken pool too
      return;
    }
    if (this.#waitForCollection()) return;
    const limits = { taskMs: this.#taskMs, maxTasksPerChild: this.#maxTasksPerChild, depth: 1 };
    for (const [worker, items] of planDispatch(this.#queue, this.#workers, limits, this.#start))
      this.#send(worker, items);
    if (this.#burst.size > 0 && this.#burstTasksShort) {
      const deep = { ...limits, depth: 2 };
      for (const [worker, items] of planDispatch(this.#queue, this.#burst, deep, this.#start))
        this.#send(worker, items);
    }
    if (this.#queue.length === 0) this.#burst.clear();
  }

  /** A worker is gone: it takes no more tasks of a burst. */
  workerGone(worker: Worker): void {
    this.#burst.delete(worker);
  }

  /** An item leaves the queue for a worker: false if it was cancelled meanwhile (drop() freed it). */
  readonly #start = (item: WorkItem): boolean => {
    if (!item.started && !item.control.start()) return false;
    item.started = true;
    return item.prepare?.() ?? true;
  };

  /**
   * True while tasks wait for a pending collection of dropped results (see
   * PARENT_COLLECTION): a loop that drops each large result and submits the
   * next call would otherwise have its worker make the next result in a new
   * segment while the last one, dead, still holds its own. Sent after the
   * collection, behind the frees it led to, the task finds that segment free.
   */
  #waitForCollection(): boolean {
    if (this.#awaitingCollection) return true;
    const waiting = parentCollection.whenCollected(() => {
      this.#awaitingCollection = false;
      this.#book.flushFrees();
      this.#collected();
    });
    this.#awaitingCollection = waiting;
    return waiting;
  }

  #send(worker: Worker, items: WorkItem[]): void {
    const now = performance.now();
    // A loop, not items.map(): map's array changes its elements kind once map is optimised,
    // which deoptimised every function the message went through.
    const tasks: TaskMessage[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      item.sentAt = now;
      item.worker = worker;
      item.startTimer?.();
      worker.take(item);
      this.#book.lentTo(worker, item.args.leases);
      tasks.push({
        id: item.id,
        task: withSource(worker, item.task),
        args: item.args.data,
        leases: item.args.leases,
        chunk: item.chunk,
        giveBack: this.#giveBack(item),
      });
    }
    worker.send({ type: 'run', tasks });
  }

  /**
   * When the worker gives the item's copied arguments back (TaskMessage.giveBack): not while the
   * next queued task has its arguments in segments already (a burst copied at submit, which
   * waits for none: 16 image strips spent as long collecting as working), else after its outcome.
   * A string, not an object, per task: tiny tasks pay for every allocation.
   */
  #giveBack(item: WorkItem): GiveBack | undefined {
    if (item.copiesFollow) return 'now';
    // Not #queue[0] of an empty queue: a read out of bounds deoptimises.
    if (this.#queue.length > 0 && this.#queue[0]!.args.leases.length > 0) return undefined;
    return 'after';
  }
}
