// A Future is the pending result of one task: an explicit state machine
// (pending -> running -> finished, or pending -> cancelled) with one guarded
// transition into running, as in concurrent.futures. It is awaitable.
import { AbortError, CancelledError, InvalidArgumentError, TimeoutError } from './errors.js';
import { describeValue } from './options.js';
import type { TaskRef } from './pool/protocol.js';
import type { TaskTally } from './stats.js';
import { kForgetDone, kObserve, kWhenDone } from './symbols.js';
import { track, type Unobserved, untrack } from './unobserved.js';

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

/** @internal what the owner of a Future (the executor) wants to hear of it. */
export interface FutureOptions {
  /** Runs once if the Future is cancelled while pending. */
  onCancel?: () => void;
  /** Counts how the Future ended. */
  tally?: TaskTally;
  /** Set: a failure nobody observes is reported (see unobserved.ts), naming this task. */
  reportAs?: TaskRef;
}

export function checkTimeout(timeoutMs: unknown, where: string): number | undefined {
  if (timeoutMs === undefined || timeoutMs === null) return undefined;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError(
      `${where}: timeout must be a non-negative number of milliseconds, got ${describeValue(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/** A rejection handler that does nothing, shared by every Future (see the constructor). */
const ignore = (): void => {};

// The Future's transitions, reached by its control object only: methods, not
// four closures per Future (a tiny task's parent cost is mostly allocation).
const kStart = Symbol('start');
const kCancelWith = Symbol('cancelWith');
const kResolve = Symbol('resolve');
const kReject = Symbol('reject');
/** future[kControl]: the Future's control object, for an owner that made it with a no-op setup. */
export const kControl = Symbol('shmex.control');

class Control<T> implements FutureControl<T> {
  readonly #future: Future<T>;

  constructor(future: Future<T>) {
    this.#future = future;
  }

  start(): boolean {
    return this.#future[kStart]();
  }

  cancel(error: Error): boolean {
    return this.#future[kCancelWith](error);
  }

  resolve(value: T): void {
    this.#future[kResolve](value);
  }

  reject(error: unknown): void {
    this.#future[kReject](error);
  }
}

export class Future<T> implements PromiseLike<T> {
  #state: State = 'pending';
  #failed = false;
  #error: unknown;
  /**
   * Made when first asked for (then(), result(), ...), settled already if the
   * Future is: a Future that is awaited as it is submitted gets one promise,
   * with no handler of its own for a rejection nobody observes.
   */
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #value: T | undefined;
  /** #promise has a rejection handler of its own (see #awaited). */
  #quiet = false;
  /** Made at the first callback: most Futures are awaited and never have one. */
  #callbacks: DoneCallback<T>[] | undefined;
  readonly #options: FutureOptions;
  readonly #control: Control<T>;
  /** Someone awaited it, asked for its result, or gave it to wait/asCompleted/map. */
  #observed = false;
  /** Its failure, while nobody has observed it. */
  #unobserved: Unobserved | undefined;

  /** @param setup receives the controls that move this Future through its states. */
  constructor(setup: (control: FutureControl<T>) => void, options: FutureOptions = {}) {
    this.#options = options;
    this.#control = new Control(this);
    setup(this.#control);
  }

  /** @internal */
  get [kControl](): FutureControl<T> {
    return this.#control;
  }

  /** @internal pending -> running. */
  [kStart](): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = 'running';
    return true;
  }

  /** @internal */
  [kCancelWith](error: Error): boolean {
    return this.#cancel(error);
  }

  /** @internal */
  [kResolve](value: T): void {
    if (!this.#settle()) return;
    this.#options.tally?.count('completed');
    this.#value = value;
    this.#resolve?.(value);
  }

  /** @internal */
  [kReject](error: unknown): void {
    if (!this.#settle()) return;
    this.#options.tally?.count('failed');
    this.#failed = true;
    this.#error = error;
    this.#reject?.(error);
    // A running task stopped by the user's own AbortSignal is, like a cancel, no surprise.
    const task = this.#options.reportAs;
    if (!this.#observed && task !== undefined && !(error instanceof AbortError)) {
      this.#unobserved = track(this, task, error);
    }
  }

  #settle(): boolean {
    if (this.#state === 'finished' || this.#state === 'cancelled') return false;
    this.#state = 'finished';
    // Most Futures have no done-callback (they are awaited): no microtask for them.
    if (this.#callbacks !== undefined && this.#callbacks.length > 0) {
      queueMicrotask(() => this.#runCallbacks());
    }
    return true;
  }

  #runCallbacks(): void {
    const callbacks = this.#callbacks ?? [];
    this.#callbacks = undefined;
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
    this.#options.tally?.count('cancelled');
    this.#failed = true;
    this.#error = error;
    // Rejects the awaited promise too, so nobody waits forever on a cancelled task.
    this.#reject?.(this.#error);
    this.#options.onCancel?.();
    if (this.#callbacks !== undefined && this.#callbacks.length > 0) {
      queueMicrotask(() => this.#runCallbacks());
    }
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
    this[kObserve]();
    const limit = checkTimeout(timeoutMs, 'Future.result');
    return this.#within(limit, this.#awaited(true));
  }

  /** The task's error, or undefined if it succeeded; rejects if cancelled (or aborted before it started) or after `timeoutMs`. */
  exception(timeoutMs?: number): Promise<unknown> {
    this[kObserve]();
    const limit = checkTimeout(timeoutMs, 'Future.exception');
    return this.#within(
      limit,
      this.#awaited(true).then(
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
    this[kObserve]();
    this[kWhenDone](callback);
  }

  /** @internal a done-callback of shmex's own bookkeeping: not an observer. */
  [kWhenDone](callback: DoneCallback<T>): void {
    if (this.done()) queueMicrotask(() => this.#invoke(callback));
    else if (this.#callbacks === undefined) this.#callbacks = [callback];
    else this.#callbacks.push(callback);
  }

  /**
   * @internal removes `callback` if it has not been called yet. A waiter
   * (wait, asCompleted) does this when it returns: its callback on a Future
   * still pending would keep every other Future of the call alive.
   */
  [kForgetDone](callback: DoneCallback<T>): void {
    const at = this.#callbacks?.indexOf(callback) ?? -1;
    if (at !== -1) this.#callbacks!.splice(at, 1);
  }

  // biome-ignore lint/suspicious/noThenProperty: a Future is awaitable by design
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this[kObserve]();
    return this.#awaited(false).then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    this[kObserve]();
    return this.#awaited(false).catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    this[kObserve]();
    return this.#awaited(false).finally(onFinally);
  }

  /**
   * The promise of its outcome, made at the first call. `quiet`: a caller
   * that may leave it unhandled (result() given to nobody) gets it with a
   * handler, so that a failure is not an unhandled rejection: unobserved.ts
   * reports a failure nobody observes, once the Future is collected or at exit.
   */
  #awaited(quiet: boolean): Promise<T> {
    let promise = this.#promise;
    if (promise === undefined) {
      if (this.#state === 'finished' || this.#state === 'cancelled') {
        promise = this.#failed ? Promise.reject(this.#error) : Promise.resolve(this.#value as T);
      } else {
        promise = new Promise<T>((res, rej) => {
          this.#resolve = res;
          this.#reject = rej;
        });
      }
      this.#promise = promise;
    }
    if (quiet && !this.#quiet) {
      this.#quiet = true;
      promise.catch(ignore);
    }
    return promise;
  }

  /** @internal someone has taken on its outcome: a failure will not be reported. */
  [kObserve](): void {
    this.#observed = true;
    if (this.#unobserved !== undefined) {
      untrack(this.#unobserved);
      this.#unobserved = undefined;
    }
  }

  /** @internal the error or undefined, synchronously, for wait(). */
  get failedWith(): { error: unknown } | undefined {
    return this.#failed ? { error: this.#error } : undefined;
  }

  get [Symbol.toStringTag](): string {
    return `Future<${this.#state}>`;
  }
}
