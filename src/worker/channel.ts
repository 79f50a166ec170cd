// How a worker talks to its parent: a child process over its two pipes of
// frames (pool/frames.ts), or a worker thread over its parentPort. Every way the two differ is a
// member of Channel: the rest of the worker does not ask which it is.
import { Socket, type SocketConstructorOpts } from 'node:net';
import { isMainThread, parentPort, receiveMessageOnPort, threadId, workerData } from 'node:worker_threads';
import { FROM_WORKER_FD, TO_WORKER_FD } from '../pool/channel-fds.js';
import { FrameInput } from '../pool/frame-input.js';
import { BlockingFrameOutput } from '../pool/frames.js';
import type { FromWorker, TaskOutcome, ToWorker } from '../pool/protocol.js';
import { type FlatMessage, RunReader, writeFromWorker } from '../pool/thread-wire.js';
import { native } from '../shm/native.js';
import { processStartTime, SEGMENT_PREFIX, selfOwner } from '../shm/segment-names.js';
import { THREAD_IDLE_WAIT_MS } from '../tuning.js';
import { parentOwnerKey, wakeCounter } from './role.js';

export interface Channel {
  /** Who the parent is, for routing segment holds: its owner key (see ownerKey in segment-names.ts). */
  readonly parentPid: number;
  /**
   * Messages cross by structured clone (a thread's port), not serialized into
   * a process's frames: views arrive owning their buffers, and arrays may be
   * sent as they are.
   */
  readonly structuredClone: boolean;
  /**
   * A count that changes with each turn of the event loop in which messages
   * arrive (a process's reads of its pipe), for a channel without idle(): the
   * runtime tells by it whether a message came in the turn where the last
   * tasks ended, without an immediate per run of tasks (see WorkerRuntime.#idle).
   */
  readonly turn?: number;
  /**
   * Sends a message; `done` runs once it is written (or could not be: `error`).
   * A thread's port moves the buffers of results that travel as they are,
   * instead of copying them.
   */
  send(message: FromWorker, done?: (error: Error | null) => void): void;
  onMessage(handler: (message: ToWorker) => void): void;
  /**
   * The worker has nothing to do. A thread waits a moment for the parent's
   * next message and handles it at once (see THREAD_IDLE_WAIT_MS); a process
   * returns at once. Called from an immediate, after a turn of the event
   * loop (see WorkerRuntime.#idle).
   */
  idle?(): void;
  /**
   * From now on, when the parent dies this worker removes the parent's
   * segments and its own in `dir`, then exits, even from synchronous code.
   */
  watchParent(dir: string): void;
}

function processChannel(): Channel {
  const parentPid = process.ppid;
  // Signals that end a program (Ctrl-C and a closed terminal signal the whole
  // process group; a service manager may signal every process of the
  // service) are the parent's to act on. If they end it, watchParent cleans
  // up and exits; if it handles them and goes on, its workers go on too.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  let deliver: (message: ToWorker) => void = () => {};
  // Frames are read into one buffer of the reader's own (see FrameInput): no 'data' events.
  const reader = new FrameInput((message) => deliver(message as ToWorker));
  // `onread` is an option of the constructor too since Node 12 (net.md); @types/node lists it only for connect().
  const options = { fd: TO_WORKER_FD, readable: true, writable: false, onread: reader.onread };
  const input = new Socket(options as SocketConstructorOpts);
  // No socket on the output pipe: it stays blocking, and is written synchronously (see BlockingFrameOutput).
  const output = new BlockingFrameOutput(FROM_WORKER_FD);
  input.on('error', () => {});
  let closed = false;
  return {
    parentPid,
    structuredClone: false,
    get turn() {
      return reader.reads;
    },
    send(message, done) {
      if (closed) {
        done?.(new Error('the channel to the parent is closed'));
        return;
      }
      try {
        output.write(message); // whole, before it returns: also from an 'exit' handler
      } catch (error) {
        // The parent is gone (EPIPE): what this worker sends from now on is lost.
        closed = true;
        done?.(error as Error);
        return;
      }
      done?.(null);
    },
    onMessage(handler) {
      deliver = handler;
      // The parent is going (exited, killed): nobody will read our results.
      // Its pipes close a moment before the kernel reparents this process and
      // sends the signal watchParent waits for, so wait for that signal (it
      // removes the parent's segments, then exits); exit anyway if it never
      // comes (a parent that only closed the channel).
      let leaving = false;
      const gone = () => {
        if (leaving) return;
        leaving = true;
        closed = true;
        setTimeout(() => process.exit(0), 1000);
      };
      input.on('end', gone);
      input.on('close', gone);
      process.on('disconnect', gone);
    },
    watchParent(dir) {
      const parentStart = processStartTime(parentPid);
      if (parentStart === undefined) process.exit(0); // gone already
      const self = selfOwner();
      native.watchParent(parentPid, dir, [
        `${SEGMENT_PREFIX}${parentPid}.${parentStart}.`,
        `${SEGMENT_PREFIX}${self.pid}.${self.start}.`,
      ]);
    },
  };
}

function threadChannel(): Channel {
  const port = parentPort!;
  const wake = wakeCounter(workerData);
  let handle: ((message: ToWorker) => void) | undefined;
  const runs = new RunReader();
  /** Handles the messages already posted; false if there were none. */
  const drain = (): boolean => {
    let any = false;
    for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
      any = true;
      handle!(runs.read(entry.message as ToWorker | FlatMessage));
    }
    return any;
  };
  return {
    // A thread's parent is a thread of this very process (see threadWorkerData).
    parentPid: parentOwnerKey(workerData),
    structuredClone: true,
    send(message, done) {
      try {
        const moved: ArrayBuffer[] = [];
        if (message.type === 'results') for (const outcome of message.outcomes) rawBuffers(outcome, moved);
        port.postMessage(writeFromWorker(message), moved);
        done?.(null);
      } catch (error) {
        done?.(error as Error);
      }
    },
    onMessage(handler) {
      handle = handler;
      port.on('message', (message: ToWorker | FlatMessage) => handler(runs.read(message)));
    },
    // Learnt from piscina: a message read here, with the counter bumped after it was posted, skips
    // the wake-up of the event loop and the 'message' event. The wait is short, so timers and a
    // task's leftover asynchronous work are delayed by that much at most.
    idle() {
      if (wake === undefined || handle === undefined) return;
      const seen = Atomics.load(wake, 0);
      if (drain()) return;
      if (Atomics.wait(wake, 0, seen, THREAD_IDLE_WAIT_MS) !== 'timed-out') drain();
    },
    watchParent() {
      // A thread ends with its process.
    },
  };
}

/**
 * Adds to `moved` the buffers of a result that travels as it is (snapshots
 * made by encode: nobody else has them). A tiny task's number or string has
 * none, found without an array made.
 */
function rawBuffers(outcome: TaskOutcome, moved: ArrayBuffer[]): void {
  if (!outcome.ok || outcome.result instanceof Uint8Array) return;
  const raw = outcome.result.raw;
  if (typeof raw !== 'object' || raw === null) return;
  if (!Array.isArray(raw)) {
    if (ArrayBuffer.isView(raw) && raw.buffer.byteLength > 0 && !moved.includes(raw.buffer as ArrayBuffer))
      moved.push(raw.buffer as ArrayBuffer);
    return;
  }
  const buffers = new Set<ArrayBuffer>(moved);
  for (const value of raw) if (ArrayBuffer.isView(value)) buffers.add(value.buffer as ArrayBuffer);
  moved.length = 0;
  for (const buffer of buffers) if (buffer.byteLength > 0) moved.push(buffer);
}

export const channel: Channel = isMainThread ? processChannel() : threadChannel();
export { threadId };
