// Peak space used in /dev/shm while something runs, above what was used when
// the measurement started. A worker thread reads statfs every ~1 ms (cheap,
// unlike the process-tree sampler of memory.ts), so it may run during timed
// calls and catches peaks while the main thread is blocked.
import { Worker } from 'node:worker_threads';
import { shmUsedKb } from '../workers/proc-memory.mjs';

const STATE = 0;
const GEN = 1;
const PEAK_KB = 2;
const SAMPLES = 3;

const IDLE = 1;
const SAMPLING = 2;

export interface ShmPeak {
  /** Peak used minus used at start, MB (1e6 bytes). */
  addedPeakMB: number;
  samples: number;
}

export class ShmPeakSampler {
  readonly #cells = new Int32Array(new SharedArrayBuffer(4 * 4));
  readonly #worker: Worker;
  readonly #dir: string;
  #baseKb: number | undefined;

  constructor(dir = '/dev/shm', intervalMs = 1) {
    this.#dir = dir;
    Atomics.store(this.#cells, STATE, IDLE);
    this.#worker = new Worker(new URL('../workers/shm-sampler.mjs', import.meta.url), {
      workerData: { buffer: this.#cells.buffer, dir, intervalMs },
      execArgv: [],
    });
    this.#worker.unref();
  }

  start(): void {
    const base = Math.round(shmUsedKb(this.#dir));
    Atomics.add(this.#cells, GEN, 1);
    Atomics.store(this.#cells, PEAK_KB, base);
    Atomics.store(this.#cells, SAMPLES, 0);
    Atomics.store(this.#cells, STATE, SAMPLING);
    Atomics.notify(this.#cells, STATE);
    this.#baseKb = base;
  }

  stop(): ShmPeak {
    const base = this.#baseKb;
    if (base === undefined) throw new Error('ShmPeakSampler.stop() without start()');
    const last = Math.round(shmUsedKb(this.#dir));
    Atomics.store(this.#cells, STATE, IDLE);
    const peak = Math.max(Atomics.load(this.#cells, PEAK_KB), last);
    const samples = Atomics.load(this.#cells, SAMPLES) + 2;
    Atomics.add(this.#cells, GEN, 1);
    this.#baseKb = undefined;
    return { addedPeakMB: ((peak - base) * 1024) / 1e6, samples };
  }

  /** Forgets a measurement that was started (an error path); harmless when none was. */
  cancel(): void {
    if (this.#baseKb === undefined) return;
    Atomics.store(this.#cells, STATE, IDLE);
    Atomics.add(this.#cells, GEN, 1);
    this.#baseKb = undefined;
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.ref();
    Atomics.store(this.#cells, STATE, 0);
    Atomics.notify(this.#cells, STATE);
    await exited;
  }
}
