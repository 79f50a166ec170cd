// Tiny tasks share jobs: plain submits of one task function made in the same
// synchronous run (a loop of submit) go to the queue as a few batch jobs,
// each carrying the argument lists of several tasks, instead of a job each.
// A job costs the same Redis scripts, events and machine bookkeeping
// whatever it carries, so this divides that cost by the batch size. A batch
// of one is a job of one task: a lone submit waits for nothing, and up to
// 4 x maxWorkers tasks submitted together still go one per job.
import type { Future, FutureControl } from '../future.js';
import type { TaskRef } from '../pool/protocol.js';
import { CLUSTER_BATCH_SPREAD, CLUSTER_BATCH_TASKS } from '../tuning.js';
import { RemoteJobError } from './errors.js';
import { decodeError } from './job-codec.js';

export interface BatchMember {
  args: unknown[];
  control: FutureControl<unknown>;
  future: Future<unknown>;
  /** Set by the batch job this task goes in. */
  onCancel?: () => void;
}

/** One task's outcome in a batch job's result. */
export type BatchOutcome = { ok: true; value: unknown } | { ok: false; error: string };

function taskKey(task: TaskRef): string {
  return task.kind === 'source' ? `s${task.id}` : `m${task.name}@${task.url}`;
}

/** Collects submits until the current synchronous run ends, then hands them over in batches. */
export class SubmitBatcher {
  readonly #groups = new Map<string, { task: TaskRef; members: BatchMember[] }>();
  readonly #send: (task: TaskRef, members: BatchMember[]) => void;
  readonly #spread: number;
  #scheduled = false;

  /**
   * `maxWorkers`: the cluster's cores. Tasks are spread over at least
   * CLUSTER_BATCH_SPREAD x maxWorkers jobs (machines take 2 jobs per core
   * at once), so up to that many tasks go one per job, as without batching.
   */
  constructor(send: (task: TaskRef, members: BatchMember[]) => void, maxWorkers: number) {
    this.#send = send;
    this.#spread = Math.max(1, CLUSTER_BATCH_SPREAD * maxWorkers);
  }

  add(task: TaskRef, member: BatchMember): void {
    const key = taskKey(task);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { task, members: [] };
      this.#groups.set(key, group);
    }
    group.members.push(member);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const { task, members } of groups) {
      // A few tasks keep a job each: every machine slot gets one, and a queued one stays cancellable.
      const size = Math.min(CLUSTER_BATCH_TASKS, Math.ceil(members.length / this.#spread));
      for (let at = 0; at < members.length; at += size) this.#send(task, members.slice(at, at + size));
    }
  }
}

/** The control of a batch job: starts, settles or cancels each member's Future. */
export function batchControl(jobId: string, members: readonly BatchMember[]): FutureControl<unknown> {
  return {
    start: () => {
      let any = false;
      for (const m of members) any = m.control.start() || any;
      return any;
    },
    cancel: (error) => {
      let all = true;
      for (const m of members) all = m.control.cancel(error) && all;
      return all;
    },
    resolve: (value) => {
      const outcomes = value as BatchOutcome[];
      members.forEach((m, i) => {
        const outcome = Array.isArray(outcomes) ? outcomes[i] : undefined;
        if (outcome === undefined) m.control.reject(new RemoteJobError(jobId, 'its result lacks a task'));
        else if (outcome.ok) m.control.resolve(outcome.value);
        else m.control.reject(decodeError(outcome.error));
      });
    },
    reject: (error) => {
      for (const m of members) m.control.reject(error);
    },
  };
}
