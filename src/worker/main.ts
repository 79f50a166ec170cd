// The entry point of a worker process: receives tasks from the parent, runs
// them, and sends back results (arrays through segments it creates) or errors.
// Exits when the parent goes away.
import { SharedMemoryError, TaskClosureError } from '../errors.js';
import type {
  FromWorker,
  TaskMessage,
  TaskOutcome,
  TaskRef,
  ToWorker,
  WorkerConfig,
} from '../pool/protocol.js';
import { collectGarbage } from '../shm/collect.js';
import {
  markWorkerProcess,
  type Peer,
  type SegmentBook,
  segmentBook,
  setHelperDirectory,
} from '../shm/segment-book.js';
import { decode } from '../transfer/decode.js';
import { type Encoded, encode } from '../transfer/encode.js';
import { serializeError } from '../transfer/remote-error.js';
import { channel } from './channel.js';
import { askForRoom, giveBackIdle, roomMade } from './reclaim.js';
import { type TaskFunction, TaskLoader } from './task-loader.js';

markWorkerProcess(channel.thread);
const loader = new TaskLoader();
const IDLE_COLLECTION_MS = 5;
let idleCollection: NodeJS.Timeout | undefined;
let config: WorkerConfig = { shmDir: '/dev/shm', threshold: 0, receipts: '' };
/** [tasks started, tasks finished] over this worker's life (see WorkerConfig.receipts). */
let receipts = new Float64Array(2);
let book: SegmentBook = segmentBook(config.shmDir);
const parent: Peer = {
  pid: channel.parentPid,
  sendControl: (control) => send({ type: 'segments', control }),
};
book.setUpstream(parent);
book.addPeer(parent);

function send(message: FromWorker, onLost?: () => void): void {
  channel.send(message, (error) => {
    if (error) onLost?.();
  });
}

/** A function task that reads a variable it does not define gets an error that says why. */
function explain(error: unknown, task: TaskRef | undefined): unknown {
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

async function call(task: TaskRef, args: Encoded, leases: string[], chunk: boolean): Promise<unknown> {
  // The task's module first: importing it may register the wrapper classes the arguments need.
  let fn: TaskFunction;
  try {
    fn = await loader.resolve(task);
  } catch (error) {
    book.free(leases); // the arguments will never be mapped
    throw error;
  }
  // From here on the arguments' holds are given back when their arrays are collected.
  const decoded = decode(args, book, parent, leases, channel.thread) as unknown[];
  if (!chunk) return await fn(...decoded);
  const results: unknown[] = [];
  for (const one of decoded as unknown[][]) results.push(await fn(...one));
  return results;
}

function encodeResult(id: number, result: unknown): ReturnType<typeof encode> {
  // A thread makes no segments: its results travel inline (see isWorkerThread).
  return encode(
    result,
    {
      book,
      threshold: config.threshold,
      handover: true,
      holdTag: id,
      inlineOnly: channel.thread,
      structuredClone: channel.thread,
    },
    'result',
  );
}

/** Runs one task and encodes its outcome; the arguments' holds go back when their arrays are collected. */
async function runOne(message: TaskMessage): Promise<TaskOutcome> {
  try {
    const result = await call(message.task, message.args, message.leases, message.chunk);
    // Holds this result takes on segments it passes on are tagged with the task: if its outcome
    // is lost with this process, the parent gives them back.
    let payload: ReturnType<typeof encode>;
    try {
      payload = encodeResult(message.id, result);
    } catch (error) {
      // The space may be held by arrays of earlier tasks that only garbage collection gives back,
      // or by idle segments of the other processes of the executor.
      if (!(error instanceof SharedMemoryError && error.errno === 'ENOSPC')) throw error;
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve)); // finalizers run, frees go out
      await askForRoom();
      payload = encodeResult(message.id, result);
    }
    return { id: message.id, ok: true, result: payload.data, leases: payload.leases };
  } catch (error) {
    return { id: message.id, ok: false, error: serializeError(explain(error, message.task)) };
  }
}

const queue: TaskMessage[] = [];
const outbox: TaskOutcome[] = [];
let draining = false;
/** Outcomes of quick tasks are gathered into one message while more tasks wait. */
const QUICK_TASK_MS = 1;
const MAX_GATHERED = 64;

/** The buffers of a result that travels as it is (snapshots made by encode: nobody else has them). */
function rawBuffers(outcome: TaskOutcome): ArrayBuffer[] {
  if (!outcome.ok || outcome.result instanceof Uint8Array) return [];
  const raw = outcome.result.raw;
  const views = (Array.isArray(raw) ? raw : [raw]).filter((v) => ArrayBuffer.isView(v));
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))].filter((b) => b.byteLength > 0);
}

/** Results messages handed to the channel and not yet written to it; and who waits for them. */
let unwritten = 0;
let whenWritten: (() => void) | undefined;

function flush(): void {
  if (outbox.length === 0) return;
  const outcomes = outbox.splice(0);
  // Through a thread's port, the results' own copies move instead of being cloned again.
  const transfer = channel.thread ? outcomes.flatMap(rawBuffers) : [];
  unwritten++;
  channel.send(
    { type: 'results', outcomes },
    (error) => {
      if (error) for (const outcome of outcomes) if (outcome.ok) book.free(outcome.leases);
      if (--unwritten === 0) whenWritten?.();
    },
    transfer,
  );
}

/**
 * Resolves once every results message sent so far is written to the channel
 * (in the kernel's buffer, where it outlives this process). A task may end
 * the process (process.exit, a crash): results the channel had not written
 * yet would be lost with it, and tasks that finished would fail.
 */
function written(): Promise<void> | undefined {
  if (unwritten === 0) return undefined;
  return new Promise((resolve) => {
    whenWritten = () => {
      whenWritten = undefined;
      resolve();
    };
  });
}

// A task that calls process.exit ends this worker between tasks' outcomes: those gathered so far
// go out first. The channel writes at once what its buffer has room for, and that reaches the
// parent after this process is gone (a larger message is cut short, and the parent counts those
// tasks as finished with their results lost, as for any crash).
process.on('exit', flush);

async function drain(): Promise<void> {
  draining = true;
  while (queue.length > 0) {
    const message = queue.shift()!;
    const pending = written();
    if (pending !== undefined) await pending;
    const t0 = performance.now();
    receipts[0]!++;
    outbox.push(await runOne(message));
    receipts[1]!++;
    if (queue.length === 0 || performance.now() - t0 > QUICK_TASK_MS || outbox.length >= MAX_GATHERED)
      flush();
    collectIfDue();
  }
  draining = false;
  collectIfDue();
}

/**
 * Arrays in segments (arguments, and arrays made with empty() whose results
 * went to the parent) hold their segments until this process collects them.
 * A worker allocates little on its own heap, so V8 may not collect for a long
 * time: collect once GARBAGE_BYTES have been mapped since the last collection,
 * or when idle for IDLE_COLLECTION_MS after any were.
 */
const GARBAGE_BYTES = 64 * 1024 * 1024;
let collectedAt = 0;
let idleDue = false;

function collectIfDue(): void {
  const pending = book.bytesTracked - collectedAt;
  if (pending === 0) return;
  if (pending >= GARBAGE_BYTES || (idleDue && !draining)) {
    idleDue = false;
    clearTimeout(idleCollection);
    idleCollection = undefined;
    collectedAt = book.bytesTracked;
    collectGarbage();
    return;
  }
  idleCollection ??= setTimeout(() => {
    idleCollection = undefined;
    idleDue = true;
    if (!draining) collectIfDue();
  }, IDLE_COLLECTION_MS);
}

function onRun(message: ToWorker & { type: 'run' }): void {
  queue.push(...message.tasks);
  if (!draining) void drain();
}

async function init(message: ToWorker & { type: 'init' }): Promise<void> {
  config = message.config;
  setHelperDirectory(config.shmDir);
  channel.watchParent(config.shmDir);
  if (segmentBook(config.shmDir) !== book) {
    book = segmentBook(config.shmDir);
    book.setUpstream(parent);
    book.addPeer(parent);
  }
  try {
    if (config.receipts !== '')
      receipts = new Float64Array(book.store.attach(config.receipts, 0, 16, false), 0, 2);
    if (message.initializer !== undefined) {
      const fn = await loader.resolve(message.initializer);
      const args =
        message.initargs === undefined ? [] : (decode(message.initargs, book, parent, []) as unknown[]);
      await fn(...args);
    }
    send({ type: 'ready' });
  } catch (error) {
    send({ type: 'init-failed', error: serializeError(explain(error, message.initializer)) });
  }
}

channel.onMessage((message: ToWorker) => {
  if (message.type === 'run') onRun(message);
  else if (message.type === 'segments') book.onControl(message.control);
  else if (message.type === 'reclaim') giveBackIdle(message.id);
  else if (message.type === 'reclaimed') roomMade(message.id);
  else if (message.type === 'init') void init(message);
  else if (message.type === 'exit') process.exit(0);
});

/**
 * An error no task caught (thrown in a timer, a rejection nobody handled):
 * the worker is in an unknown state, so it exits, as Node would, after
 * printing the error and telling the parent, which fails the task running
 * then with this error as the cause and starts another worker.
 */
function fatal(error: unknown): void {
  process.off('uncaughtException', fatal);
  process.off('unhandledRejection', fatal);
  console.error('shmex worker: an error no task caught; this worker exits:', error);
  flush(); // the outcomes gathered so far go ahead of it
  const exit = () => process.exit(1);
  setTimeout(exit, 1000); // if the message cannot be written in time
  channel.send({ type: 'fatal', error: serializeError(error) }, exit);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
