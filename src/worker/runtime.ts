// What a worker does, as one object with explicit parts (CPython's
// _process_worker(call_queue, result_queue, initializer, initargs) is the
// model): tasks come in through the channel, run one after another, and
// their outcomes go out through it, several to a message when tasks are
// quick. main.ts builds one from the parent's 'init' message; a test drives
// one in-process with a fake channel.
//
//   'run' ---> queue ---> #drain: decode args, call, encode result ---> Outbox ---> 'results'
//                          |  receipts[0]++ before, receipts[1]++ after (see WorkerConfig.receipts)
//                          +--> CollectionPolicy.note() after each task
import { SharedMemoryError, TaskClosureError } from '../errors.js';
import type { TaskMessage, TaskOutcome, TaskRef, ToWorker, WorkerConfig } from '../pool/protocol.js';
import { CollectionPolicy, collectGarbage, collectOnce, collectYoungFirst } from '../shm/collect.js';
import type { Peer, SegmentBook } from '../shm/segment-book.js';
import { decode } from '../transfer/decode.js';
import { type Encoded, encode, type Payload } from '../transfer/encode.js';
import { serializeError } from '../transfer/remote-error.js';
import { MAX_GATHERED, QUICK_TASK_MS, THREAD_IDLE_WAIT_MS, WORKER_COLLECTION } from '../tuning.js';
import type { Channel } from './channel.js';
import { IdleHeapTrim } from './heap-trim.js';
import { Outbox } from './outbox.js';
import { RoomRequests } from './reclaim.js';
import type { TaskFunction } from './task-loader.js';

/** Finds the function a TaskRef names (TaskLoader, or a test's table). */
export interface TaskResolver {
  resolve(ref: TaskRef): Promise<TaskFunction>;
  /** The function, if it can be found at once (compiled or imported already); else resolve() finds it. */
  cached?(ref: TaskRef): TaskFunction | undefined;
}

/** The messages a runtime handles; main.ts handles 'init' (it makes the runtime) and 'exit'. */
export type RuntimeMessage = Exclude<ToWorker, { type: 'init' } | { type: 'exit' }>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A function task that reads a variable it does not define gets an error that says why. */
export function explain(error: unknown, task: TaskRef | undefined): unknown {
  if (task?.kind !== 'source' || !(error instanceof ReferenceError)) return error;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (match === null) return error;
  return new TaskClosureError(
    `task ${task.name || '<anonymous>'} uses '${match[1]}', which does not exist in the worker: a function task is sent as ` +
      'its source text, so it cannot see variables or imports from outside itself. Pass the value as an argument, ' +
      'or export the function from a module and run it with executor.module(url).',
    { cause: error },
  );
}

/**
 * Resolves once the finalizers of arrays collected now have run, and their
 * frees are queued: V8 posts them as a task that Node runs in the poll phase
 * of its event loop, so after one poll phase. Two immediates are: the first
 * may run in the check phase of this loop iteration, before its poll phase.
 */
async function finalizersRun(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class WorkerRuntime {
  readonly #channel: Channel;
  readonly #loader: TaskResolver;
  readonly #book: SegmentBook;
  readonly #config: WorkerConfig;
  /** The parent, as the book sees it: holds and frees of its segments go to it. */
  readonly #parent: Peer;
  readonly #outbox: Outbox;
  readonly #room: RoomRequests;
  /** The collection being made is the one before an outcome the parent waits for (giveBack 'now'). */
  #beforeOutcome = false;
  // Only there a minor collection first, with a full one more if the copies are still mapped (see
  // #drain): elsewhere nothing follows to catch a deserializer that outlived the minor one, and an
  // idle worker would hold its last arguments until its next task.
  readonly #collection = new CollectionPolicy(WORKER_COLLECTION, () =>
    this.#beforeOutcome ? collectYoungFirst() : collectGarbage(),
  );
  readonly #heapTrim = new IdleHeapTrim();
  readonly #queue: TaskMessage[] = [];
  #draining = false;
  /** The last run of tasks ended in this turn of the event loop (see #drain). */
  #sameTurn = false;
  /** #idle's immediate (or its microtask: see #turnNeeded) is scheduled. */
  #turnSoon = false;
  /** When #idle's immediate last ran, and the book's tracked bytes then (see #turnNeeded). */
  #turnAt = Number.NEGATIVE_INFINITY;
  #trackedAtTurn = -1;
  /** Channel.turn when the last run of tasks ended (a channel that counts its turns). */
  #idleTurn = -1;
  /** [tasks started, tasks finished] over this worker's life (see WorkerConfig.receipts). */
  #receipts = new Float64Array(2);
  /** How long tasks take is measured with it (a test passes its own clock). */
  readonly #now: () => number;

  constructor(
    channel: Channel,
    loader: TaskResolver,
    book: SegmentBook,
    config: WorkerConfig,
    now: () => number = () => performance.now(),
  ) {
    this.#channel = channel;
    this.#now = now;
    this.#loader = loader;
    this.#book = book;
    this.#config = config;
    this.#parent = {
      pid: channel.parentPid,
      sendControl: (control) => channel.send({ type: 'segments', control }),
    };
    book.setUpstream(this.#parent);
    book.addPeer(this.#parent);
    this.#outbox = new Outbox(channel, (leases) => book.free(leases));
    this.#room = new RoomRequests(channel);
  }

  /** Maps the receipts, runs the initializer, then tells the parent 'ready' (or 'init-failed'). */
  async start(initializer?: TaskRef, initargs?: Encoded): Promise<void> {
    try {
      if (this.#config.receipts !== '') {
        const mapping = this.#book.store.attach(this.#config.receipts, 0, 16, false);
        this.#receipts = new Float64Array(mapping, 0, 2);
      }
      if (initializer !== undefined) {
        const fn = await this.#loader.resolve(initializer);
        const args =
          initargs === undefined ? [] : (decode(initargs, this.#book, this.#parent, []) as unknown[]);
        await fn(...args);
      }
      this.#channel.send({ type: 'ready' });
    } catch (error) {
      const message = { type: 'init-failed', error: serializeError(explain(error, initializer)) } as const;
      this.#channel.send(message);
    }
  }

  onMessage(message: RuntimeMessage): void {
    if (message.type === 'run') {
      this.#queue.push(...message.tasks);
      if (!this.#draining) void this.#drain();
    } else if (message.type === 'segments') this.#book.onControl(message.control);
    else if (message.type === 'reclaim') this.#room.giveBackIdle(message.id);
    else if (message.type === 'reclaimed') this.#room.roomMade(message.id);
  }

  /** Sends the outcomes gathered so far (also as the process exits, or before a fatal error). */
  flush(): void {
    this.#outbox.flush();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    // Messages can reach a worker without a turn of its event loop between them: a thread's port
    // hands over those that come while it handles one (Node goes on for up to 1000), and its idle
    // wait reads the next one at once. A parent that answers quickly would then keep the worker
    // in one turn, task after task, and what needs a turn would never run: the collection's idle
    // timer, the finalizers of collected arguments (a platform task) and the frees they queue (an
    // immediate); the parent would make a new segment for every task instead of reusing those.
    // So a run of tasks that starts in the turn where the last one ended waits for the next turn.
    if ((this.#sameTurn && this.#turnNeeded()) || this.#channel.turn === this.#idleTurn) {
      this.#idleTurn = -1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#collection.busy = true;
    this.#heapTrim.busy();
    while (this.#queue.length > 0) {
      const message = this.#queue.shift()!;
      const pending = this.#outbox.written();
      if (pending !== undefined) await pending;
      // Timed only with tasks behind it, whose outcomes it may be gathered with: a task run alone
      // (a caller awaiting each one) sends its outcome at once, without reading the clock.
      const t0 = this.#queue.length > 0 ? this.#now() : Number.NaN;
      this.#receipts[0]!++;
      const outcome = this.#runAtOnce(message) ?? this.#runOne(message);
      this.#outbox.push(outcome instanceof Promise ? await outcome : outcome);
      this.#receipts[1]!++;
      const book = this.#book;
      this.#beforeOutcome = true;
      const collected = this.#collection.afterTask(
        book.bytesTracked,
        book.copyOnWriteBytesTracked,
        book.copiedBytesTracked,
        message.giveBack,
        book.madeBytesTracked,
      );
      this.#beforeOutcome = false;
      if (collected) {
        await finalizersRun();
        // The deserializer outlived the minor collection (see collectYoungFirst), or the task kept
        // its argument: one more full collection, as the parent waits for these segments.
        if (book.mapsAny(message.leases)) {
          collectOnce();
          await finalizersRun();
        }
      }
      // Outcomes of quick tasks are gathered into one message while more tasks wait.
      if (
        this.#queue.length === 0 ||
        this.#outbox.length >= MAX_GATHERED ||
        !(this.#now() - t0 <= QUICK_TASK_MS)
      ) {
        this.#book.flushFrees();
        this.#outbox.flush();
      }
      // Collected once the outcome was out (arrays the task made in segments of this worker): the
      // next task waits until their finalizers have run, so that it finds their segments free once
      // the parent has given them back (its frees come ahead of the task).
      if (this.#collection.note(this.#book.bytesTracked, this.#book.copyOnWriteBytesTracked)) {
        await finalizersRun();
      }
    }
    this.#draining = false;
    this.#collection.busy = false;
    this.#collection.note(this.#book.bytesTracked, this.#book.copyOnWriteBytesTracked);
    this.#heapTrim.idle();
    this.#idle();
  }

  /**
   * Out of tasks. On the next turn of the event loop (see #drain), the frees
   * queued meanwhile go out, and a thread's channel waits a moment for the
   * next message (Channel.idle). When no turn is needed (#turnNeeded), a
   * thread waits at once instead, from a microtask, as piscina's workers do.
   */
  #idle(): void {
    const turn = this.#channel.turn;
    if (turn !== undefined && this.#channel.idle === undefined) {
      // Messages come only in turns of their own (reads), and frees queued meanwhile go out on their own
      // (HoldOutbox): an immediate per run of tasks cost the event loop's check phase ~2 µs of CPU.
      this.#idleTurn = turn;
      return;
    }
    this.#sameTurn = true;
    if (this.#turnSoon) return;
    this.#turnSoon = true;
    const waitNow = () => {
      this.#turnSoon = false;
      this.#sameTurn = false;
      if (this.#draining) return; // a message came meanwhile: its tasks run, and idle again after
      this.#book.flushFrees();
      this.#channel.idle?.();
    };
    if (!this.#turnNeeded()) {
      queueMicrotask(waitNow);
      return;
    }
    setImmediate(() => {
      this.#turnAt = this.#now();
      this.#trackedAtTurn = this.#book.bytesTracked + this.#book.copyOnWriteBytesTracked;
      waitNow();
    });
  }

  /**
   * Whether a turn of the event loop must come before the next run of tasks
   * or idle wait. A worker process: always (it has no idle wait). A thread:
   * when it has mapped or made arrays in segments since the last turn (the
   * finalizers of collected arguments, the frees they queue and the
   * collection's timer need one: see #drain), or when the last turn was
   * THREAD_IDLE_WAIT_MS ago or more. Without a turn, a task after another
   * skips a wake-up of the event loop, an immediate and a 'message' event
   * (bench/scripts/thread-latency.mjs); timers and a task's leftover
   * asynchronous work still run at least every THREAD_IDLE_WAIT_MS, as they
   * do while the thread waits idle.
   */
  #turnNeeded(): boolean {
    if (this.#channel.idle === undefined) return true;
    if (this.#book.bytesTracked + this.#book.copyOnWriteBytesTracked !== this.#trackedAtTurn) return true;
    return this.#now() - this.#turnAt >= THREAD_IDLE_WAIT_MS;
  }

  /**
   * The common case without a promise: a function found at once that returns
   * a value (not a promise), encoded at once. A tiny task paid more for the
   * awaits of #runOne than for its own work. Undefined (nothing done) when the
   * task needs #runOne: its function is not loaded yet, or it is a chunk.
   */
  #runAtOnce(message: TaskMessage): TaskOutcome | Promise<TaskOutcome> | undefined {
    const fn = message.chunk ? undefined : this.#loader.cached?.(message.task);
    if (fn === undefined) return undefined;
    let result: unknown;
    try {
      result = fn(...this.#decodeArgs(message.args, message.leases));
    } catch (error) {
      return { id: message.id, ok: false, error: serializeError(explain(error, message.task)) };
    }
    if (isThenable(result)) return this.#finish(message, result);
    try {
      const payload = this.#encode(message.id, result);
      return { id: message.id, ok: true, result: payload.data, leases: payload.leases };
    } catch (error) {
      // A full directory is met by #encodeResult, which makes room and tries again.
      if (error instanceof SharedMemoryError && error.errno === 'ENOSPC')
        return this.#finish(message, result);
      return { id: message.id, ok: false, error: serializeError(explain(error, message.task)) };
    }
  }

  /** The rest of #runAtOnce for a result that is a promise, or that needs room to be encoded. */
  async #finish(message: TaskMessage, pending: unknown): Promise<TaskOutcome> {
    try {
      const payload = await this.#encodeResult(message.id, await pending);
      return { id: message.id, ok: true, result: payload.data, leases: payload.leases };
    } catch (error) {
      return { id: message.id, ok: false, error: serializeError(explain(error, message.task)) };
    }
  }

  /** Runs one task and encodes its outcome; the arguments' holds go back when their arrays are collected. */
  async #runOne(message: TaskMessage): Promise<TaskOutcome> {
    try {
      const result = await this.#call(message.task, message.args, message.leases, message.chunk);
      const payload = await this.#encodeResult(message.id, result);
      return { id: message.id, ok: true, result: payload.data, leases: payload.leases };
    } catch (error) {
      return { id: message.id, ok: false, error: serializeError(explain(error, message.task)) };
    }
  }

  async #call(task: TaskRef, args: Encoded, leases: string[], chunk: boolean): Promise<unknown> {
    // The task's module first: importing it may register the wrapper classes the arguments need.
    let fn: TaskFunction;
    try {
      fn = await this.#loader.resolve(task);
    } catch (error) {
      this.#book.free(leases); // the arguments will never be mapped
      throw error;
    }
    const decoded = this.#decodeArgs(args, leases);
    if (!chunk) return await fn(...decoded);
    const results: unknown[] = [];
    for (const one of decoded as unknown[][]) results.push(await fn(...one));
    return results;
  }

  /** Encodes a result; if the directory is full, once more after making room (see reclaim.ts). */
  /** A task's arguments, mapped: from here on their holds are given back when their arrays are collected. */
  #decodeArgs(args: Encoded, leases: string[]): unknown[] {
    return decode(args, this.#book, this.#parent, leases, this.#channel.structuredClone) as unknown[];
  }

  async #encodeResult(id: number, result: unknown): Promise<Payload> {
    try {
      return this.#encode(id, result);
    } catch (error) {
      if (!(error instanceof SharedMemoryError && error.errno === 'ENOSPC')) throw error;
      await this.#room.makeRoom();
      return this.#encode(id, result);
    }
  }

  #encode(id: number, result: unknown): Payload {
    const options = {
      book: this.#book,
      threshold: this.#config.threshold,
      handover: true,
      // Holds this result takes on segments it passes on are tagged with the task: if its outcome
      // is lost with this process, the parent gives them back.
      holdTag: id,
      structuredClone: this.#channel.structuredClone,
    };
    return encode(result, options, 'result');
  }
}
