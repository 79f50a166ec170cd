// The segment pool: a segment given back is reused by the next array of its
// size class, idle segments are unlinked after about 2 s (or at once by
// trimSharedMemory()), and none outlives the executor once nothing holds it.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import {
  from,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  segmentPath,
  trimSharedMemory,
  zeros,
} from 'shmex';
import type * as Shm from './fixtures/shm-tasks.js';
import { eventually, gc, ownSegments, segmentsOf } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const BIG = 1 << 20;

/** Runs the callbacks setImmediate() queued before this call (segment 'free' messages go out that way). */
function afterImmediates(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function difference(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return a.filter((name) => !set.has(name));
}

/** Runs a few tasks with arrays of every origin, shuts down, and returns the worker pids and the arrays it kept. */
async function session(keep: boolean): Promise<{ workerPids: number[]; kept: Float64Array[] }> {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  const inputs = [from(Float64Array, new Float64Array(BIG).fill(1)), zeros(Float64Array, 10)];
  const results = await Promise.all([
    shm.scaleHeap(new Float64Array(BIG).fill(2), 2), // a heap argument: copied into a pooled segment
    shm.addOneShm(inputs[0]!),
    shm.sum(inputs[1]!),
    shm.ramp(BIG, 0),
  ]);
  assert.equal(results[0][BIG - 1], 4);
  assert.equal(results[1][0], 2);
  assert.equal(results[2], 0);
  const workerPids = (await Promise.all([shm.tagged(0), shm.tagged(1)])).map((t) => t.pid);
  return { workerPids, kept: keep ? [...inputs, results[0], results[1], results[3]] : [] };
}

const trimmedAll = () => {
  trimSharedMemory();
  return ownSegments().length === 0;
};

test('after shutdown with no arrays held, trimSharedMemory() leaves no segment of this process', async () => {
  // Arrays dropped: once collected, their segments are idle and trimmed.
  const dropped = await session(false);
  // The names of the exited workers' segments go once this process has collected the arrays in them.
  const workersGone = () => {
    gc();
    return dropped.workerPids.every((pid) => segmentsOf(pid).length === 0);
  };
  assert.ok(await eventually(workersGone, 10_000, true), 'the workers names are gone');
  assert.ok(await eventually(trimmedAll, 10_000, true), `left: ${ownSegments().join(', ')}`);

  // Arrays kept past shutdown keep their segments (results stay mapped, and their names stay, though
  // their workers are gone); released, those are idle in the pool, and one trim removes them all.
  const { workerPids, kept } = await session(true);
  assert.equal(kept[2]![BIG - 1], 4);
  assert.equal(kept[4]![BIG - 1], BIG - 1);
  const idle = ownSegments();
  assert.ok(idle.length >= 2, 'the from()/zeros() inputs live in segments of this process');
  for (const x of kept) assert.equal(release(x), true);
  // Segments of the exited workers that kept arrays lived in were adopted; released, they are gone.
  for (const pid of workerPids) assert.deepEqual(segmentsOf(pid), []);
  // The from()/zeros() inputs' segments are given back to the pool, not removed (the adopted
  // segments of exited workers are removed at release: nobody can reuse them).
  const pooled = idle.filter((name) => ownSegments().includes(name));
  assert.ok(pooled.length >= 2, 'given back, not yet removed');
  assert.deepEqual(difference(pooled, trimSharedMemory()), [], 'trim removes every idle segment');
  assert.ok(await eventually(trimmedAll, 10_000, true), `left: ${ownSegments().join(', ')}`);
});

test('a segment given back is reused by the next array of its size class, in this process and in a worker', async () => {
  trimSharedMemory();
  const before = ownSegments();
  const x = from(Float64Array, new Float64Array(BIG).fill(1));
  const [name] = difference(ownSegments(), before);
  assert.ok(name !== undefined);
  assert.equal(release(x), true);
  assert.ok(ownSegments().includes(name), 'given back, it stays in the pool');
  const y = zeros(Float64Array, BIG - 1); // the same size class
  assert.deepEqual(difference(ownSegments(), before), [name], 'no new segment: the idle one was reused');
  assert.ok(y.every((v) => v === 0));
  const other = zeros(Float64Array, 4 * BIG); // another size class: a new segment
  assert.equal(difference(ownSegments(), before).length, 2);
  assert.ok(release(y) && release(other));

  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const first = await shm.heapRamp(BIG, 0); // copied into a segment of the worker
  const { pid } = await shm.tagged(null);
  const names = segmentsOf(pid);
  assert.equal(names.length, 1);
  for (let round = 1; round <= 5; round++) {
    assert.equal(release(round === 1 ? first : await shm.heapRamp(BIG, round)), true);
    await afterImmediates(); // the 'free' goes out before the next task
  }
  const last = await shm.heapRamp(BIG, 9);
  assert.equal(last[BIG - 1], BIG - 1 + 9);
  assert.deepEqual(segmentsOf(pid), names, 'the worker reused its one segment every time');
  release(last);
  trimSharedMemory();
});

test('a segment takes the memory of the data it holds, not of its size class; reused for more data, it takes more', async () => {
  trimSharedMemory();
  const allocated = (array: Float64Array) => statSync(segmentPath(array)!).blocks * 512;
  const MiB = 1 << 20;
  // 9 MiB and 9.75 MiB of data share the size class of 10 MiB segments.
  const small = zeros(Float64Array, (9 * MiB) / 8);
  const smallBytes = allocated(small);
  assert.ok(
    smallBytes >= 9 * MiB && smallBytes <= 9 * MiB + 64 * 1024,
    `9 MiB of data take ${smallBytes} bytes`,
  );
  const path = segmentPath(small);
  assert.equal(release(small), true);
  const large = from(Float64Array, new Float64Array((9.75 * MiB) / 8).fill(3));
  assert.equal(segmentPath(large), path, 'the idle segment was reused');
  const largeBytes = allocated(large);
  assert.ok(
    largeBytes >= 9.75 * MiB && largeBytes <= 9.75 * MiB + 64 * 1024,
    `9.75 MiB take ${largeBytes} bytes`,
  );
  assert.ok(large.every((v) => v === 3));
  assert.equal(release(large), true);
  // And zeros() in it after that: every byte written before is zero again.
  const again = zeros(Float64Array, (9.5 * MiB) / 8);
  assert.equal(segmentPath(again), path);
  assert.ok(again.every((v) => v === 0));
  release(again);
  trimSharedMemory();
});

test('segments idle for more than about 2 s disappear without trimSharedMemory(), here and in workers', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  trimSharedMemory();
  const before = ownSegments();
  const x = from(Float64Array, new Float64Array(BIG).fill(1));
  const [mine] = difference(ownSegments(), before);
  assert.ok(mine !== undefined);
  const r = await shm.heapRamp(BIG, 0);
  const { pid } = await shm.tagged(null);
  const [theirs] = segmentsOf(pid);
  assert.ok(theirs !== undefined);
  assert.equal(release(x), true);
  assert.equal(release(r), true);
  // Idle now, but not gone yet: the pools keep them for a while.
  assert.ok(listSegmentNames().includes(mine));
  const started = Date.now();
  const gone = await eventually(() => {
    const names = new Set(listSegmentNames());
    return !names.has(mine) && !names.has(theirs);
  }, 10_000);
  assert.ok(gone, `still there after ${Date.now() - started} ms: ${listSegmentNames().join(', ')}`);
  // The worker made a new segment for its next result, and the caller maps that one.
  const again = await shm.heapRamp(BIG, 1);
  assert.equal(again[BIG - 1], BIG);
  assert.ok(!segmentsOf(pid).includes(theirs));
  // And an input of the caller travels in a new segment too.
  assert.equal(await shm.sum(from(Float64Array, [1, 2, 3])), 6);
  assert.equal(await shm.sum(new Float64Array(BIG).fill(1)), BIG);
});

test('trimSharedMemory() leaves segments in use alone', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  trimSharedMemory();
  const before = ownSegments();
  const x = from(Float64Array, new Float64Array(BIG).fill(3));
  const [name] = difference(ownSegments(), before);
  assert.ok(name !== undefined);
  const r = await shm.ramp(BIG, 0);
  assert.ok(!trimSharedMemory().includes(name));
  assert.ok(listSegmentNames().includes(name));
  assert.equal(x[BIG - 1], 3);
  assert.equal(await shm.sum(x), 3 * BIG);
  assert.equal(await shm.sum(r), (BIG * (BIG - 1)) / 2);
  assert.equal(release(x), true);
  assert.equal(release(r), true);
});

test('a released result the worker made with empty() goes back to its idle pool and is trimmed after about 2 s', {}, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const r = await shm.ramp(BIG, 0);
  const { pid } = await shm.tagged(null);
  const [theirs] = segmentsOf(pid);
  assert.ok(theirs !== undefined);
  assert.equal(release(r), true);
  assert.ok(await eventually(() => !listSegmentNames().includes(theirs), 10_000), 'trimmed in the worker');
});
