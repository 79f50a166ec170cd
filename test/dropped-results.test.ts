// A loop that submits a large heap array, checks the large result and drops
// it (no release()), as most callers write it: the parent collects the
// dropped results before it sends the next task, and the worker collects the
// arrays it made once their outcome is out, so the worker makes each result
// in the segment the last one had. The segments that exist stay those of one
// round trip: the argument's copy and the result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listSegmentNames, type ModuleTasks, ProcessPoolExecutor, trimSharedMemory } from 'shmex';
import type * as Shm from './fixtures/shm-tasks.js';
import { familySegments, ownerPid } from './helpers/segments.js';
import { guardSharedMemory, segmentsSettled } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
// Above the parent's collection rule (64 MiB of results: tuning.ts PARENT_COLLECTION) in one result.
const N = 9 * (1 << 20); // 72 MiB of Float64
const ROUNDS = 8;

/** One round trip whose result is dropped when this returns. */
async function roundTrip(shm: ModuleTasks<typeof Shm>, x: Float64Array, round: number): Promise<void> {
  const y = await shm.scaleHeap(x, round);
  assert.equal(y.length, N);
  assert.equal(y[0], round);
  assert.equal(y[N - 1], round);
}

for (const workerAllocator of ['tuned', 'shared'] as const) {
  test(`${ROUNDS} round trips of 72 MiB that drop their results (workerAllocator '${workerAllocator}'): the worker keeps one result segment, the parent one argument copy`, async () => {
    const existing = new Set(listSegmentNames());
    const ownedByWorker: number[] = [];
    const ownedByParent: number[] = [];
    {
      await using ex = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator });
      const shm = ex.module<typeof Shm>(SHM);
      const x = new Float64Array(N).fill(1);
      for (let round = 1; round <= ROUNDS; round++) {
        await roundTrip(shm, x, round);
        const owners = familySegments().map(ownerPid);
        ownedByParent.push(owners.filter((pid) => pid === process.pid).length);
        ownedByWorker.push(owners.filter((pid) => pid !== process.pid).length);
      }
    }
    // Idle segments are kept for reuse (2 s), so these counts are every segment made so far: one
    // more for each round whose result could not take the last one's segment. A collection may
    // be skipped under load (PARENT_COLLECTION.maxTimeShare), hence the one spare; without the
    // collection before sending, a worker made a new result segment every other round or more.
    assert.ok(
      Math.max(...ownedByWorker) <= 2,
      `worker's segments after each round: ${ownedByWorker.join(', ')}`,
    );
    assert.ok(
      Math.max(...ownedByParent) <= 1,
      `parent's segments after each round: ${ownedByParent.join(', ')}`,
    );
    trimSharedMemory();
    assert.deepEqual(await segmentsSettled(existing), []);
  });
}
