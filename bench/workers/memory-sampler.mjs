// The memory sampler: a worker thread that samples the process tree every
// ~10 ms while a measurement is on, so sampling goes on while the main thread
// is busy computing; between measurements it sleeps. Shared Int32Array
// cells (kB): see lib/memory.ts.
import { workerData } from 'node:worker_threads';
import { processTree, sample } from './proc-memory.mjs';

const STATE = 0; // 0 exit, 1 idle, 2 sampling
const GEN = 1;
const PEAK_TOTAL = 2;
const PEAK_PRIVATE = 3;
const PEAK_SHM = 4;
const SAMPLES = 5;

const cells = new Int32Array(workerData.buffer);
const { root, intervalMs } = workerData;
// Scanning /proc for the tree costs a few ms: rescan it every ~100 ms only
// (pools are started before a measurement begins, so the tree rarely changes).
const TREE_RESCAN_MS = 100;

function raise(index, value, gen) {
  for (;;) {
    if (Atomics.load(cells, GEN) !== gen) return; // reset meanwhile: this sample belongs to the past
    const current = Atomics.load(cells, index);
    if (value <= current) return;
    if (Atomics.compareExchange(cells, index, current, value) === current) return;
  }
}

let tree;
let scannedAt = 0;
for (;;) {
  const state = Atomics.load(cells, STATE);
  if (state === 0) break;
  if (state === 1) {
    tree = undefined;
    Atomics.wait(cells, STATE, 1);
    continue;
  }
  const gen = Atomics.load(cells, GEN);
  if (tree === undefined || performance.now() - scannedAt > TREE_RESCAN_MS) {
    tree = processTree(root);
    scannedAt = performance.now();
  }
  const s = sample(root, tree);
  raise(PEAK_TOTAL, Math.round(s.totalKb), gen);
  raise(PEAK_PRIVATE, Math.round(s.privateKb), gen);
  raise(PEAK_SHM, Math.round(s.shmKb), gen);
  if (Atomics.load(cells, GEN) === gen) Atomics.add(cells, SAMPLES, 1);
  Atomics.wait(cells, STATE, 2, intervalMs);
}
