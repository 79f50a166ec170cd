// release(array) hands an array's segment back at once and detaches the
// array; arrays that are dropped go back when they are garbage-collected.
// Either way, a loop of round trips reuses a few segments instead of making
// new ones: the number of segments that exist stays small.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  from,
  inSharedMemory,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  trimSharedMemory,
} from 'shmex';
import { Gates } from './fixtures/control-tasks.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { familySegments } from './helpers/segments.js';
import { guardSharedMemory, segmentsSettled } from './helpers/shm-guard.js';
import { rampShm } from './helpers/values.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const BIG = 1 << 20; // 8 MiB of Float64
const ROUNDS = 40;

test('release(result) returns true and detaches it and every other view of its buffer; a second release returns false', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const results: Array<[string, Float64Array]> = [
    ['big empty() result', await shm.ramp(BIG, 0)],
    ['small empty() result', await shm.ramp(3, 0)],
    ['big heap result', await shm.scaleHeap(new Float64Array(BIG).fill(1), 3)],
    ['from() array of the caller', from(Float64Array, [1, 2, 3])],
  ];
  for (const [what, r] of results) {
    assert.ok(inSharedMemory(r), what);
    const bytes = new Uint8Array(r.buffer);
    const tail = r.subarray(1);
    const view = new DataView(r.buffer);
    assert.equal(release(r), true, what);
    assert.equal(r.length, 0, `${what}: the array reads as empty`);
    assert.equal(r.buffer.byteLength, 0, what);
    assert.equal(bytes.length, 0, `${what}: another view of the buffer`);
    assert.equal(tail.length, 0, `${what}: a subarray`);
    assert.throws(() => view.getFloat64(0), TypeError, `${what}: a DataView of a detached buffer`);
    assert.equal(r[0], undefined);
    assert.equal(inSharedMemory(r), false, what);
    assert.equal(release(r), false, `${what}: released twice`);
    assert.equal(release(bytes), false, `${what}: through another view`);
    // A released array cannot be sent: it holds no data.
    await assert.rejects(shm.sum(r), { code: 'ERR_SHMEX_NOT_TRANSFERABLE' });
  }
  assert.equal(await shm.sum(new Float64Array([1, 2])), 3, 'the executor still works');
});

test('release() of an array that does not live in shared memory returns false and leaves it intact', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const heap = new Float64Array([1, 2, 3]);
  assert.equal(release(heap), false);
  assert.deepEqual([...heap], [1, 2, 3]);
  const bigHeap = new Float64Array(BIG).fill(4);
  assert.equal(release(bigHeap), false);
  assert.equal(bigHeap.length, BIG);
  assert.equal(bigHeap[BIG - 1], 4);
  assert.equal(release(new DataView(new ArrayBuffer(8))), false);
  assert.equal(release(new ArrayBuffer(8)), false);
  const sab = new Int32Array(new SharedArrayBuffer(16));
  assert.equal(release(sab), false);
  assert.equal(sab.length, 4);
  assert.equal(release(Buffer.from('abc')), false);
  // A small result is copied inline: it is a heap array.
  const inline = await shm.scaleHeap(new Float64Array([1, 2]), 2);
  assert.equal(release(inline), false);
  assert.deepEqual([...inline], [2, 4]);
  // The heap arrays still travel.
  assert.equal(await shm.sum(bigHeap), 4 * BIG);
});

test('release() of an input while a task still reads it: the task keeps its values, the segment is not reused meanwhile', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const shm = ex.module<typeof Shm>(SHM);
  const x = rampShm(BIG);
  const reading = shm.readAfterGate(x, gates.dir, 'reader');
  await gates.started('reader');
  assert.equal(release(x), true);
  assert.equal(x.length, 0);
  // Arrays of the same size now must not take x's segment: the task still maps it.
  const others = [1, 2, 3].map((v) => from(Float64Array, new Float64Array(BIG).fill(-v)));
  gates.release('reader');
  assert.deepEqual(await reading, [0, (BIG * (BIG - 1)) / 2]);
  for (const [i, o] of others.entries()) {
    assert.equal(o[0], -(i + 1));
    assert.equal(o[BIG - 1], -(i + 1));
    assert.ok(release(o));
  }
});

type LoopKind = 'from() input, heap result' | 'from() input, empty() result' | 'heap input, heap result';

/**
 * ROUNDS round trips of 8 MiB arrays, one at a time; each result is checked
 * and then dropped (or released). Returns how many segments of this process
 * and its workers existed after each round.
 */
async function roundTrips(kind: LoopKind, releaseEach: boolean): Promise<number[]> {
  const counts: number[] = [];
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
    const shm = ex.module<typeof Shm>(SHM);
    const heapInput = new Float64Array(BIG).fill(1);
    const input = kind.startsWith('heap') ? heapInput : from(Float64Array, heapInput);
    for (let round = 0; round < ROUNDS; round++) {
      const result = kind.endsWith('empty() result')
        ? await shm.addOneShm(input)
        : await shm.scaleHeap(input, 2);
      assert.equal(result.length, BIG);
      assert.equal(result[round], 2);
      if (releaseEach) assert.equal(release(result), true);
      counts.push(familySegments().length);
    }
    release(input);
  }
  return counts;
}

function checkBound(counts: number[], bound: number): void {
  assert.equal(counts.length, ROUNDS);
  assert.ok(
    Math.max(...counts) <= bound,
    `at most ${bound} segments should exist at any time; after each round: ${counts.join(', ')}`,
  );
}

// The number of segments depends on when the processes collect garbage, so
// the bounds are generous: a leak (a new segment per round, never given
// back) reaches 40 and more.
const DROP_BOUND = 16;
// With release() nothing of a round outlives it: one argument and one result, twice over for messages in flight.
const RELEASE_BOUND = 6;

for (const kind of ['from() input, heap result', 'from() input, empty() result'] as const) {
  test(`${ROUNDS} round trips of 8 MiB arrays (${kind}) that drop their results keep at most ${DROP_BOUND} segments`, async () => {
    const existing = new Set(listSegmentNames());
    checkBound(await roundTrips(kind, false), DROP_BOUND);
    trimSharedMemory();
    assert.deepEqual(await segmentsSettled(existing), []);
  });
}

test(`${ROUNDS} round trips of 8 MiB heap arrays that drop their results keep at most ${DROP_BOUND} segments`, async () => {
  const existing = new Set(listSegmentNames());
  checkBound(await roundTrips('heap input, heap result', false), DROP_BOUND);
  trimSharedMemory();
  assert.deepEqual(await segmentsSettled(existing), []);
});

test(`${ROUNDS} round trips of 8 MiB arrays (from() input, heap result) that release() their results keep at most ${RELEASE_BOUND} segments`, async () => {
  const existing = new Set(listSegmentNames());
  checkBound(await roundTrips('from() input, heap result', true), RELEASE_BOUND);
  trimSharedMemory();
  assert.deepEqual(await segmentsSettled(existing), []);
});

for (const kind of ['from() input, empty() result', 'heap input, heap result'] as const) {
  test(`${ROUNDS} round trips of 8 MiB arrays (${kind}) that release() their results keep at most ${RELEASE_BOUND} segments`, async () => {
    const existing = new Set(listSegmentNames());
    checkBound(await roundTrips(kind, true), RELEASE_BOUND);
    trimSharedMemory();
    assert.deepEqual(await segmentsSettled(existing), []);
  });
}
