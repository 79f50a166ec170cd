// piscina 5: worker threads. Arguments and results are structured-cloned
// unless transferred (transferList in, Piscina.move() out).
import { Piscina } from 'piscina';
import { type PeerPool, type TaskName, warmAll } from './types.js';

export class PiscinaPool implements PeerPool {
  readonly pool: Piscina;
  readonly #workers: number;

  constructor(workers: number) {
    this.#workers = workers;
    this.pool = new Piscina({
      filename: new URL('../workers/piscina-worker.mjs', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      execArgv: [],
    });
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    return this.pool.run(x, { name: task });
  }

  /** Transfers `x` to the worker (it is detached here) and the result back (Piscina.move). */
  runTransfer(task: TaskName, x: Float64Array): Promise<unknown> {
    return this.pool.run(x, { name: `${task}Move`, transferList: [x.buffer as ArrayBuffer] });
  }

  warm(): Promise<void> {
    return warmAll(this.#workers, () => this.pool.run(null, { name: 'noop' }));
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
