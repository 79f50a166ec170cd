// A numeric pipeline: generate -> smooth -> stats, four signals at once. Each
// stage's output comes back in shared memory and goes to the next stage
// without a copy (inSharedMemory tells), and is released once used.
// Run: node --import tsx examples/pipeline/main.ts
import assert from 'node:assert/strict';
import { inSharedMemory, ProcessPoolExecutor, release } from 'shmex';
import type * as Stages from './stages.js';
import { generate, smooth, stats } from './stages.js';

const N = 2_000_000; // 16 MB per signal

await using ex = new ProcessPoolExecutor();
const stages = ex.module<typeof Stages>(new URL('./stages.js', import.meta.url));

async function run(seed: number) {
  const signal = await stages.generate(N, seed);
  assert.ok(inSharedMemory(signal), 'the generated signal lives in shared memory');
  const smoothed = await stages.smooth(signal, 50); // passed on without a copy
  release(signal);
  const result = await stages.stats(smoothed);
  release(smoothed);
  return result;
}

const results = await Promise.all([1, 2, 3, 4].map(run));
// The same pipeline in this process gives the same numbers.
for (const [i, result] of results.entries()) {
  const signal = generate(N, i + 1);
  const local = stats(smooth(signal, 50));
  release(signal);
  assert.deepEqual(result, local);
}
console.log(`4 signals of ${N} samples through 3 stages: results identical to in-process`);
