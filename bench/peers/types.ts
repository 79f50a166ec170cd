// What every pool of the comparison offers the workloads.

/** Tasks of workers/tasks.mjs that take one Float64Array. */
export type TaskName = 'addOne' | 'sum' | 'kernel';

export interface PeerPool {
  /** Runs task `name` of workers/tasks.mjs on `x` in a worker; resolves with its result. */
  run(task: TaskName, x: Float64Array): Promise<unknown>;
  /** Starts every worker (a no-op task on each, all at once) and waits until they answered. */
  warm(): Promise<void>;
  /** Stops every worker and waits for them. */
  close(): Promise<void>;
}

export const TASKS_URL = new URL('../workers/tasks.mjs', import.meta.url);

/** Runs `count` no-op calls at once: enough to start every worker of a pool of `count`. */
export async function warmAll(count: number, noop: () => Promise<unknown>): Promise<void> {
  await Promise.all(Array.from({ length: count }, noop));
}
