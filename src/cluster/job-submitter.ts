// The engine behind ClusterExecutor's Futures: turns a task and its
// arguments into a BullMQ job. Arguments are encoded (large arrays uploaded
// as blobs under the executor's keys, with a time-to-live), carried inline
// or under a key of their own, and the job is added to the queue and
// tracked until its result or failure settles the Future. A job carries one
// task (a map's chunk, a task with an AbortSignal or timeout) or a batch of
// plain submits (see batch.ts). Every blob and key is let go when the job
// ends, whichever way.
import { AbortError } from '../errors.js';
import { Future, type FutureControl } from '../future.js';
import type { TaskRef } from '../pool/protocol.js';
import type { TaskLimits } from '../pool/worker-pool.js';
import type { TaskTally } from '../stats.js';
import { type BatchMember, batchControl } from './batch.js';
import type { BlobStore } from './blob-store.js';
import { BlobUsers } from './blob-users.js';
import { type JobData, taskSpecOf } from './job-codec.js';
import { carryArgs, type KeyReaper } from './job-message.js';
import type { JobTracker, TrackedJob } from './job-tracker.js';
import type { Redis } from './peers.js';
import { type BlobRef, encodeValue, type SharedUpload } from './value-codec.js';

export interface JobSubmitterParts {
  /** The executor's id: job ids and its keys start with it. */
  id: string;
  /** The prefix of the executor's keys in Redis. */
  keyPrefix: string;
  ttl: number;
  maxRetries: number;
  threshold: number;
  redis: Redis;
  store: BlobStore;
  reaper: KeyReaper;
  tracker: JobTracker;
  tally: TaskTally;
}

/** What a job holds until it settles: its blobs' uses and its arguments' key, given up once. */
interface JobHolds {
  blobs: BlobRef[];
  argsKey: string | undefined;
  finish: () => void;
}

export class JobSubmitter {
  readonly #parts: JobSubmitterParts;
  readonly #blobUsers = new BlobUsers();
  readonly #settling = new Set<Promise<unknown>>();
  #next = 1;

  constructor(parts: JobSubmitterParts) {
    this.#parts = parts;
  }

  /** A number not used before by this executor (job ids, keys of stored values). */
  nextSerial(): number {
    return this.#next++;
  }

  /** Jobs being encoded, added or abandoned, and blobs being deleted. */
  get settling(): number {
    return this.#settling.size;
  }

  /** Waits for Redis, at most redisTimeout: a submit never waits forever for a connection. */
  async connected(): Promise<void> {
    const { tracker, redis } = this.#parts;
    // The usual case, without a timer per submit.
    if (tracker.isReady && redis.status === 'ready' && tracker.unavailable() === undefined) return;
    for (;;) {
      const down = tracker.unavailable();
      if (down !== undefined) throw down;
      const ready = await Promise.race([
        tracker.ready.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 100)),
      ]);
      if (ready && redis.status === 'ready') return;
    }
  }

  track(promise: Promise<unknown>): void {
    this.#settling.add(promise);
    void promise.finally(() => this.#settling.delete(promise));
  }

  /** What a job holds until it settles; `onFinish` runs once, first, when they are given up. */
  #holds(onFinish?: () => void): JobHolds {
    let done = false;
    const holds: JobHolds = {
      blobs: [],
      argsKey: undefined,
      finish: () => {
        if (done) return;
        done = true;
        onFinish?.();
        const gone = this.#blobUsers.release(holds.blobs);
        if (gone.length > 0) this.track(this.#parts.store.delete(gone));
        if (holds.argsKey !== undefined) this.#parts.reaper.add(holds.argsKey);
      },
    };
    return holds;
  }

  /** The job's encoded blobs are in use until it finishes. */
  #retain(holds: JobHolds, blobs: BlobRef[]): void {
    holds.blobs = blobs;
    this.#blobUsers.retain(blobs);
  }

  #carryArgs(id: string, message: Uint8Array) {
    const { redis, keyPrefix, ttl } = this.#parts;
    return carryArgs(redis, `${keyPrefix}a${id}.message`, message, ttl);
  }

  /** A job of one task (or of one chunk of a map: `args` is then the list of argument lists). */
  submitJob(
    task: TaskRef,
    args: unknown,
    chunk: boolean,
    limits?: TaskLimits,
    dedup?: Map<object, SharedUpload>,
  ): Future<unknown> {
    const { tracker } = this.#parts;
    const signal = limits?.signal;
    const id = `${this.#parts.id}.${this.#next++}`;
    let control!: FutureControl<unknown>;
    const holds = this.#holds(() => signal?.removeEventListener('abort', onAbort));
    const finish = () => holds.finish();
    const future = new Future<unknown>(
      (c) => {
        control = c;
      },
      { onCancel: () => this.track(tracker.abandon(id, 'cancelled')), tally: this.#parts.tally },
    );
    const onAbort = () => {
      const error = new AbortError('the task was aborted by its AbortSignal', { cause: signal?.reason });
      if (!control.cancel(error)) {
        control.reject(error);
        this.track(tracker.abandon(id, 'aborted'));
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const job: TrackedJob = { id, control, finished: finish, added: false, addedAt: 0, started: false };
    const run = async () => {
      await this.connected();
      const encoded = await encodeValue(args, {
        store: this.#parts.store,
        keyPrefix: `${this.#parts.keyPrefix}a${id}.`,
        threshold: this.#parts.threshold,
        dedup,
        singleUse: dedup === undefined,
      });
      this.#retain(holds, encoded.blobs);
      if (future.done()) return finish();
      const carried = await this.#carryArgs(id, encoded.message);
      holds.argsKey = carried.argsKey;
      if (future.done()) return finish();
      const data: JobData = {
        v: 1,
        submitter: this.#parts.id,
        task: taskSpecOf(task),
        ...carried,
        chunk,
        maxRetries: this.#parts.maxRetries,
        ttl: this.#parts.ttl,
        ...(signal === undefined ? {} : { abortable: true }),
        ...(limits?.timeout === undefined ? {} : { timeout: limits.timeout }),
      };
      await tracker.add(job, data);
      // Cancelled while being added: the job is in the queue now, take it out again.
      if (future.done()) await tracker.abandon(id, 'cancelled');
    };
    this.track(
      run().catch((error: unknown) => {
        tracker.forget(id);
        control.start();
        control.reject(error);
        finish();
      }),
    );
    return future;
  }

  /** A batch job: the tasks of plain submits of one function made in one synchronous run. */
  submitBatch(task: TaskRef, members: BatchMember[]): void {
    const { tracker } = this.#parts;
    const id = `${this.#parts.id}.${this.#next++}`;
    const control = batchControl(id, members);
    const holds = this.#holds();
    const finish = () => holds.finish();
    const allCancelled = () => members.every((m) => m.future.cancelled());
    const job: TrackedJob = { id, control, finished: finish, added: false, addedAt: 0, started: false };
    // A task no machine has started is cancelled at once; its job leaves the queue once all of its tasks are.
    const cancelled = () => members.flatMap((m, i) => (m.future.cancelled() ? [i] : []));
    for (const m of members) {
      m.onCancel = () => {
        if (allCancelled()) this.track(tracker.abandon(id, 'cancelled'));
        else if (job.added) this.track(tracker.markCancelled(id, cancelled()));
      };
    }
    let encodedAll = false;
    const run = async () => {
      if (allCancelled()) return;
      await this.connected();
      const encoded = await encodeValue(
        members.map((m) => m.args),
        {
          store: this.#parts.store,
          keyPrefix: `${this.#parts.keyPrefix}a${id}.`,
          threshold: this.#parts.threshold,
          singleUse: true,
        },
      );
      encodedAll = true;
      this.#retain(holds, encoded.blobs);
      if (allCancelled()) return finish();
      const carried = await this.#carryArgs(id, encoded.message);
      holds.argsKey = carried.argsKey;
      if (allCancelled()) return finish();
      const data: JobData = {
        v: 1,
        submitter: this.#parts.id,
        task: taskSpecOf(task),
        ...carried,
        chunk: false,
        batch: true,
        ...(cancelled().length > 0 ? { cancelled: cancelled() } : {}),
        maxRetries: this.#parts.maxRetries,
        ttl: this.#parts.ttl,
      };
      await tracker.add(job, data);
      if (allCancelled()) await tracker.abandon(id, 'cancelled');
    };
    this.track(
      run().catch((error: unknown) => {
        tracker.forget(id);
        // Arguments that cannot travel fail their own task only: the others go again, one job each.
        if (!encodedAll && members.length > 1) {
          for (const m of members) this.submitBatch(task, [m]);
          return;
        }
        control.start();
        control.reject(error);
        finish();
      }),
    );
  }
}
