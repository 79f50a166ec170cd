// A Future is the pending result of one task: an explicit state machine
// (pending -> running -> finished, or pending -> cancelled) with one guarded
// transition into running, as in concurrent.futures. It is awaitable.
import { CancelledError, InvalidArgumentError, TimeoutError } from './errors.js';
import { describeValue } from './options.js';

type State = 'pending' | 'running' | 'cancelled' | 'finished';

/** What the owner of a Future (the executor) uses to move it through its states. */
export interface FutureControl<T> {
  /** pending -> running; false if the Future was cancelled meanwhile (then do not run it). */
  start(): boolean;
  /** pending -> cancelled with this error (an abort); false if the Future had started. */
  cancel(error: Error): boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export type DoneCallback<T> = (future: Future<T>) => void;

export function checkTimeout(timeoutMs: unknown, where: string): number | undefined {
  if (timeoutMs === undefined || timeoutMs === null) return undefined;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError(
      `${where}: timeout must be a non-negative number of milliseconds, got ${describeValue(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

export class Future<T> implements PromiseLike<T> {
  #state: State = 'pending';
  #failed = false;
  #error: unknown;
  readonly #promise: Promise<T>;
  #reject!: (error: unknown) => void;
  #callbacks: DoneCallback<T>[] = [];
  readonly #onCancel: (() => void) | undefined;

  /**
   * @param setup receives the controls that move this Future through its states.
   * @param onCancel runs once if the Future is cancelled while pending.
   */
  constructor(setup: (control: FutureControl<T>) => void, onCancel?: () => void) {
    this.#onCancel = onCancel;
    let resolve!: (value: T) => void;
    this.#promise = new Promise<T>((res, rej) => {
      resolve = res;
      this.#reject = rej;
    });
    // A failure nobody asked about is not an unhandled rejection, as in Python.
    this.#promise.catch(() => {});
    setup({
      start: () => {
        if (this.#state !== 'pending') return false;
        this.#state = 'running';
        return true;
      },
      cancel: (error) => this.#cancel(error),
      resolve: (value) => {
        if (this.#settle()) resolve(value);
      },
      reject: (error) => {
        if (!this.#settle()) return;
        this.#failed = true;
        this.#error = error;
        this.#reject(error);
      },
    });
  }

  #settle(): boolean {
    if (this.#state === 'finished' || this.#state === 'cancelled') return false;
    this.#state = 'finished';
    queueMicrotask(() => this.#runCallbacks());
    return true;
  }

  #runCallbacks(): void {
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    for (const callback of callbacks) this.#invoke(callback);
  }

  #invoke(callback: DoneCallback<T>): void {
    try {
      callback(this);
    } catch (error) {
      process.emitWarning(
        `a Future done-callback threw: ${(error as Error)?.stack ?? String(error)}`,
        'ShmexWarning',
      );
    }
  }

  /** Cancels the task if it has not started. Returns true if it is (now) cancelled. */
  cancel(): boolean {
    if (this.#state === 'cancelled') return true;
    return this.#cancel(new CancelledError());
  }

  #cancel(error: Error): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = 'cancelled';
    this.#failed = true;
    this.#error = error;
    // Rejects the awaited promise too, so nobody waits forever on a cancelled task.
    this.#reject(this.#error);
    this.#onCancel?.();
    queueMicrotask(() => this.#runCallbacks());
    return true;
  }

  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  running(): boolean {
    return this.#state === 'running';
  }

  done(): boolean {
    return this.#state === 'finished' || this.#state === 'cancelled';
  }

  /** The task's value; rejects with its error, a CancelledError, or a TimeoutError after `timeoutMs`. */
  result(timeoutMs?: number): Promise<T> {
    const limit = checkTimeout(timeoutMs, 'Future.result');
    return this.#within(limit, this.#promise);
  }

  /** The task's error, or undefined if it succeeded; rejects if cancelled (or aborted before it started) or after `timeoutMs`. */
  exception(timeoutMs?: number): Promise<unknown> {
    const limit = checkTimeout(timeoutMs, 'Future.exception');
    return this.#within(
      limit,
      this.#promise.then(
        () => undefined,
        (error: unknown) => {
          if (this.#state === 'cancelled') throw error;
          return error;
        },
      ),
    );
  }

  #within<V>(limit: number | undefined, promise: Promise<V>): Promise<V> {
    if (limit === undefined || this.done()) return promise;
    return new Promise<V>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TimeoutError(`the task did not finish within ${limit} ms`)),
        limit,
      );
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** Calls `callback(future)` once the Future is done (at once, on a microtask, if it already is). */
  addDoneCallback(callback: DoneCallback<T>): void {
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError('Future.addDoneCallback: callback must be a function');
    }
    if (this.done()) queueMicrotask(() => this.#invoke(callback));
    else this.#callbacks.push(callback);
  }

  // biome-ignore lint/suspicious/noThenProperty: a Future is awaitable by design
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#promise.finally(onFinally);
  }

  /** @internal the error or undefined, synchronously, for wait(). */
  get failedWith(): { error: unknown } | undefined {
    return this.#failed ? { error: this.#error } : undefined;
  }

  get [Symbol.toStringTag](): string {
    return `Future<${this.#state}>`;
  }
}
