// shmex: the executor under test. Tasks are the module tasks of
// workers/tasks.mjs (and workers/shmex-tasks.mjs for the empty() output).
import {
  type ExecutorOptions,
  type Future,
  type PoolExecutor,
  ProcessPoolExecutor,
  type ThreadPoolExecutor,
} from 'shmex';
import type * as ShmexTasks from '../workers/shmex-tasks.mjs';
import type * as Tasks from '../workers/tasks.mjs';
import { type PeerPool, TASKS_URL, type TaskName, warmAll } from './types.js';

export class ShmexPool implements PeerPool {
  readonly ex: PoolExecutor;
  readonly tasks;
  readonly shmexTasks;
  readonly #workers: number;

  constructor(
    workers: number,
    Executor: typeof ProcessPoolExecutor | typeof ThreadPoolExecutor = ProcessPoolExecutor,
    options: ExecutorOptions = {},
  ) {
    this.#workers = workers;
    // The task modules are plain .mjs: the workers need no TypeScript loader (the peers get none either).
    this.ex = new Executor({ maxWorkers: workers, execArgv: [], ...options });
    this.tasks = this.ex.module<typeof Tasks>(TASKS_URL);
    this.shmexTasks = this.ex.module<typeof ShmexTasks>(
      new URL('../workers/shmex-tasks.mjs', import.meta.url),
    );
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    const future: Future<unknown> = this.tasks[task](x);
    return Promise.resolve(future);
  }

  warm(): Promise<void> {
    return warmAll(this.#workers, () => Promise.resolve(this.tasks.noop()));
  }

  close(): Promise<void> {
    return this.ex.shutdown();
  }
}
