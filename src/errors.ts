/**
 * Errors raised by shmex itself. Each class has a stable `code` so callers
 * match on codes, not on message text. Errors thrown by a task are not
 * wrapped: they arrive rebuilt with their own name (see transfer/remote-error.ts).
 */
export class ShmexError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** `submit`, `map` or `module` was called after `shutdown`. */
export class ShutdownError extends ShmexError {
  constructor(message = 'cannot submit a task after the executor was shut down') {
    super('ERR_SHMEX_SHUTDOWN', message);
  }
}

/** The Future was cancelled before it started. */
export class CancelledError extends ShmexError {
  constructor(message = 'the task was cancelled before it started') {
    super('ERR_SHMEX_CANCELLED', message);
  }
}

/** A wait (`result(timeoutMs)`, `asCompleted`, `wait`, `map`) ran out of time. */
export class TimeoutError extends ShmexError {
  constructor(message: string) {
    super('ERR_SHMEX_TIMEOUT', message);
  }
}

/**
 * The task was stopped by the AbortSignal given in `withOptions({ signal })`:
 * before it started (the Future is then cancelled) or while it ran (its
 * worker process was stopped and replaced). `cause` is the signal's reason.
 */
export class AbortError extends ShmexError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_ABORTED', message, options);
  }
}

/** The task ran longer than the `timeout` given in `withOptions({ timeout })`; its worker process was stopped and replaced. */
export class TaskTimeoutError extends ShmexError {
  /** The limit, in milliseconds. */
  readonly timeout: number;
  constructor(timeout: number) {
    super(
      'ERR_SHMEX_TASK_TIMEOUT',
      `the task ran longer than its timeout of ${timeout} ms; its worker was stopped and replaced`,
    );
    this.timeout = timeout;
  }
}

/** The worker running the task died: exit, signal, or out of memory. */
export class WorkerCrashedError extends ShmexError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly pid: number | undefined;
  /** The worker thread's id, for a ThreadPoolExecutor's worker. */
  readonly threadId: number | undefined;
  constructor(
    pid: number | undefined,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    when?: string,
    /** What made it exit, when the worker could tell (an uncaught exception). */
    cause?: unknown,
    /** For a worker thread (ThreadPoolExecutor): its threadId. */
    threadId?: number,
  ) {
    const how = signal
      ? `was killed by signal ${signal}${signal === 'SIGABRT' ? ' (V8 aborts this way when a worker runs out of memory)' : ''}`
      : `exited with code ${exitCode}`;
    const why =
      cause === undefined
        ? ''
        : ` after an error no task caught: ${(cause as Error)?.message ?? String(cause)}`;
    super(
      'ERR_SHMEX_WORKER_CRASHED',
      `${threadId === undefined ? `the worker process (pid ${pid})` : `the worker thread ${threadId}`} ${when === undefined ? `running this task ${how}` : `${how} ${when}`}${why}`,
      cause === undefined ? undefined : { cause },
    );
    this.exitCode = exitCode;
    this.signal = signal;
    this.pid = pid;
    this.threadId = threadId;
  }
}

/** The executor can no longer run tasks (its initializer failed). */
export class BrokenExecutorError extends ShmexError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_BROKEN', message, options);
  }
}

/** A value in a task's arguments or result cannot travel between processes. */
export class NotTransferableError extends ShmexError {
  /** Where the value sits, for example `args[1].weights.get("a")`. */
  readonly path: string;
  constructor(path: string, what: string, hint: string, options?: ErrorOptions) {
    super(
      'ERR_SHMEX_NOT_TRANSFERABLE',
      `${path} cannot be sent to another process: ${what}. ${hint}`,
      options,
    );
    this.path = path;
  }
}

/** The thing given as a task is not something a worker can run. */
export class InvalidTaskError extends ShmexError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_INVALID_TASK', message, options);
  }
}

/** A module task names an export its module does not have. */
export class TaskNotFoundError extends ShmexError {
  constructor(message: string) {
    super('ERR_SHMEX_TASK_NOT_FOUND', message);
  }
}

/** A function task used a variable from outside its own source. */
export class TaskClosureError extends ShmexError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SHMEX_TASK_CLOSURE', message, options);
  }
}

/** An option or argument of the shmex API itself is wrong. */
export class InvalidArgumentError extends ShmexError {
  constructor(message: string) {
    super('ERR_SHMEX_INVALID_ARGUMENT', message);
  }
}

/**
 * An adapter (shmex/arrow, shmex/ndarray, shmex/stdlib-ndarray) was imported
 * but the optional peer dependency it needs is not installed.
 */
export class MissingPeerDependencyError extends ShmexError {
  /** The package to install, for example `apache-arrow`. */
  readonly dependency: string;
  constructor(entry: string, dependency: string, options?: ErrorOptions) {
    super(
      'ERR_SHMEX_MISSING_PEER_DEPENDENCY',
      `${entry} needs the optional peer dependency ${dependency}, which cannot be found from here: ` +
        `npm install ${dependency}`,
      options,
    );
    this.dependency = dependency;
  }
}

/** A message between processes could not be decoded: a bug, or a process that is not a shmex peer. */
export class MalformedPayloadError extends ShmexError {
  constructor(detail: string, options?: ErrorOptions) {
    super('ERR_SHMEX_MALFORMED_PAYLOAD', `malformed shmex payload: ${detail}`, options);
  }
}

/**
 * A codec's `decode` threw while rebuilding a received value (see
 * registerArrayCodec). `cause` is what it threw.
 */
export class CodecError extends ShmexError {
  /** The name the codec is registered under. */
  readonly codec: string;
  constructor(codec: string, cause: unknown) {
    super(
      'ERR_SHMEX_CODEC_FAILED',
      `codec '${codec}' failed to decode a value: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.codec = codec;
  }
}

/** A shared-memory operation failed (for example /dev/shm is full). */
export class SharedMemoryError extends ShmexError {
  readonly syscall: string | undefined;
  readonly errno: string | undefined;
  constructor(message: string, syscall?: string, errno?: string, options?: ErrorOptions) {
    super('ERR_SHMEX_SHARED_MEMORY', message, options);
    this.syscall = syscall;
    this.errno = errno;
  }
}
