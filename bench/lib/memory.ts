// Peak memory of this process and all its descendants while something runs.
// A worker thread samples every ~10 ms between start() and stop() (the main
// thread may be busy in a loop, and must not be slowed when nothing is
// measured); the main thread also samples at start (the baseline) and at
// stop. Memory = sum of (Pss - Pss_Shmem) over the tree + /dev/shm usage, so
// each shared page counts once (see workers/proc-memory.mjs).
import { Worker } from 'node:worker_threads';
import { type MemorySample, sample } from '../workers/proc-memory.mjs';

const STATE = 0;
const GEN = 1;
const PEAK_TOTAL = 2;
const PEAK_PRIVATE = 3;
const PEAK_SHM = 4;
const SAMPLES = 5;

const IDLE = 1;
const SAMPLING = 2;

export interface MemoryPeak {
  /** The sample taken when the measurement started (kB). */
  baseline: MemorySample;
  /** Peak of the total minus the baseline's total, in MB (1e6 bytes). */
  addedPeakMB: number;
  /** Peak of the per-process part (Pss - Pss_Shmem) minus its baseline, MB. */
  addedPrivatePeakMB: number;
  /** Peak growth of /dev/shm usage, MB. */
  addedShmPeakMB: number;
  /** Total at the end minus the baseline's, MB (what was still held when the measurement stopped). */
  addedAtEndMB: number;
  /** Samples taken (by the sampler thread, plus the main thread's two). */
  samples: number;
  durationMs: number;
  /** durationMs / samples: reading smaps_rollup slows down as more memory is mapped. */
  meanIntervalMs: number;
}

const kbToMB = (kb: number) => (kb * 1024) / 1e6;

export class MemorySampler {
  readonly #cells = new Int32Array(new SharedArrayBuffer(8 * 4));
  readonly #worker: Worker;
  #baseline: MemorySample | undefined;
  #startedAt = 0;

  constructor(intervalMs = 10) {
    Atomics.store(this.#cells, STATE, IDLE);
    this.#worker = new Worker(new URL('../workers/memory-sampler.mjs', import.meta.url), {
      workerData: { buffer: this.#cells.buffer, root: process.pid, intervalMs },
      execArgv: [],
    });
    this.#worker.unref();
  }

  /** Takes the baseline now and starts tracking the peak from it. */
  start(): MemorySample {
    const base = sample(process.pid);
    Atomics.add(this.#cells, GEN, 1);
    Atomics.store(this.#cells, PEAK_TOTAL, Math.round(base.totalKb));
    Atomics.store(this.#cells, PEAK_PRIVATE, Math.round(base.privateKb));
    Atomics.store(this.#cells, PEAK_SHM, Math.round(base.shmKb));
    Atomics.store(this.#cells, SAMPLES, 0);
    Atomics.store(this.#cells, STATE, SAMPLING);
    Atomics.notify(this.#cells, STATE);
    this.#baseline = base;
    this.#startedAt = performance.now();
    return base;
  }

  /** The peak since start() (a last sample taken now included), relative to the baseline. */
  stop(): MemoryPeak {
    const base = this.#baseline;
    if (base === undefined) throw new Error('MemorySampler.stop() without start()');
    const last = sample(process.pid);
    Atomics.store(this.#cells, STATE, IDLE);
    const peakTotal = Math.max(Atomics.load(this.#cells, PEAK_TOTAL), last.totalKb);
    const peakPrivate = Math.max(Atomics.load(this.#cells, PEAK_PRIVATE), last.privateKb);
    const peakShm = Math.max(Atomics.load(this.#cells, PEAK_SHM), last.shmKb);
    const samples = Atomics.load(this.#cells, SAMPLES) + 2;
    Atomics.add(this.#cells, GEN, 1); // a sample still in flight belongs to nobody
    this.#baseline = undefined;
    const durationMs = performance.now() - this.#startedAt;
    return {
      baseline: base,
      addedPeakMB: kbToMB(peakTotal - base.totalKb),
      addedPrivatePeakMB: kbToMB(peakPrivate - base.privateKb),
      addedShmPeakMB: kbToMB(peakShm - base.shmKb),
      addedAtEndMB: kbToMB(last.totalKb - base.totalKb),
      samples,
      durationMs,
      meanIntervalMs: durationMs / samples,
    };
  }

  /** Forgets a measurement that was started (an error path); harmless when none was. */
  cancel(): void {
    if (this.#baseline === undefined) return;
    Atomics.store(this.#cells, STATE, IDLE);
    Atomics.add(this.#cells, GEN, 1);
    this.#baseline = undefined;
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.ref(); // keeps the event loop alive until the thread has exited
    Atomics.store(this.#cells, STATE, 0);
    Atomics.notify(this.#cells, STATE);
    await exited;
  }
}
