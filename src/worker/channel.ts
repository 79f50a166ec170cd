// How a worker talks to its parent: a child process over Node's IPC channel,
// or a worker thread over its parentPort. The rest of the worker does not
// know which it is.
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../pool/protocol.js';
import { native } from '../shm/native.js';

export interface Channel {
  /** A worker thread, not a process. */
  readonly thread: boolean;
  /** Who the parent is, for routing segment holds (see SegmentBook). */
  readonly parentPid: number;
  /**
   * Sends a message; `done` runs once it is written (or could not be: `error`).
   * `transfer`: buffers a thread's port moves instead of copying (ignored by a process).
   */
  send(message: FromWorker, done?: (error: Error | null) => void, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: ToWorker) => void): void;
  /** While on, this worker dies with its parent even when stuck in synchronous code. */
  dieWithParent(on: boolean): void;
}

function processChannel(): Channel {
  const parentPid = process.ppid;
  return {
    thread: false,
    parentPid,
    send(message, done) {
      if (!process.connected) {
        done?.(new Error('the channel to the parent is closed'));
        return;
      }
      process.send!(message, undefined, undefined, (error) => done?.(error ?? null));
    },
    onMessage(handler) {
      process.on('message', handler);
      // The parent is gone (exited, killed): nobody will read our results.
      process.on('disconnect', () => process.exit(0));
    },
    dieWithParent(on) {
      if (!native.dieWithParent(on, parentPid)) process.exit(0);
    },
  };
}

function threadChannel(): Channel {
  const port = parentPort!;
  return {
    thread: true,
    // A thread's parent is this very process.
    parentPid: process.pid,
    send(message, done, transfer) {
      try {
        port.postMessage(message, transfer ?? []);
        done?.(null);
      } catch (error) {
        done?.(error as Error);
      }
    },
    onMessage(handler) {
      port.on('message', handler);
    },
    dieWithParent() {
      // A thread ends with its process.
    },
  };
}

export const channel: Channel = isMainThread ? processChannel() : threadChannel();
export { threadId };
