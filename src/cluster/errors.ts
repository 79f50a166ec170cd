// Errors of shmex/cluster. Each has a stable `code`, like those of shmex
// itself (src/errors.ts); a task's own error is never wrapped in one of these.
import { ShmexError } from '../errors.js';

/** Redis cannot be reached (or stopped answering) while tasks were pending or being submitted. */
export class RedisUnavailableError extends ShmexError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_REDIS_UNAVAILABLE', message, options);
  }
}

/** A job vanished from Redis before its result was read (Redis restarted without persistence, or was flushed). */
export class JobLostError extends ShmexError {
  readonly jobId: string;
  constructor(jobId: string, why: string) {
    super('ERR_SHMEX_JOB_LOST', `job ${jobId} is gone from Redis before its result was read: ${why}`);
    this.jobId = jobId;
  }
}

/** The machine running a task was lost (killed, or stalled past its lease) more often than `maxRetries` allows. */
export class MachineLostError extends ShmexError {
  readonly jobId: string;
  readonly runs: number;
  constructor(jobId: string, runs: number, detail: string) {
    super(
      'ERR_SHMEX_MACHINE_LOST',
      `job ${jobId}: the machine running it was lost ${runs} time(s), more than maxRetries allows (${detail})`,
    );
    this.jobId = jobId;
    this.runs = runs;
  }
}

/** A stored array (blob) is missing, incomplete or fails its checksum. */
export class BlobError extends ShmexError {
  readonly key: string;
  constructor(key: string, message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_BLOB', `${message} (key ${key})`, options);
    this.key = key;
  }
}

/** Redis refused to store an array: it is full (maxmemory). Nothing of the array is left stored. */
export class RedisFullError extends ShmexError {
  constructor(bytes: number, options?: ErrorOptions, what = `an array of ${bytes} bytes`) {
    super(
      'ERR_SHMEX_REDIS_FULL',
      `Redis is out of memory (maxmemory) and refused ${what}; nothing of it was kept. ` +
        'Raise maxmemory, or wait for other tasks to finish',
      options,
    );
  }
}

/** A module task's file differs (or is missing) on the machine that was to run it. */
export class ModuleMismatchError extends ShmexError {
  readonly machine: string;
  readonly module: string;
  constructor(machine: string, module: string, detail: string) {
    super(
      'ERR_SHMEX_MODULE_MISMATCH',
      `machine '${machine}' cannot run tasks of ${module}: ${detail}. Every machine needs the same file at the same path`,
    );
    this.machine = machine;
    this.module = module;
  }
}

/** A value a cluster cannot carry: shared() (writes cannot cross machines), a SharedArrayBuffer. */
export class ClusterValueError extends ShmexError {
  constructor(message: string) {
    super('ERR_SHMEX_CLUSTER_VALUE', message);
  }
}

/** A job failed on a machine outside of its task (the machine's own failure, reported by BullMQ). */
export class RemoteJobError extends ShmexError {
  readonly jobId: string;
  constructor(jobId: string, reason: string) {
    super('ERR_SHMEX_REMOTE_JOB', `job ${jobId} failed on a machine: ${reason}`);
    this.jobId = jobId;
  }
}

/** A machine's local pool broke more often in a row than it may be rebuilt: the machine stops taking jobs. */
export class MachinePoolBrokenError extends ShmexError {
  readonly machine: string;
  constructor(machine: string, rebuilds: number, options?: ErrorOptions) {
    const why = (options?.cause as Error | undefined)?.message ?? 'unknown';
    super(
      'ERR_SHMEX_MACHINE_POOL_BROKEN',
      `machine ${machine}: its local pool broke again after ${rebuilds} rebuild(s) (${why}); it stops taking jobs, which go to other machines`,
      options,
    );
    this.machine = machine;
  }
}

/**
 * A machine received a value it cannot rebuild: an instance of an array
 * wrapper class, or a value of a codec (Arrow...), not registered in its
 * process. Machines register them from the modules given to `--import`.
 */
export class MachineRegistrationError extends ShmexError {
  readonly machine: string;
  constructor(machine: string, what: string, options?: { cause?: unknown }) {
    super(
      'ERR_SHMEX_MACHINE_UNREGISTERED',
      `machine '${machine}' cannot rebuild ${what}: it is not registered there. Start its shmex worker with ` +
        '--import MODULE, where MODULE registers it (registerArrayWrapper, registerArrayCodec, or shmex/arrow for Arrow values): ' +
        'the machine and its pool processes import it',
      options,
    );
    this.machine = machine;
  }
}

/** A value was received whose codec or wrapper class is not registered in this process. */
export class UnregisteredValueError extends ShmexError {
  /** What could not be rebuilt: "an instance of array wrapper 'Point'", "a value of codec 'apache-arrow.Table'". */
  readonly what: string;
  constructor(what: string) {
    super(
      'ERR_SHMEX_UNREGISTERED_VALUE',
      `received ${what}, which is not registered in this process (pid ${process.pid})`,
    );
    this.what = what;
  }
}

/**
 * A value this machine could not rebuild because its class or codec is not
 * registered here (in this process: UnregisteredValueError; in the local
 * pool's decoding of a result, or in a pool process: the local error codes):
 * said as what the machine's operator must do.
 */
export function explainUnregistered(error: unknown, machine: string): unknown {
  if (error instanceof UnregisteredValueError)
    return new MachineRegistrationError(machine, error.what, { cause: error });
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_SHMEX_UNKNOWN_WRAPPER' && code !== 'ERR_SHMEX_UNKNOWN_CODEC') return error;
  const message = String((error as Error).message);
  const wrapper = /array wrapper '([^']*)'/.exec(message)?.[1];
  const codec = /codec '([^']*)'/.exec(message)?.[1];
  const what =
    wrapper !== undefined
      ? `an instance of array wrapper '${wrapper}'`
      : `a value of codec '${codec ?? 'unknown'}'`;
  return new MachineRegistrationError(machine, what, { cause: error });
}
