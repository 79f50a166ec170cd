// Arguments a worker maps copy-on-write (an array made with from(), passed
// to tasks) are given back when the worker collects them: a worker whose
// tasks write them keeps a bounded number of their private pages while busy,
// and gives back their holds once idle; the caller's array never changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, ProcessPoolExecutor, release, trimSharedMemory } from 'shmex';
import type * as Shm from './fixtures/shm-tasks.js';
import { eventually, ownSegments } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const MiB = 1024 * 1024;
/** 16 MiB of float64. */
const N = (16 * MiB) / 8;

test('tasks that write all of their copy-on-write argument keep a bounded number of written copies', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = from(Float64Array, new Float64Array(N).fill(7));
  try {
    // 72 tasks at once: 1152 MiB of written pages if none were given back while the worker is busy.
    const rss = await Promise.all(Array.from({ length: 72 }, (_, i) => shm.overwriteThenRssAnon(x, i)));
    const growth = Math.max(...rss) - rss[0]!;
    // The collection rule bounds them at 512 MiB (copy-on-write bytes weigh 1/8 of 64 MiB); V8's own
    // collections (it counts every ArrayBuffer's bytes as external memory) often keep them far lower.
    assert.ok(growth < 768 * MiB, `the worker's anonymous memory grew by ${growth / MiB} MiB`);
    assert.equal(x[0], 7, "the tasks' writes stay theirs");
    assert.equal(x[N - 1], 7);
  } finally {
    release(x);
  }
});

test('an idle worker gives back the copy-on-write arguments of its last tasks', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const before = new Set(ownSegments());
  const x = from(Float64Array, new Float64Array(N).fill(1));
  const [name] = ownSegments().filter((s) => !before.has(s));
  assert.ok(name !== undefined, 'from() made a segment');
  // Three tasks: 48 MiB of copy-on-write mappings weigh 6 MiB, far from a collection by bytes.
  for (let i = 0; i < 3; i++) assert.equal(await shm.overwrite(x, i), i * N);
  release(x);
  // Given back by every process, the segment is idle: trimSharedMemory() unlinks it.
  const gone = await eventually(() => {
    trimSharedMemory();
    return !ownSegments().includes(name);
  });
  assert.ok(gone, 'the worker still holds the segment of its idle arguments');
});
