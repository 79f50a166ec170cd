// tinypool 2: worker threads (its default runtime); arguments and results are structured-cloned.
import Tinypool from 'tinypool';
import { type PeerPool, TASKS_URL, type TaskName, warmAll } from './types.js';

export class TinypoolPool implements PeerPool {
  readonly pool: Tinypool;
  readonly #workers: number;

  constructor(workers: number) {
    this.#workers = workers;
    this.pool = new Tinypool({
      filename: TASKS_URL.href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      execArgv: [],
    });
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    return this.pool.run(x, { name: task });
  }

  warm(): Promise<void> {
    return warmAll(this.#workers, () => this.pool.run(null, { name: 'noop' }));
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
