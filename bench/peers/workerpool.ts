// workerpool 10 in process mode (child_process.fork). Its default IPC
// serialization is JSON, which would turn a Float64Array into an object of
// 2e7 string keys; we give it serialization: 'advanced' (V8's serializer, as
// plain fork uses), so typed arrays cross intact.
import { fileURLToPath } from 'node:url';
import workerpool from 'workerpool';
import { type PeerPool, type TaskName, warmAll } from './types.js';

export class WorkerpoolPool implements PeerPool {
  readonly pool: ReturnType<typeof workerpool.pool>;
  readonly #workers: number;

  constructor(workers: number) {
    this.#workers = workers;
    this.pool = workerpool.pool(fileURLToPath(new URL('../workers/workerpool-worker.mjs', import.meta.url)), {
      workerType: 'process',
      minWorkers: workers,
      maxWorkers: workers,
      forkOpts: { serialization: 'advanced', execArgv: [] },
    });
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    return Promise.resolve(this.pool.exec(task, [x]));
  }

  warm(): Promise<void> {
    return warmAll(this.#workers, () => Promise.resolve(this.pool.exec('noop', [])));
  }

  async close(): Promise<void> {
    await this.pool.terminate();
  }
}
