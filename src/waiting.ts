// asCompleted() and wait(): waiting on several Futures, as in concurrent.futures.

import { InvalidArgumentError, TimeoutError } from './errors.js';
import { checkTimeout, type Future } from './future.js';
import { describeValue } from './options.js';
import { kForgetDone, kObserve } from './symbols.js';

export const FIRST_COMPLETED = 'FIRST_COMPLETED';
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
export const ALL_COMPLETED = 'ALL_COMPLETED';
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

function unique<T>(futures: Iterable<Future<T>>, where: string): Set<Future<T>> {
  if (futures === null || typeof (futures as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
    throw new InvalidArgumentError(`${where}: expected an iterable of Futures`);
  }
  const set = new Set(futures);
  // Whoever waits on them sees how they end: their failures are observed.
  for (const future of set) future[kObserve]?.();
  return set;
}

/**
 * Yields each Future as it completes (finished or cancelled), those already
 * done first. Throws a TimeoutError if some are still running after `timeoutMs`.
 * (Written as an iterator, not an async generator: `yield` in an async
 * generator would await the Future and hand out its value instead.)
 */
export function asCompleted<T>(
  futures: Iterable<Future<T>>,
  timeoutMs?: number,
): AsyncIterableIterator<Future<T>> {
  const limit = checkTimeout(timeoutMs, 'asCompleted');
  const pending = unique(futures, 'asCompleted');
  const total = pending.size;
  const deadline = limit === undefined ? undefined : Date.now() + limit;
  const ready: Future<T>[] = [];
  let wake: (() => void) | undefined;
  const onDone = (future: Future<T>) => {
    ready.push(future);
    wake?.();
  };
  for (const future of pending) {
    if (future.done()) ready.push(future);
    else future.addDoneCallback(onDone);
  }
  // Ends the iteration (timed out or closed) and lets go of the Futures: onDone, left on a
  // Future still pending, would keep every other one reachable (CPython bpo-14406).
  const close = () => {
    for (const future of pending) future[kForgetDone]?.(onDone);
    pending.clear();
    ready.length = 0;
    wake?.();
  };
  const next = async (): Promise<IteratorResult<Future<T>>> => {
    while (pending.size > 0) {
      const future = ready.shift();
      if (future !== undefined) {
        pending.delete(future);
        return { value: future, done: false };
      }
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) {
        const unfinished = pending.size;
        close();
        throw new TimeoutError(`${unfinished} (of ${total}) futures unfinished after ${limit} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    }
    return { value: undefined, done: true };
  };
  return {
    next,
    return: async () => {
      close();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export interface WaitOptions {
  /** Milliseconds to wait at most; then return what is done so far. @default no limit */
  timeout?: number;
  /** @default 'ALL_COMPLETED' */
  returnWhen?: ReturnWhen;
}

export interface WaitResult<T> {
  done: Set<Future<T>>;
  notDone: Set<Future<T>>;
}

/** Waits until the condition in `returnWhen` holds or the timeout passes, and splits the Futures by state. */
export async function wait<T>(
  futures: Iterable<Future<T>>,
  options: WaitOptions = {},
): Promise<WaitResult<T>> {
  const all = unique(futures, 'wait');
  const limit = checkTimeout(options.timeout, 'wait');
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new InvalidArgumentError(
      `wait: returnWhen must be 'FIRST_COMPLETED', 'FIRST_EXCEPTION' or 'ALL_COMPLETED', got ${describeValue(returnWhen)}`,
    );
  }
  const failed = (f: Future<T>) => f.done() && !f.cancelled() && f.failedWith !== undefined;
  const satisfied = () => {
    const done = [...all].filter((f) => f.done());
    if (done.length === all.size) return true;
    if (returnWhen === FIRST_COMPLETED) return done.length > 0;
    if (returnWhen === FIRST_EXCEPTION) return done.some(failed);
    return false;
  };
  if (!satisfied() && limit !== 0) {
    const waiting = [...all].filter((f) => !f.done());
    await new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        // Lets go of the Futures still pending: check() keeps every Future of the call reachable.
        for (const future of waiting) future[kForgetDone]?.(check);
        resolve();
      };
      const check = () => {
        if (satisfied()) finish();
      };
      const timer = limit === undefined ? undefined : setTimeout(finish, limit);
      for (const future of waiting) future.addDoneCallback(check);
    });
  }
  const done = new Set<Future<T>>();
  const notDone = new Set<Future<T>>();
  for (const future of all) (future.done() ? done : notDone).add(future);
  return { done, notDone };
}
