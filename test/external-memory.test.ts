// What V8 counts as external memory in the parent, the figure that makes it
// collect on its own: every array a task returns or from() makes counts its
// bytes once, while JavaScript holds it; the segments kept mapped for reuse
// (the parent's own, into which arguments are copied, and its workers',
// cached) count nothing, since no collection can free them. Counted twice or
// more, or counted while only kept, they made V8 collect in nearly every
// call of a loop whose results are a few MB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, ProcessPoolExecutor, release } from 'shmex';
import { native } from '../dist/shm/native.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { gc, tick } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const MiB = 1 << 20;
const N = 2 * MiB; // 16 MiB of Float64
/** Room for what else a call allocates outside V8's heap (message buffers, a mapping's window). */
const SLACK = 2 * MiB;

/** V8's external memory after the garbage of earlier steps is gone. */
async function settled(): Promise<number> {
  gc();
  await tick(10);
  gc();
  return native.externalMemory();
}

function near(grown: number, expected: number, what: string): void {
  assert.ok(
    grown >= expected - SLACK && grown <= expected + SLACK,
    `${what}: V8 external memory grew by ${(grown / MiB).toFixed(2)} MiB, expected ${(expected / MiB).toFixed(2)} MiB`,
  );
}

test('a result counts its bytes once while held; released, nothing; its cached segment nothing', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  // The worker started, its task module loaded, with a segment of another size: round 0's is new.
  release(await shm.heapRamp(N / 4, 0));
  for (let round = 0; round < 2; round++) {
    // Round 0 maps the worker's segment anew, round 1 finds it cached: the same count both times.
    const e0 = await settled();
    const y = await shm.heapRamp(N, round);
    assert.equal(y[N - 1], N - 1 + round);
    near(native.externalMemory() - e0, y.byteLength, `round ${round}, result held`);
    release(y);
    near((await settled()) - e0, 0, `round ${round}, result released`);
  }
});

test('a heap argument copied into a kept segment counts nothing once the task is done', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = new Float64Array(N).fill(1);
  assert.equal(await shm.sum(x.subarray(0, 8)), 8); // the worker started, its task module loaded
  const e0 = await settled();
  for (let i = 0; i < 4; i++) assert.equal(await shm.sum(x), N);
  near((await settled()) - e0, 0, 'a segment made for copies of 16 MiB, four copies in');
});

function fromTwos(): Float64Array {
  return from(Float64Array, new Float64Array(N).fill(2));
}

test('an array made with from() counts its bytes once, and nothing once released', async () => {
  const e0 = await settled();
  const a = fromTwos(); // a suspended async function keeps its temporaries: the heap array is made elsewhere
  near((await settled()) - e0, a.byteLength, 'from() held');
  release(a);
  near((await settled()) - e0, 0, 'from() released');
});
