// The submitter's side of jobs in Redis: adds them, hears of their ends from
// BullMQ's events, and (since events can be missed) also checks every job it
// has not heard of for a second; a job gone from Redis, or Redis away for
// longer than `redisTimeout`, rejects its Future. So no Future hangs.
import { CancelledError } from '../errors.js';
import type { FutureControl } from '../future.js';
import { CLUSTER_RECONCILE_MS } from '../tuning.js';
import { type BlobStore, bareRedisError, isOutOfMemory, redisError } from './blob-store.js';
import {
  JobLostError,
  MachineLostError,
  RedisFullError,
  RedisUnavailableError,
  RemoteJobError,
} from './errors.js';
import { decodeError, type JobData, type JobResult } from './job-codec.js';
import { type KeyReaper, receiveMessage } from './job-message.js';
import { cancelChannel } from './keys.js';
import { type BullMQ, bullmq, type Redis } from './peers.js';
import { decodeValue } from './value-codec.js';

export interface TrackedJob {
  id: string;
  control: FutureControl<unknown>;
  /** Called once the job has ended one way or another (its argument blobs may go). */
  finished: () => void;
  added: boolean;
  addedAt: number;
  started: boolean;
}

export interface TrackerOptions {
  url: string;
  queue: string;
  redis: Redis;
  store: BlobStore;
  /** Deletes, in bulk, the result messages stored beside jobs once they are read. */
  reaper: KeyReaper;
  redisTimeout: number;
}

/** Reconcile at most this many jobs per round, so a long queue costs Redis little. */
const RECONCILE_BATCH = 200;

export class JobTracker {
  readonly queue: BullMQ.Queue;
  #events: BullMQ.QueueEvents | undefined;
  readonly #options: TrackerOptions;
  readonly #jobs = new Map<string, TrackedJob>();
  /**
   * Completed jobs whose results are being read: still pending, so that
   * shutdown does not delete this executor's keys (a result's message or
   * blobs) while they are read.
   */
  #reading = 0;
  /** Jobs whose Future settled early (cancel, abort) that may still run: cleaned when they end. */
  readonly #abandoned = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  #downSince: number | undefined = Date.now();
  #lastError: unknown;
  readonly ready: Promise<void>;
  /** Whether `ready` has resolved (a submit then need not wait on it). */
  isReady = false;

  constructor(options: TrackerOptions) {
    this.#options = options;
    const connection = { url: options.url, maxRetriesPerRequest: 1, enableOfflineQueue: false } as never;
    this.queue = new bullmq.Queue(options.queue, { connection });
    this.queue.on('error', (error) => {
      this.#lastError = error;
    });
    const redis = options.redis;
    let eventsReady!: () => void;
    const events = new Promise<void>((resolve) => {
      eventsReady = resolve;
    });
    redis.on('ready', () => {
      this.#downSince = undefined;
      // Made once Redis answers: BullMQ's event reader, made while Redis is unreachable,
      // retries forever and keeps the process alive even after close().
      if (this.#events === undefined) {
        this.#events = this.#listen();
        void this.#events.waitUntilReady().then(eventsReady, () => {});
      }
    });
    redis.on('close', () => {
      this.#downSince ??= Date.now();
    });
    redis.on('error', (error) => {
      this.#lastError = error;
    });
    this.ready = Promise.all([this.queue.waitUntilReady(), events]).then(() => {
      this.isReady = true;
    });
    this.ready.catch(() => {});
    this.#timer = setInterval(() => void this.#reconcile(), CLUSTER_RECONCILE_MS);
    this.#timer.unref();
  }

  #listen(): BullMQ.QueueEvents {
    const events = new bullmq.QueueEvents(this.#options.queue, {
      connection: { url: this.#options.url, maxRetriesPerRequest: null } as never,
    });
    events.on('error', () => {});
    events.on('active', ({ jobId }) => this.#started(jobId));
    events.on('completed', ({ jobId, returnvalue }) => void this.#completed(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => void this.#failed(jobId, failedReason));
    return events;
  }

  get size(): number {
    return this.#jobs.size + this.#reading;
  }

  /** Redis has been unreachable longer than redisTimeout: the error to reject with, else undefined. */
  unavailable(): RedisUnavailableError | undefined {
    const since = this.#downSince;
    if (since === undefined || Date.now() - since < this.#options.redisTimeout) return undefined;
    const reason = (this.#lastError as Error | undefined)?.message ?? 'no connection';
    return new RedisUnavailableError(
      `Redis at ${this.#options.url} has been unreachable for ${Date.now() - since} ms (${reason}); pending tasks fail`,
      { cause: this.#lastError },
    );
  }

  /** Adds the job; its Future settles through this tracker from now on. */
  async add(job: TrackedJob, data: JobData): Promise<void> {
    this.#jobs.set(job.id, job);
    try {
      await this.queue.add('task', data, {
        jobId: job.id,
        attempts: 1,
        removeOnComplete: false,
        removeOnFail: false,
      });
    } catch (error) {
      // BullMQ's script writes the whole job or nothing.
      if (isOutOfMemory(error))
        throw new RedisFullError(0, { cause: bareRedisError(error) }, "the task's job");
      // Redis went away between the connection check and the add (ioredis's own error otherwise).
      throw redisError(error, "adding the task's job");
    }
    job.added = true;
    job.addedAt = Date.now();
  }

  /** Forgets a job that was never added (its encoding failed, or it was cancelled first). */
  forget(id: string): void {
    this.#jobs.delete(id);
  }

  /**
   * A Future settled before its job ended (cancelled, aborted): removes the
   * job if it is still queued, else asks its machine to stop it.
   */
  async abandon(id: string, reason: string): Promise<boolean> {
    const job = this.#jobs.get(id);
    this.#jobs.delete(id);
    job?.finished();
    if (job !== undefined && !job.added) return true;
    this.#abandoned.add(id);
    try {
      const removed = await this.queue.remove(id);
      if (removed === 1) {
        this.#abandoned.delete(id);
        return true;
      }
      await this.#options.redis.publish(
        cancelChannel(this.#options.queue),
        JSON.stringify({ jobId: id, reason }),
      );
    } catch {
      // Redis away: the job's keys expire or are removed when it ends.
    }
    return false;
  }

  /**
   * Some tasks of a queued batch job were cancelled: the job's data says so,
   * and the machine that takes it skips them. Once the job has started they
   * run anyway; their results are dropped.
   */
  async markCancelled(id: string, cancelled: number[]): Promise<void> {
    try {
      const job = await this.queue.getJob(id);
      if (job === undefined || job === null || job.processedOn) return;
      await job.updateData({ ...(job.data as JobData), cancelled });
    } catch {
      // Redis away or the job gone: the tasks run and their results are dropped.
    }
  }

  #started(id: string): void {
    const job = this.#jobs.get(id);
    if (job === undefined || job.started) return;
    job.started = true;
    // Cancelled meanwhile: abandon() already asked for the job to stop.
    job.control.start();
  }

  async #completed(id: string, returnvalue: unknown): Promise<void> {
    const result = (
      typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue
    ) as JobResult | null;
    const job = this.#jobs.get(id);
    if (job === undefined) {
      if (this.#abandoned.delete(id)) await this.#cleanUp(id, result);
      return;
    }
    this.#jobs.delete(id);
    this.#reading++;
    if (!job.started) {
      job.started = true;
      job.control.start();
    }
    try {
      if (result === null || typeof result !== 'object')
        throw new RemoteJobError(id, 'it completed without a result');
      if (!result.ok) {
        job.control.reject(decodeError(result.error));
      } else {
        const message = await receiveMessage(
          this.#options.redis,
          { text: result.value, ...(result.valueKey === undefined ? {} : { key: result.valueKey }) },
          "a task's result",
        );
        job.control.resolve(await decodeValue(message, this.#options.store));
      }
    } catch (error) {
      job.control.reject(error);
    } finally {
      this.#reading--;
      job.finished();
      await this.#cleanUp(id, result);
    }
  }

  async #failed(id: string, reason: string): Promise<void> {
    const job = this.#jobs.get(id);
    if (job === undefined) {
      if (this.#abandoned.delete(id)) await this.#cleanUp(id, null);
      return;
    }
    this.#jobs.delete(id);
    job.control.start();
    job.control.reject(
      reason.includes('stalled more than')
        ? new MachineLostError(id, 0, reason)
        : new RemoteJobError(id, reason),
    );
    job.finished();
    await this.#cleanUp(id, null);
  }

  async #cleanUp(id: string, result: JobResult | null): Promise<void> {
    if (result?.ok === true && result.valueKey !== undefined) this.#options.reaper.add(result.valueKey);
    if (result?.ok === true && result.blobs.length > 0) await this.#options.store.delete(result.blobs);
    await this.queue.remove(id).catch(() => {});
  }

  /** Cancels the Futures of jobs no machine has started (shutdown with cancelFutures). */
  cancelQueued(): void {
    for (const job of [...this.#jobs.values()]) {
      if (!job.started) job.control.cancel(new CancelledError());
    }
  }

  /** Rejects every pending Future with `error` (Redis away, or the executor closing). */
  rejectAll(error: Error): void {
    for (const [id, job] of this.#jobs) {
      this.#jobs.delete(id);
      this.#abandoned.add(id);
      job.control.start();
      job.control.reject(error);
      job.finished();
    }
  }

  async #reconcile(): Promise<void> {
    const down = this.unavailable();
    if (down !== undefined) {
      this.rejectAll(down);
      return;
    }
    if (this.#downSince !== undefined) return;
    const now = Date.now();
    const due = [...this.#jobs.values()]
      .filter((job) => job.added && now - job.addedAt >= CLUSTER_RECONCILE_MS)
      .slice(0, RECONCILE_BATCH)
      .map((job) => job.id);
    const abandoned = [...this.#abandoned].slice(0, RECONCILE_BATCH);
    await Promise.all(
      [...due, ...abandoned].map(async (id) => {
        let job: BullMQ.Job | undefined;
        try {
          job = await this.queue.getJob(id);
        } catch {
          return;
        }
        if (job === undefined || job === null) {
          const tracked = this.#jobs.get(id);
          if (this.#abandoned.delete(id) || tracked === undefined) return;
          this.#jobs.delete(id);
          tracked.control.start();
          tracked.control.reject(new JobLostError(id, 'Redis was restarted without persistence, or flushed'));
          tracked.finished();
          return;
        }
        if (job.finishedOn !== undefined && job.finishedOn !== null) {
          if (job.failedReason && (job.returnvalue === null || job.returnvalue === undefined)) {
            await this.#failed(id, job.failedReason);
          } else {
            await this.#completed(id, job.returnvalue);
          }
        } else if (job.processedOn) {
          this.#started(id);
        }
      }),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    // BullMQ takes its error listener off a client as it closes it; a connection attempt still
    // under way then fails into ioredis's "Unhandled error event" on stderr.
    for (const owner of [this.queue, this.#events]) {
      void owner?.getBackend().client.then(
        (client) => client.on('error', () => {}),
        () => {},
      );
    }
    // BullMQ's close() waits for a connection that may never come (Redis away): bounded.
    const closing = Promise.allSettled([this.#events?.close(), this.queue.close()]);
    await Promise.race([closing, new Promise((r) => setTimeout(r, this.#options.redisTimeout).unref())]);
    if (this.unavailable() !== undefined) {
      void this.#events?.disconnect().catch(() => {});
      void this.queue.disconnect().catch(() => {});
    }
  }
}
