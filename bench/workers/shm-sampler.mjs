// The /dev/shm sampler: a worker thread that reads the space used in the
// shared-memory directory (one statfs, a few µs) every ~1 ms while a
// measurement is on, so the peak is seen even while the main thread is stuck
// in a synchronous loop. Shared Int32Array cells: see lib/shm-peak.ts.
import { workerData } from 'node:worker_threads';
import { shmUsedKb } from './proc-memory.mjs';

const STATE = 0; // 0 exit, 1 idle, 2 sampling
const GEN = 1;
const PEAK_KB = 2;
const SAMPLES = 3;

const cells = new Int32Array(workerData.buffer);
const { dir, intervalMs } = workerData;

for (;;) {
  const state = Atomics.load(cells, STATE);
  if (state === 0) break;
  if (state === 1) {
    Atomics.wait(cells, STATE, 1);
    continue;
  }
  const gen = Atomics.load(cells, GEN);
  const kb = Math.round(shmUsedKb(dir));
  for (;;) {
    if (Atomics.load(cells, GEN) !== gen) break; // reset meanwhile: this sample belongs to the past
    const current = Atomics.load(cells, PEAK_KB);
    if (kb <= current || Atomics.compareExchange(cells, PEAK_KB, current, kb) === current) {
      Atomics.add(cells, SAMPLES, 1);
      break;
    }
  }
  Atomics.wait(cells, STATE, 2, intervalMs);
}
