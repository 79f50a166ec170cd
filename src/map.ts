// executor.map(): results in input order, inputs read lazily, a bounded
// window of tasks in flight (so queued work stays cancellable and memory
// bounded), optional chunking, and a deadline counted from the call to map().
import { InvalidArgumentError, TimeoutError } from './errors.js';
import { checkTimeout, type Future } from './future.js';
import { describeValue, rejectUnknownKeys } from './options.js';
import type { TaskRef } from './pool/protocol.js';
import { kObserve } from './symbols.js';

export interface MapOptions {
  /** Items per task: larger chunks cut per-task overhead for many small items. @default 1 */
  chunksize?: number;
  /** Milliseconds, from the call to map(), within which every result must arrive. @default no limit */
  timeout?: number;
}

export type MapInputs<A extends unknown[]> = { [K in keyof A]: Iterable<A[K]> | AsyncIterable<A[K]> };

/** What `map()` returns: an async iterator of the results, in input order. */
export interface MapIterator<R> extends AsyncIterableIterator<R> {
  /**
   * Every result, in input order (Node 20 has no `Array.fromAsync`). Rejects
   * with the first error; the rest of the map is then closed as by `return()`.
   */
  toArray(): Promise<R[]>;
  [Symbol.asyncIterator](): MapIterator<R>;
}

const MAP_OPTIONS: readonly (keyof MapOptions)[] = ['chunksize', 'timeout'];

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

interface Submitter {
  submitRef(task: TaskRef, args: unknown, chunk: boolean): Future<unknown>;
}

function isIterable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'string') &&
    (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

export function splitMapArguments(rest: unknown[]): { iterables: unknown[]; options: MapOptions } {
  let options: MapOptions = {};
  const last = rest.at(-1);
  if (rest.length > 0 && typeof last === 'object' && last !== null && !isIterable(last)) {
    options = last as MapOptions;
    rest = rest.slice(0, -1);
  }
  if (rest.length === 0) throw new InvalidArgumentError('map(fn, ...iterables): give at least one iterable');
  rest.forEach((iterable, i) => {
    if (!isIterable(iterable)) {
      throw new InvalidArgumentError(
        `map(fn, ...iterables): argument ${i + 1} is not an iterable or async iterable`,
      );
    }
  });
  const { chunksize = 1 } = options;
  if (!Number.isSafeInteger(chunksize) || chunksize < 1) {
    throw new InvalidArgumentError(
      `map: chunksize must be a positive integer, got ${describeValue(chunksize)}`,
    );
  }
  rejectUnknownKeys(options, MAP_OPTIONS, 'map');
  checkTimeout(options.timeout, 'map');
  return { iterables: rest, options };
}

function iteratorOf(iterable: unknown): AnyIterator {
  const asyncFactory = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator];
  if (typeof asyncFactory === 'function') return asyncFactory.call(iterable);
  return (iterable as Iterable<unknown>)[Symbol.iterator]();
}

export function mapTasks(
  executor: Submitter,
  task: TaskRef,
  iterables: unknown[],
  options: MapOptions,
  maxWorkers: number,
): MapIterator<unknown> {
  const chunksize = options.chunksize ?? 1;
  const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
  // Enough to keep every worker busy with one task queued behind it.
  const window = 2 * maxWorkers;
  const iterators = iterables.map(iteratorOf);
  /** Tasks submitted and not yet yielded, in input order, with the index of their first item. */
  const inFlight: Array<{ future: Future<unknown>; first: number; count: number }> = [];
  let submitted = 0;
  let ready: unknown[] = [];
  let exhausted = false;
  let finished = false;

  const readArgs = async (): Promise<unknown[] | undefined> => {
    const args: unknown[] = [];
    for (const iterator of iterators) {
      const step = await iterator.next();
      if (step.done) return undefined;
      args.push(step.value);
    }
    return args;
  };

  const fill = async (): Promise<void> => {
    while (!exhausted && inFlight.length < window) {
      const batch: unknown[][] = [];
      while (batch.length < chunksize) {
        const args = await readArgs();
        if (args === undefined) {
          exhausted = true;
          break;
        }
        batch.push(args);
      }
      if (batch.length === 0) break;
      inFlight.push({
        future:
          chunksize === 1 ? executor.submitRef(task, batch[0], false) : executor.submitRef(task, batch, true),
        first: submitted,
        count: batch.length,
      });
      submitted += batch.length;
    }
  };

  const mapTimeout = ({ first, count }: { first: number; count: number }): TimeoutError => {
    const items = count === 1 ? `element ${first}` : `elements ${first} to ${first + count - 1} (one chunk)`;
    return new TimeoutError(
      `map: the result of ${items} was not ready within the map's timeout of ${options.timeout} ms ` +
        '(counted from the call to map()); give a larger timeout, or none, to wait longer',
    );
  };

  const close = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    // Their failures, if any, are this map's: its caller has the first error, or stopped reading.
    for (const { future } of inFlight.splice(0)) {
      future[kObserve]();
      future.cancel();
    }
    ready = [];
    // Every input is closed, also the longer ones of a zip, so their `finally` blocks run.
    await Promise.allSettled(iterators.map(async (iterator) => iterator.return?.()));
  };

  const next = async (): Promise<IteratorResult<unknown>> => {
    if (finished) return { value: undefined, done: true };
    let head: Future<unknown> | undefined;
    try {
      if (ready.length === 0) {
        await fill();
        const entry = inFlight.shift();
        if (entry === undefined) {
          await close();
          return { value: undefined, done: true };
        }
        head = entry.future;
        head[kObserve](); // its outcome goes to the caller of next()
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (left !== undefined && left <= 0 && !head.done()) throw mapTimeout(entry);
        let value: unknown;
        try {
          value = await head.result(left === undefined ? undefined : Math.max(0, left));
        } catch (error) {
          // The Future's own message would give the time left, not the timeout the caller gave.
          throw error instanceof TimeoutError && !head.done() ? mapTimeout(entry) : error;
        }
        ready = chunksize === 1 ? [value] : (value as unknown[]);
        await fill(); // keep the window full while the caller works on this result
      }
      return { value: ready.shift(), done: false };
    } catch (error) {
      head?.cancel(); // the result waited for (on a timeout) is no longer in inFlight: cancel it too
      await close();
      throw error;
    }
  };

  const toArray = async (): Promise<unknown[]> => {
    const results: unknown[] = [];
    for (;;) {
      const step = await next(); // on an error, next() has closed the map already
      if (step.done) return results;
      results.push(step.value);
    }
  };

  return {
    next,
    return: async () => {
      await close();
      return { value: undefined, done: true };
    },
    toArray,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
