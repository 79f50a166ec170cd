// Messages between the parent and a worker (a process's frames: frames.ts;
// a thread's port). Arrays never appear here: payloads are
// encoded by transfer/encode.ts and carry only segment names.
import type { GiveBack } from '../shm/collect.js';
import type { SegmentControl } from '../shm/segment-book.js';
import type { Encoded } from '../transfer/encode.js';
import type { SerializedError } from '../transfer/remote-error.js';

/** How a worker finds the function to run. */
export type TaskRef =
  /** A self-contained function sent as source; `source` is omitted once the worker has it. */
  | { kind: 'source'; id: number; name: string; source?: string }
  /**
   * An export of a module, imported once per worker. `id` (given by the
   * executor, one per module and export): a worker process's frames carry
   * the URL and name only the first time, then the id alone.
   */
  | { kind: 'module'; url: string; name: string; id?: number };

export interface WorkerConfig {
  shmDir: string;
  threshold: number;
  /**
   * A small segment where the worker counts the tasks it has started and
   * finished: after the worker dies, the parent reads which of the tasks it
   * sent had run (their results lost: they fail), which was running (it
   * fails), and which never started (they run elsewhere), at no cost per task.
   */
  receipts: string;
  /** workerAllocator: 'shared': large typed arrays made in tasks live in segments (worker/shared-arrays.ts). */
  sharedArrays?: boolean;
}

/** One task for a worker. `chunk`: args decodes to a list of argument lists, and the result is the list of their results. */
export interface TaskMessage {
  id: number;
  task: TaskRef;
  args: Encoded;
  leases: string[];
  chunk: boolean;
  /**
   * When the worker gives its received copies back (collects), once they add
   * up to WORKER_COLLECTION.taskBytes: 'now', before this task's outcome goes
   * out, since the parent copies the next arguments as tasks end (map's
   * window, tasks over maxQueuedBytes); 'after', once the outcome went out,
   * since no task copied at submit waits behind it; undefined (a burst of
   * tasks copied at submit) when the worker goes idle or past 64 MiB.
   */
  giveBack?: GiveBack | undefined;
}

export type TaskOutcome =
  | { id: number; ok: true; result: Encoded; leases: string[] }
  | { id: number; ok: false; error: SerializedError };

export type ToWorker =
  | { type: 'init'; config: WorkerConfig; initializer?: TaskRef; initargs?: Encoded }
  /** Tasks to run one after another, in order. Short tasks go several to a message. */
  | { type: 'run'; tasks: TaskMessage[] }
  /** Holds and frees of segments (see shm/segment-book.ts), both ways. */
  | { type: 'segments'; control: SegmentControl }
  /** Another worker is out of space: give back idle segments, then answer 'reclaimed'. */
  | { type: 'reclaim'; id: number }
  /** The answer to this worker's 'reclaim': every process has given back what it could. */
  | { type: 'reclaimed'; id: number }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-failed'; error: SerializedError }
  /** Outcomes of finished tasks, in the order they ran. */
  | { type: 'results'; outcomes: TaskOutcome[] }
  /** An error no task caught (a throw in a timer, an unhandled rejection): the worker exits next. */
  | { type: 'fatal'; error: SerializedError }
  | { type: 'segments'; control: SegmentControl }
  /**
   * The directory is full (ENOSPC) and this worker's own idle segments are
   * gone: the parent gives back its own and asks every other worker to, then
   * answers 'reclaimed'.
   */
  | { type: 'reclaim'; id: number }
  /** The answer to the parent's 'reclaim'. */
  | { type: 'reclaimed'; id: number };
