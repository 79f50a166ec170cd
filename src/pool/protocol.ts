// Messages between the parent and a worker process, over Node's IPC channel
// with serialization: 'advanced'. Arrays never appear here: payloads are
// encoded by transfer/encode.ts and carry only segment names.
import type { SegmentControl } from '../shm/segment-book.js';
import type { SerializedError } from '../transfer/remote-error.js';

/** How a worker finds the function to run. */
export type TaskRef =
  /** A self-contained function sent as source; `source` is omitted once the worker has it. */
  | { kind: 'source'; id: number; name: string; source?: string }
  /** An export of a module, imported once per worker. */
  | { kind: 'module'; url: string; name: string };

export interface WorkerConfig {
  shmDir: string;
  threshold: number;
}

export type ToWorker =
  | { type: 'init'; config: WorkerConfig; initializer?: TaskRef; initargs?: Uint8Array }
  /** `chunk`: args decodes to a list of argument lists, and the result is the list of their results. */
  | { type: 'run'; id: number; task: TaskRef; args: Uint8Array; leases: string[]; chunk: boolean }
  /** Holds and frees of segments (see shm/segment-book.ts), both ways. */
  | { type: 'segments'; control: SegmentControl }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'ready' }
  /** The worker has the task: from here on, its death fails the task instead of re-queueing it. */
  | { type: 'started'; id: number }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'done'; id: number; result: Uint8Array; leases: string[] }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'segments'; control: SegmentControl };
