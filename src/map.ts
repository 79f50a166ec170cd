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
  /** Whether submitting `args` copies arrays into new segments (heap arrays at or above the threshold). */
  copies?(args: unknown, chunk: boolean): boolean;
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
  return new MapRun(executor, task, iterables.map(iteratorOf), options, maxWorkers);
}

/** A task submitted by a map and not yet yielded, with the index of its first item. */
interface InFlight {
  future: Future<unknown>;
  first: number;
  count: number;
  /** Its arguments were copied into segments, which it holds until it ends. */
  copies: boolean;
}

/** One call of map(): reads its inputs as results are taken, keeping a window of tasks in flight. */
class MapRun implements MapIterator<unknown> {
  readonly #executor: Submitter;
  readonly #task: TaskRef;
  readonly #iterators: AnyIterator[];
  readonly #chunksize: number;
  readonly #timeout: number | undefined;
  readonly #deadline: number | undefined;
  /** Enough to keep every worker busy with one task queued behind it. */
  readonly #window: number;
  /**
   * Unfinished tasks whose arguments were copied, at most: one running per
   * worker and one ready for the first worker that ends. The next element is
   * read (and copied) only when there is room, so a map over the chunks of a
   * large heap array holds this many chunks' copies, not a whole window's.
   */
  readonly #copyWindow: number;
  /** Tasks submitted and not yet yielded, in input order. */
  readonly #inFlight: InFlight[] = [];
  #submitted = 0;
  #ready: unknown[] = [];
  #exhausted = false;
  #finished = false;

  constructor(
    executor: Submitter,
    task: TaskRef,
    iterators: AnyIterator[],
    options: MapOptions,
    maxWorkers: number,
  ) {
    this.#executor = executor;
    this.#task = task;
    this.#iterators = iterators;
    this.#chunksize = options.chunksize ?? 1;
    this.#timeout = options.timeout;
    this.#deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    this.#window = 2 * maxWorkers;
    this.#copyWindow = maxWorkers + 1;
  }

  async next(): Promise<IteratorResult<unknown>> {
    if (this.#finished) return { value: undefined, done: true };
    let head: Future<unknown> | undefined;
    try {
      if (this.#ready.length === 0) {
        await this.#fill();
        const entry = this.#inFlight.shift();
        if (entry === undefined) {
          await this.#close();
          return { value: undefined, done: true };
        }
        head = entry.future;
        head[kObserve](); // its outcome goes to the caller of next()
        const value = await this.#resultOf(entry);
        this.#ready = this.#chunksize === 1 ? [value] : (value as unknown[]);
        await this.#fill(); // keep the window full while the caller works on this result
      }
      return { value: this.#ready.shift(), done: false };
    } catch (error) {
      head?.cancel(); // the result waited for (on a timeout) is no longer in flight: cancel it too
      await this.#close();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<unknown>> {
    await this.#close();
    return { value: undefined, done: true };
  }

  async toArray(): Promise<unknown[]> {
    const results: unknown[] = [];
    for (;;) {
      const step = await this.next(); // on an error, next() has closed the map already
      if (step.done) return results;
      results.push(step.value);
    }
  }

  [Symbol.asyncIterator](): MapIterator<unknown> {
    return this;
  }

  /** Waits for a task's result until the map's deadline. */
  async #resultOf(entry: InFlight): Promise<unknown> {
    const head = entry.future;
    const left = this.#deadline === undefined ? undefined : this.#deadline - Date.now();
    if (left !== undefined && left <= 0 && !head.done()) throw this.#timeoutError(entry);
    try {
      return await head.result(left === undefined ? undefined : Math.max(0, left));
    } catch (error) {
      // The Future's own message would give the time left, not the timeout the caller gave.
      throw error instanceof TimeoutError && !head.done() ? this.#timeoutError(entry) : error;
    }
  }

  async #readArgs(): Promise<unknown[] | undefined> {
    const args: unknown[] = [];
    for (const iterator of this.#iterators) {
      const step = await iterator.next();
      if (step.done) return undefined;
      args.push(step.value);
    }
    return args;
  }

  /** Unfinished tasks that hold copies of their arguments. */
  #copying(): number {
    let count = 0;
    for (const entry of this.#inFlight) if (entry.copies && !entry.future.done()) count++;
    return count;
  }

  /** Submits tasks until the window is full (or its copies are: see #copyWindow) or the inputs end. */
  async #fill(): Promise<void> {
    while (!this.#exhausted && this.#inFlight.length < this.#window && this.#copying() < this.#copyWindow) {
      const batch: unknown[][] = [];
      while (batch.length < this.#chunksize) {
        const args = await this.#readArgs();
        if (args === undefined) {
          this.#exhausted = true;
          break;
        }
        batch.push(args);
      }
      if (batch.length === 0) break;
      const chunk = this.#chunksize !== 1;
      const args = chunk ? batch : batch[0];
      const copies = this.#executor.copies?.(args, chunk) ?? false;
      const future = this.#executor.submitRef(this.#task, args, chunk);
      this.#inFlight.push({ future, first: this.#submitted, count: batch.length, copies });
      this.#submitted += batch.length;
    }
  }

  #timeoutError({ first, count }: InFlight): TimeoutError {
    const items = count === 1 ? `element ${first}` : `elements ${first} to ${first + count - 1} (one chunk)`;
    return new TimeoutError(
      `map: the result of ${items} was not ready within the map's timeout of ${this.#timeout} ms ` +
        '(counted from the call to map()); give a larger timeout, or none, to wait longer',
    );
  }

  async #close(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    // Their failures, if any, are this map's: its caller has the first error, or stopped reading.
    for (const { future } of this.#inFlight.splice(0)) {
      future[kObserve]();
      future.cancel();
    }
    this.#ready = [];
    // Every input is closed, also the longer ones of a zip, so their `finally` blocks run.
    await Promise.allSettled(this.#iterators.map(async (iterator) => iterator.return?.()));
  }
}
