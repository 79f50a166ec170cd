// The machine side (`shmex worker`): a BullMQ Worker takes jobs and runs
// them on a local ProcessPoolExecutor. Arguments are downloaded once into
// this machine's shared memory; results are uploaded under the submitter's
// keys. BullMQ renews each job's lock while it runs; a job whose machine
// stops renewing is given to another machine (stalled), and a completion
// that comes back without the lock is refused, so exactly one result wins.
// A local pool that breaks (its processes die while starting) is replaced a
// bounded number of times in a row; past that the machine gives its jobs
// back to the queue, stops taking jobs and reports `failed`. This file is
// the machine's life (Redis, BullMQ, heartbeat, giving up, close) and the
// steps of a job; its parts: machine-pool.ts (the local pool, replaced when
// it breaks or a module changes), job-task.ts (the function a job runs),
// job-run.ts (running it on the pool, uploading the result).
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { configureSharedMemory, release } from '../arrays.js';
import { inheritableExecArgv } from '../exec-argv.js';
import { ProcessPoolExecutor } from '../executor.js';
import { CLUSTER_HEARTBEAT_MS, CLUSTER_HEARTBEAT_TTL_MS } from '../tuning.js';
import { MachineBlobCache } from './blob-cache.js';
import { BlobStore } from './blob-store.js';
import {
  explainUnregistered,
  MachineLostError,
  type MachinePoolBrokenError,
  RedisUnavailableError,
} from './errors.js';
import { sweepFinishedJobs } from './janitor.js';
import { encodeError, type JobData, type JobResult } from './job-codec.js';
import { receiveMessage } from './job-message.js';
import { runOnPool, uploadResult } from './job-run.js';
import { JobTasks } from './job-task.js';
import { cancelChannel, machineKey } from './keys.js';
import { MachinePool } from './machine-pool.js';
import { type BullMQ, bullmq, connect, type Redis } from './peers.js';
import { decodeValue } from './value-codec.js';

export interface MachineOptions {
  /** The Redis URL, for example redis://127.0.0.1:6379. */
  connect: string;
  /** @default 'shmex' */
  queue?: string;
  /** Processes of the local pool. @default the core count */
  maxWorkers?: number;
  /** The shared-memory directory of this machine. @default $SHMEX_SHM_DIR, else /dev/shm */
  shmDir?: string;
  /** How this machine is named in errors and in `shmex cluster status`. @default host:pid */
  name?: string;
  /** Jobs taken at once (downloads overlap computing). @default 2 x maxWorkers */
  concurrency?: number;
  /** The lease of a job, renewed while it runs; a machine silent this long loses its job. @default 30000 */
  lockDuration?: number;
  /**
   * Modules (URLs or package specifiers) imported by this process and by its
   * pool processes before any task: those that register the array wrapper
   * classes and codecs (shmex/arrow...) of the values tasks pass. @default []
   */
  imports?: string[];
  /**
   * After Redis has been unreachable this long, the machine gives up: it stops
   * taking jobs and `failed` settles with a RedisUnavailableError (`shmex
   * worker` exits with code 1). @default 30000
   */
  redisTimeout?: number;
}

/** The most bytes of downloaded arrays a machine keeps for reuse, and how long an unused one stays. */
const CACHE_BYTES = 1024 * 1024 * 1024;
const CACHE_IDLE_MS = 30_000;

export class Machine {
  readonly name: string;
  readonly #queue: string;
  readonly #pools: MachinePool;
  readonly #tasks: JobTasks;
  #onFailed: (error: MachinePoolBrokenError | RedisUnavailableError) => void = () => {};
  readonly #failed = new Promise<MachinePoolBrokenError | RedisUnavailableError>((resolve) => {
    this.#onFailed = resolve;
  });
  /** Since when Redis has been unreachable (from the start, until it first answers). */
  #redisDownSince: number | undefined = Date.now();
  readonly #redisTimeout: number;
  #redisLost: RedisUnavailableError | undefined;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #store: BlobStore;
  readonly #cache = new MachineBlobCache(CACHE_BYTES, CACHE_IDLE_MS);
  readonly #worker: BullMQ.Worker;
  readonly #heartbeat: NodeJS.Timeout;
  /** For sweeping finished jobs of dead submitters (on this machine's command connection). */
  readonly #jobs: BullMQ.Queue;
  readonly #started = Date.now();
  #running = 0;
  #done = 0;
  #closing: Promise<void> | undefined;
  readonly #imported: Promise<unknown>;

  constructor(options: MachineOptions) {
    this.#queue = options.queue ?? 'shmex';
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    if (options.shmDir !== undefined) configureSharedMemory({ dir: options.shmDir });
    const imports = options.imports ?? [];
    // Values are rebuilt here (downloaded arguments, the pool's results) and in the pool processes.
    this.#imported = Promise.all(imports.map((specifier) => import(specifier)));
    this.#imported.catch(() => {});
    const execArgv = [
      ...inheritableExecArgv(process.execArgv),
      ...imports.flatMap((specifier) => ['--import', specifier]),
    ];
    const makePool = () =>
      new ProcessPoolExecutor({
        ...(options.maxWorkers === undefined ? {} : { maxWorkers: options.maxWorkers }),
        ...(options.shmDir === undefined ? {} : { shmDir: options.shmDir }),
        ...(imports.length === 0 ? {} : { execArgv }),
      });
    this.#pools = new MachinePool(makePool, this.name, (error) => {
      // Stop fetching at once; close() then waits for the jobs being given back.
      void this.#worker.close().catch(() => {});
      this.#onFailed(error);
    });
    this.#tasks = new JobTasks(this.name);
    this.#redis = connect(options.connect, `shmex-machine-${this.name}`);
    this.#redis.on('error', () => {});
    this.#redisTimeout = options.redisTimeout ?? 30_000;
    this.#redis.on('ready', () => {
      this.#redisDownSince = undefined;
    });
    this.#redis.on('close', () => {
      this.#redisDownSince ??= Date.now();
    });
    this.#subscriber = connect(options.connect, `shmex-machine-cancel-${this.name}`, true);
    this.#subscriber.on('error', () => {});
    this.#store = new BlobStore(this.#redis, 0);
    this.#jobs = new bullmq.Queue(this.#queue, { connection: this.#redis });
    this.#jobs.on('error', () => {});
    const lockDuration = options.lockDuration ?? 30_000;
    this.#worker = new bullmq.Worker(this.#queue, (job, token, signal) => this.#process(job, token, signal), {
      connection: { url: options.connect, maxRetriesPerRequest: null } as never,
      concurrency: options.concurrency ?? 2 * this.#pools.current.maxWorkers,
      lockDuration,
      stalledInterval: lockDuration,
      // Retries after a lost machine are counted per job (its maxRetries), not here.
      maxStalledCount: 1000,
      autorun: true,
      name: this.name,
    });
    this.#worker.on('error', () => {});
    void this.#subscriber.subscribe(cancelChannel(this.#queue)).catch(() => {});
    this.#subscriber.on('message', (_channel: string, text: string) => {
      const { jobId, reason } = JSON.parse(text) as { jobId: string; reason: string };
      this.#worker.cancelJob(jobId, reason);
    });
    this.#heartbeat = setInterval(() => void this.#beat(), CLUSTER_HEARTBEAT_MS);
    void this.#beat();
  }

  /** Resolves once the machine takes jobs. */
  async ready(): Promise<void> {
    await this.#imported;
    await this.#worker.waitUntilReady();
    await this.#beat();
  }

  /**
   * Settles when the machine gives up, having stopped taking jobs: its local
   * pool keeps breaking (MachinePoolBrokenError; it gave back the jobs it
   * held), or Redis has been unreachable for `redisTimeout`
   * (RedisUnavailableError). The `shmex worker` command then exits non-zero.
   */
  get failed(): Promise<MachinePoolBrokenError | RedisUnavailableError> {
    return this.#failed;
  }

  async #beat(): Promise<void> {
    const down = this.#redisDownSince;
    if (down !== undefined && Date.now() - down >= this.#redisTimeout) {
      this.#loseRedis(Date.now() - down);
      return;
    }
    const info = {
      name: this.name,
      host: hostname(),
      pid: process.pid,
      maxWorkers: this.#pools.current.maxWorkers,
      running: this.#running,
      done: this.#done,
      startedAt: this.#started,
    };
    await this.#redis
      .set(machineKey(this.#queue, this.name), JSON.stringify(info), 'PX', CLUSTER_HEARTBEAT_TTL_MS)
      .catch(() => {});
    await sweepFinishedJobs(this.#jobs).catch(() => {});
  }

  async #process(
    job: BullMQ.Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<JobResult> {
    const data = job.data as JobData;
    this.#running++;
    // Arrays of this job alone (its arguments, its result): given back to the segment pool when
    // it ends, so the next job's arrays land in memory already faulted in, not in fresh pages.
    const owned: unknown[] = [];
    try {
      if (this.#pools.gaveUp !== undefined) return await this.#giveBack(job, token);
      const runs = job.stalledCounter ?? 0;
      if (runs > data.maxRetries) {
        throw new MachineLostError(String(job.id), runs, 'its lease ran out before it finished');
      }
      const fn = this.#tasks.resolve(data.task);
      if (data.task.kind === 'module') this.#pools.useModuleVersion(data.task.url, data.task.digest);
      await this.#imported;
      const message = await receiveMessage(
        this.#redis,
        { text: data.args, ...(data.argsKey === undefined ? {} : { key: data.argsKey }) },
        "a task's arguments",
      );
      const args = (await decodeValue(message, this.#store, this.#cache, owned)) as unknown[];
      // Every task of a batch listens to the job's one signal.
      if (signal !== undefined && data.batch === true) setMaxListeners(0, signal);
      // BullMQ gives every job a signal, but only a task whose submitter can abort it listens to it:
      // the local pool runs a task that may be stopped alone in its process, without the prefetch and
      // the gathered results that make tiny tasks cheap.
      const limits = {
        ...(signal === undefined || data.abortable !== true ? {} : { signal }),
        ...(data.timeout === undefined ? {} : { timeout: data.timeout }),
      };
      const result = await runOnPool(this.#pools, fn, args, data, limits, this.name);
      if (result === undefined) return await this.#giveBack(job, token);
      return await uploadResult(this.#redis, this.#queue, job.id, data, result.value, owned, this.name);
    } catch (error) {
      if (error instanceof bullmq.WaitingError) throw error; // given back to the queue
      return {
        ok: false,
        error: encodeError(explainUnregistered(error, this.name), this.name),
        machine: this.name,
      };
    } finally {
      for (const array of owned) release(array as Parameters<typeof release>[0]);
      this.#running--;
      this.#done++;
    }
  }

  /** Puts a job back in the queue for another machine, without counting an attempt. */
  async #giveBack(job: BullMQ.Job, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new bullmq.WaitingError();
  }

  /**
   * Redis has been away longer than redisTimeout: BullMQ's blocking reader
   * would reconnect forever and keep the process alive, taking no job.
   * The machine stops, and says so through `failed`.
   */
  #loseRedis(forMs: number): void {
    if (this.#redisLost !== undefined) return;
    clearInterval(this.#heartbeat);
    this.#redisLost = new RedisUnavailableError(
      `machine '${this.name}' stops: Redis has been unreachable for ${forMs} ms (redisTimeout ${this.#redisTimeout} ms)`,
    );
    void this.#worker.close(true).catch(() => {});
    this.#onFailed(this.#redisLost);
  }

  /** Stops taking jobs, lets running ones finish, and stops the local pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#heartbeat);
      // BullMQ's close() waits for a connection that, with Redis gone, never comes: bounded then.
      const bullmqClosed = Promise.allSettled([this.#worker.close(), this.#jobs.close()]);
      if (this.#redisLost === undefined) await bullmqClosed;
      else {
        await Promise.race([bullmqClosed, new Promise((r) => setTimeout(r, 1000).unref())]);
        void this.#worker.disconnect().catch(() => {});
        void this.#jobs.disconnect().catch(() => {});
      }
      // With Redis gone, tasks not started yet could not report: they do not start.
      await this.#pools.current.shutdown({ cancelFutures: this.#redisLost !== undefined });
      this.#cache.clear();
      await this.#redis.del(machineKey(this.#queue, this.name)).catch(() => {});
      this.#subscriber.disconnect();
      this.#redis.disconnect();
    })();
    return this.#closing;
  }
}
