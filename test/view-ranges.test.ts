// A view travels as the bytes it covers, not as its whole buffer: views of
// one buffer in one value arrive aliasing each other over the covering range
// of all of them, a view of a shared-memory array is mapped over its own
// pages only, and a task's writes never reach the caller's array. Through
// both executor kinds, with real segments; the shared-memory directory is
// looked at, never the clock.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { from, inSharedMemory, ProcessPoolExecutor, release, shared, ThreadPoolExecutor } from 'shmex';
import type * as Views from './fixtures/view-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const VIEWS = new URL('./fixtures/view-tasks.js', import.meta.url);
const N = 1_000_000; // 8 MB of Float64: views of it are far above the default threshold

function ramp(n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = i;
  return x;
}

function sumRange(from: number, to: number): number {
  return ((to - 1 + from) * (to - from)) / 2;
}

/** Sizes of the segment files in this file's shared-memory directory. */
function shmFileSizes(): number[] {
  const dir = process.env.SHMEX_SHM_DIR!;
  return readdirSync(dir)
    .filter((name) => name.startsWith('shmex.') && !name.includes('.adopter.')) // not a worker's mark
    .map((name) => statSync(join(dir, name)).size);
}

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  const kind = Executor.name;

  test(`${kind}: views of one buffer alias each other after transfer, over their covering range`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    for (const [n, a0, a1, b0, b1] of [
      [N, 100_000, 200_000, 1_500_000, 1_900_000], // through a segment
      [1000, 10, 20, 120, 200], // inline
    ] as const) {
      const x = ramp(n);
      const a = x.subarray(a0, a1);
      const b = new Uint8Array(x.buffer, b0, b1 - b0);
      const index = (b0 - a0 * 8) / 8; // the element of a at b's first byte
      const seen = await views.aliasing(a, b, index, 0);
      const start = a0 * 8;
      assert.equal(seen.sameBuffer, true);
      assert.equal(seen.seen, 42, 'a write through one view is seen through the other');
      assert.deepEqual(seen.a, { length: a1 - a0, byteOffset: 0, bufferByteLength: b1 - start });
      assert.deepEqual(seen.b, { length: b1 - b0, byteOffset: b0 - start, bufferByteLength: b1 - start });
      assert.equal(x[a0 + index], a0 + index, "the task's write never reaches the caller's array");
    }
  });

  test(`${kind}: views of one buffer in a result arrive aliasing each other`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    for (const [n, from_, to] of [
      [N, 250_000, 500_000],
      [1000, 10, 20],
    ] as const) {
      const [part, bytes] = await views.makeViews(n, from_, to);
      assert.equal(part.length, to - from_);
      assert.equal(part[0], from_);
      assert.equal(part.buffer, bytes.buffer);
      assert.equal(part.buffer.byteLength, (to - from_) * 8, 'only the covered bytes came back');
      part[0] = -5;
      assert.equal(new Float64Array(bytes.buffer, bytes.byteOffset, 1)[0], -5);
      release(part);
    }
  });

  test(`${kind}: a subarray result comes back as its own bytes`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    const small = await views.subarrayOf(N, 10, 20);
    assert.deepEqual([...small], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.equal(small.buffer.byteLength, 80);
    assert.equal(inSharedMemory(small), false, 'below the threshold: inline');
    const large = await views.subarrayOf(N, 100_000, 300_000);
    assert.equal(large.length, 200_000);
    assert.equal(large[199_999], 299_999);
    assert.equal(large.buffer.byteLength, 1_600_000);
    release(large);
  });

  test(`${kind}: a subarray of a from() array maps its own pages, copy-on-write`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    const x = from(Float64Array, ramp(N));
    const before = shmFileSizes().length;
    for (const [lo, hi] of [
      [250_000, 500_000],
      [1, 3], // far below the threshold: still by its segment, which it lives in
      [N - 7, N],
    ] as const) {
      const { sum, arrived } = await views.sumThenScribble(x.subarray(lo, hi));
      assert.equal(sum, sumRange(lo, hi));
      assert.deepEqual(arrived, { length: hi - lo, byteOffset: 0, bufferByteLength: (hi - lo) * 8 });
      assert.equal(x[lo], lo, "the task's writes stay in its copy-on-write mapping");
      assert.equal(x[hi - 1], hi - 1);
    }
    assert.equal(shmFileSizes().length, before, 'no segment was made: the views went by reference');
    release(x);
  });

  test(`${kind}: shared() of a subarray maps its pages by reference: the task's writes reach that part alone`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    const x = from(Float64Array, ramp(N));
    const { sum, arrived } = await views.sumThenScribble(shared(x.subarray(300_000, 300_010)));
    assert.equal(sum, sumRange(300_000, 300_010));
    assert.deepEqual(arrived, { length: 10, byteOffset: 0, bufferByteLength: 80 });
    assert.deepEqual([...x.subarray(299_999, 300_011)], [299_999, ...Array(10).fill(-1), 300_010]);
    release(x);
  });

  test(`${kind}: a subarray of a task's result, passed on to another task`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const views = ex.module<typeof Views>(VIEWS);
    const [whole] = await views.makeViews(N, 0, N);
    const part = whole.subarray(600_000, 700_000);
    const { sum, arrived } = await views.sumThenScribble(part);
    assert.equal(sum, sumRange(600_000, 700_000));
    assert.deepEqual(arrived, { length: 100_000, byteOffset: 0, bufferByteLength: 800_000 });
    assert.equal(whole[600_000], 600_000, 'the result the task was given a view of is unchanged');
    // Views of it at unaligned places still arrive aligned to their elements.
    const odd = new Float64Array(whole.buffer, 8 * 123_457, 3);
    const again = await views.sumThenScribble(odd);
    assert.equal(again.sum, sumRange(123_457, 123_460));
    assert.equal(again.arrived.length, 3);
    release(whole);
  });

  test(`${kind}: subarray(0, 10) of a 160 MB array sends 80 bytes, not the array`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const views = ex.module<typeof Views>(VIEWS);
    const big = new Float64Array(2e7);
    big[3] = 7;
    const view = big.subarray(0, 10);
    const during = await views.shmFileSizes(view);
    assert.ok(
      during.every((size) => size < 1 << 20),
      `no segment near the array's size exists during the task: ${during.join(', ')}`,
    );
    assert.ok(
      shmFileSizes().every((size) => size < 1 << 20),
      'none is left in the pool either',
    );
    assert.deepEqual(await views.arrival(view), { length: 10, byteOffset: 0, bufferByteLength: 80 });
    // The same holds for a large view of it: only its bytes, once, in a segment of their size.
    const large = big.subarray(1_000_000, 1_200_000); // 1.6 MB
    const sizes = await views.shmFileSizes(large);
    assert.ok(
      sizes.every((size) => size < 4 << 20),
      `only a segment of the view's size: ${sizes.join(', ')}`,
    );
  });
}
