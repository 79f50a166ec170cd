// ClusterExecutor: the executor interface of ProcessPoolExecutor, with tasks
// carried by BullMQ jobs to `shmex worker` machines. Arguments are encoded
// at submit time (large arrays uploaded as blobs under this executor's
// keys, with a time-to-live: job-submitter.ts); results come back into this
// process's shared memory. This file is the facade: options, the public
// methods, stored values (put/free) and shutdown. See docs/cluster.md.
import { randomBytes } from 'node:crypto';
import { AbortError, ShutdownError } from '../errors.js';
import type { ShutdownOptions, TaskOptions } from '../executor-options.js';
import { Future } from '../future.js';
import { type MapInputs, type MapIterator, type MapOptions, mapTasks, splitMapArguments } from '../map.js';
import type { TaskRef } from '../pool/protocol.js';
import type { TaskLimits } from '../pool/worker-pool.js';
import { TaskTally } from '../stats.js';
import { type ModuleFunction, TaskRefs } from '../task-ref.js';
import { limitedRunner, type ModuleTasks, type TaskRunner } from '../task-runner.js';
import { CLUSTER_INLINE_BYTES } from '../tuning.js';
import { type BatchMember, SubmitBatcher } from './batch.js';
import { BlobStore } from './blob-store.js';
import { KeyReaper } from './job-message.js';
import { JobSubmitter } from './job-submitter.js';
import { JobTracker } from './job-tracker.js';
import { blobPrefix } from './keys.js';
import { connect, type Redis } from './peers.js';
import { ClusterRef, encodeValue, type SharedUpload } from './value-codec.js';

type AnyFunction = (...args: any[]) => any;

export interface ClusterExecutorOptions {
  /** The Redis URL, for example redis://127.0.0.1:6379. */
  url: string;
  /** The BullMQ queue machines take jobs from. @default 'shmex' */
  queue?: string;
  /** How long stored arrays live if nobody deletes them (a submitter that died), in ms. @default 3600000 */
  ttl?: number;
  /** How many more times a task runs after the machine running it was lost. @default 1 */
  maxRetries?: number;
  /** Arrays of at least this many bytes travel as blobs, smaller ones inline. @default 131072 */
  threshold?: number;
  /** Pending Futures reject once Redis has been unreachable this long, in ms. @default 5000 */
  redisTimeout?: number;
  /** Tasks a map keeps in flight (about the cluster's core count). @default 8 */
  maxWorkers?: number;
}

/** What a ClusterExecutor is doing, and how its tasks ended. */
export interface ClusterStats {
  pendingTasks: number;
  completedTasks: number;
  failedTasks: number;
  cancelledTasks: number;
}

export class ClusterExecutor implements AsyncDisposable, TaskRunner {
  readonly #id = randomBytes(8).toString('hex');
  readonly #queueName: string;
  readonly #ttl: number;
  readonly #threshold: number;
  readonly #maxWorkers: number;
  readonly #redis: Redis;
  readonly #store: BlobStore;
  readonly #reaper: KeyReaper;
  readonly #tracker: JobTracker;
  readonly #jobs: JobSubmitter;
  readonly #tasks = new TaskRefs();
  readonly #tally = new TaskTally();
  readonly #refs = new Set<ClusterRef>();
  readonly #batcher: SubmitBatcher;
  #shutdown = false;
  #closed: Promise<void> | undefined;

  constructor(options: ClusterExecutorOptions) {
    this.#queueName = options.queue ?? 'shmex';
    this.#ttl = options.ttl ?? 3_600_000;
    this.#threshold = options.threshold ?? CLUSTER_INLINE_BYTES;
    this.#maxWorkers = options.maxWorkers ?? 8;
    this.#redis = connect(options.url, `shmex-submitter-${this.#id}`);
    this.#store = new BlobStore(this.#redis, this.#ttl);
    this.#reaper = new KeyReaper(this.#redis);
    this.#tracker = new JobTracker({
      url: options.url,
      queue: this.#queueName,
      redis: this.#redis,
      store: this.#store,
      reaper: this.#reaper,
      redisTimeout: options.redisTimeout ?? 5000,
    });
    this.#jobs = new JobSubmitter({
      id: this.#id,
      keyPrefix: this.keyPrefix,
      ttl: this.#ttl,
      maxRetries: options.maxRetries ?? 1,
      threshold: this.#threshold,
      redis: this.#redis,
      store: this.#store,
      reaper: this.#reaper,
      tracker: this.#tracker,
      tally: this.#tally,
    });
    this.#batcher = new SubmitBatcher(
      (task, members) => this.#jobs.submitBatch(task, members),
      this.#maxWorkers,
    );
  }

  /** The prefix of this executor's keys in Redis (its blobs). */
  get keyPrefix(): string {
    return blobPrefix(this.#queueName, this.#id);
  }

  stats(): ClusterStats {
    return {
      pendingTasks: this.#tracker.size,
      completedTasks: this.#tally.completed,
      failedTasks: this.#tally.failed,
      cancelledTasks: this.#tally.cancelled,
    };
  }

  #checkOpen(): void {
    if (this.#shutdown) throw new ShutdownError();
  }

  /** @internal submits a resolved task; for a chunk of map, `args` is the list of argument lists. */
  submitRef(
    task: TaskRef,
    args: unknown,
    chunk: boolean,
    limits?: TaskLimits,
    dedup?: Map<object, SharedUpload>,
  ): Future<unknown> {
    this.#checkOpen();
    const signal = limits?.signal;
    if (signal?.aborted) {
      return new Future<unknown>(
        (c) =>
          void c.cancel(new AbortError('the task was aborted by its AbortSignal', { cause: signal.reason })),
        { tally: this.#tally },
      );
    }
    if (!chunk && limits === undefined && dedup === undefined) return this.#batched(task, args as unknown[]);
    return this.#jobs.submitJob(task, args, chunk, limits, dedup);
  }

  /** A plain submit: its task goes in a batch job with the others of this synchronous run. */
  #batched(task: TaskRef, args: unknown[]): Future<unknown> {
    let member!: BatchMember;
    const future = new Future<unknown>(
      (control) => {
        member = { args, control, future: undefined as never };
      },
      { onCancel: () => member.onCancel?.(), tally: this.#tally },
    );
    member.future = future;
    this.#batcher.add(task, member);
    return future;
  }

  #taskRef(task: unknown, where: string): TaskRef {
    return this.#tasks.refOf(task, where);
  }

  /** Runs `fn(...args)` on a machine of the cluster; see ProcessPoolExecutor.submit. */
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submit(fn: ModuleFunction, ...args: unknown[]): Future<unknown>;
  submit(fn: AnyFunction | ModuleFunction, ...args: unknown[]): Future<unknown> {
    return this.#submit(fn, args, undefined);
  }

  #submit(
    fn: AnyFunction | ModuleFunction,
    args: unknown[],
    limits: TaskLimits | undefined,
  ): Future<unknown> {
    this.#checkOpen();
    return this.submitRef(this.#taskRef(fn, 'submit'), args, false, limits);
  }

  /** A typed proxy of a task module, whose file must be the same on every machine (checked by digest). */
  module<M>(url: string | URL): ModuleTasks<M> {
    return this.#module<M>(url, undefined);
  }

  #module<M>(url: string | URL, limits: TaskLimits | undefined): ModuleTasks<M> {
    this.#checkOpen();
    return this.#tasks.moduleProxy<ModuleTasks<M>>(url, (ref, args) =>
      this.submitRef(ref, args, false, limits),
    );
  }

  /** Like ProcessPoolExecutor.map; an array given to several tasks of one map is uploaded once. */
  map<A extends unknown[], R>(fn: (...args: A) => R, ...iterables: MapInputs<A>): MapIterator<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterablesThenOptions: [...MapInputs<A>, MapOptions]
  ): MapIterator<Awaited<R>>;
  map(fn: AnyFunction | ModuleFunction, ...rest: unknown[]): MapIterator<unknown> {
    return this.#map(fn, rest, undefined);
  }

  #map(
    fn: AnyFunction | ModuleFunction,
    rest: unknown[],
    limits: TaskLimits | undefined,
  ): MapIterator<unknown> {
    this.#checkOpen();
    const task = this.#taskRef(fn, 'map');
    const { iterables, options } = splitMapArguments(rest);
    const dedup = new Map<object, SharedUpload>();
    const submitter = {
      submitRef: (ref: TaskRef, args: unknown, chunk: boolean) =>
        this.submitRef(ref, args, chunk, limits, dedup),
    };
    return mapTasks(submitter, task, iterables, options, this.#maxWorkers);
  }

  /** submit, module and map with an AbortSignal and a timeout that also stop a running remote task. */
  withOptions(options: TaskOptions): TaskRunner {
    return limitedRunner(options, (limits) => ({
      submit: (fn, ...args) => this.#submit(fn, args, limits),
      module: (url) => this.#module(url, limits),
      map: (fn, ...rest) => this.#map(fn, rest, limits),
    }));
  }

  /**
   * Stores `value` once (its large arrays as blobs) and returns a reference,
   * typed as the value, to pass to any number of tasks (like `shared()`, it
   * is only for task arguments); each machine downloads it once. It lives
   * until `free(ref)`, shutdown, or the time-to-live.
   */
  async put<T>(value: T): Promise<T> {
    this.#checkOpen();
    await this.#jobs.connected();
    const encoded = await encodeValue(value, {
      store: this.#store,
      keyPrefix: `${this.keyPrefix}p${this.#jobs.nextSerial()}.`,
      threshold: this.#threshold,
    });
    const ref = new ClusterRef<T>(encoded.message, encoded.blobs, async () => {
      this.#refs.delete(ref as ClusterRef);
      await this.#store.delete(encoded.blobs);
    });
    this.#refs.add(ref as ClusterRef);
    return ref as unknown as T;
  }

  /** Deletes a value stored with put(); tasks submitted with it afterwards fail. */
  async free(ref: unknown): Promise<void> {
    if (ref instanceof ClusterRef) await ref.release();
  }

  /**
   * Stops accepting tasks; with `wait` (the default) resolves once pending
   * tasks have ended and this executor's keys are deleted. `cancelFutures`
   * cancels tasks no machine has started.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    if (cancelFutures) this.#tracker.cancelQueued();
    this.#closed ??= this.#close();
    if (wait) await this.#closed;
  }

  async #close(): Promise<void> {
    // Polled, not awaited in a loop of microtasks: the events that settle pending jobs need the event loop.
    while (this.#tracker.size > 0 || this.#jobs.settling > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const ref of [...this.#refs]) await ref.release();
    await this.#reaper.settled();
    await this.#tracker.close();
    // Whatever is left under this executor's prefix (a late machine's result) goes now, not after the TTL.
    await this.#deleteOwnKeys().catch(() => {});
    this.#redis.disconnect();
  }

  async #deleteOwnKeys(): Promise<void> {
    if (this.#redis.status !== 'ready') return;
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.#redis.del(...keys);
    } while (cursor !== '0');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}
