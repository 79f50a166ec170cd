// shared(array) passes an array that lives in shared memory by reference: the
// worker maps it shared, so a task's writes reach the caller's array.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  empty,
  from,
  InvalidArgumentError,
  NotTransferableError,
  ProcessPoolExecutor,
  shared,
  zeros,
} from 'shmex';
import { Gates } from './fixtures/control-tasks.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const BIG = 1 << 20;

test('shared(zeros()) lets a task write in place: the caller sees the writes (small and big)', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  for (const n of [4, BIG]) {
    const z = zeros(Float64Array, n);
    assert.equal(await shm.addInPlace(shared(z), 2), undefined);
    assert.equal(z[0], 2);
    assert.equal(z[n - 1], 2);
    assert.ok(z.every((v) => v === 2));
    // Again, from another task: writes accumulate in the one array.
    await shm.addInPlace(shared(z), 3);
    assert.ok(z.every((v) => v === 5));
    // Passed by value, the same array is not changed.
    assert.equal(await shm.overwrite(z, 0), 0);
    assert.ok(z.every((v) => v === 5));
  }
  // from() and empty() arrays too, and any element type.
  const f = from(Int32Array, [1, 2, 3]);
  await shm.fillView(shared(f), -4);
  assert.deepEqual([...f], [-4, -4, -4]);
  const e = empty(Float64Array, 3);
  e.fill(1);
  await shm.addInPlace(shared(e), 0.5);
  assert.deepEqual([...e], [1.5, 1.5, 1.5]);
});

test("a task's result passed back shared() is written in place, on its own worker and on another executor's", async () => {
  await using one = new ProcessPoolExecutor({ maxWorkers: 1 });
  await using other = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shmOne = one.module<typeof Shm>(SHM);
  const shmOther = other.module<typeof Shm>(SHM);
  for (const n of [3, BIG]) {
    const r = await shmOne.ramp(n, 0); // lives in a segment of one's worker
    const heapResult = await shmOne.scaleHeap(new Float64Array(n).fill(1), 1); // copied into a segment if big
    // Back to the worker that owns the segment.
    await shmOne.addInPlace(shared(r), 10);
    assert.equal(r[0], 10);
    assert.equal(r[n - 1], n - 1 + 10);
    // To a worker of another executor, which only borrows it.
    await shmOther.addInPlace(shared(r), 100);
    assert.equal(r[0], 110);
    assert.equal(r[n - 1], n - 1 + 110);
    // And the owner sees what the other process wrote.
    assert.equal(await shmOne.sum(r), (n * (n - 1)) / 2 + 110 * n);
    if (n === BIG) {
      await shmOther.addInPlace(shared(heapResult), 1);
      assert.equal(heapResult[0], 2);
      assert.equal(heapResult[n - 1], 2);
    }
  }
});

test('two tasks writing at once into disjoint parts of one shared() array: the caller sees both', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const shm = ex.module<typeof Shm>(SHM);
  const z = zeros(Int32Array, 2 * BIG);
  const lo = z.subarray(0, BIG);
  const hi = z.subarray(BIG);
  const a = shm.fillView(shared(lo), 1);
  const b = shm.fillView(shared(hi), 2);
  assert.deepEqual(await Promise.all([a, b]), [BIG, BIG]);
  assert.equal(z[0], 1);
  assert.equal(z[BIG - 1], 1);
  assert.equal(z[BIG], 2);
  assert.equal(z[2 * BIG - 1], 2);
  // A reader blocked on a gate with a shared() reference sees a write made after it started.
  const x = zeros(Float64Array, 8);
  const reader = shm.readAfterGate(shared(x), gates.dir, 'reader');
  await gates.started('reader');
  x[0] = 42;
  gates.release('reader');
  assert.deepEqual(await reader, [42, 42]);
});

test('shared() of a heap array rejects the Future with ERR_SHMEX_NOT_TRANSFERABLE, saying to use empty/zeros/from', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  for (const heap of [new Float64Array(3), new Float64Array(BIG)]) {
    const f = shm.addInPlace(shared(heap), 1);
    await assert.rejects(f, (error: unknown) => {
      assert.ok(error instanceof NotTransferableError);
      assert.equal((error as NotTransferableError).code, 'ERR_SHMEX_NOT_TRANSFERABLE');
      assert.equal((error as NotTransferableError).path, 'args[0]');
      assert.match((error as Error).message, /empty\(\), zeros\(\) or from\(\)/);
      return true;
    });
    assert.ok(heap.every((v) => v === 0));
  }
  // Deeper inside the arguments, the path says where.
  await assert.rejects(
    ex.submit((o: { w: Float64Array }) => o.w.length, { w: shared(new Float64Array(2)) }),
    { code: 'ERR_SHMEX_NOT_TRANSFERABLE', path: 'args[0].w' },
  );
  // A view over a heap buffer is no better, nor a Node Buffer.
  await assert.rejects(shm.fillView(shared(new Int32Array(new ArrayBuffer(16), 4, 2)), 1), {
    code: 'ERR_SHMEX_NOT_TRANSFERABLE',
  });
  await assert.rejects(
    ex.submit((b: Buffer) => b.length, shared(Buffer.alloc(4))),
    {
      code: 'ERR_SHMEX_NOT_TRANSFERABLE',
    },
  );
  // The executor still works.
  assert.equal(await shm.sum(from(Float64Array, [1, 2])), 3);
});

test('shared() of something that is not a typed array or DataView throws ERR_SHMEX_INVALID_ARGUMENT at once', () => {
  const bad: unknown[] = [[1, 2, 3], new ArrayBuffer(8), null, undefined, 42, { length: 1, 0: 1 }];
  for (const value of bad) {
    assert.throws(
      () => shared(value as Float64Array),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal((error as InvalidArgumentError).code, 'ERR_SHMEX_INVALID_ARGUMENT');
        return true;
      },
      String(value),
    );
  }
});

test('a DataView or a subarray of a shared-memory buffer passed shared(): writes land at the right place', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  for (const n of [8, BIG]) {
    const base = zeros(Float64Array, n);
    // A DataView over bytes [8, 8 + 48) of the buffer: its offset 8 is element 2 of the array.
    const view = new DataView(base.buffer, 8, 48);
    assert.equal(await shm.setFloat64(shared(view), 8, 3.5), 48);
    assert.equal(base[2], 3.5);
    assert.equal(
      base.reduce((s, v) => s + v, 0),
      3.5,
      'nothing else was written',
    );
    // A subarray over another type of view of the same buffer.
    const ints = new Int32Array(base.buffer);
    const middle = ints.subarray(8, 12); // elements 4 and 5 of the Float64Array
    assert.equal(await shm.fillView(shared(middle), -1), 4);
    assert.deepEqual([...ints.subarray(6, 14)], [0, 0, -1, -1, -1, -1, 0, 0]);
    assert.equal(base[2], 3.5);
    assert.ok(Number.isNaN(base[4]!), 'all bits set reads as NaN');
    assert.equal(base[6], 0);
    // A subarray of the array itself.
    const before = base[n - 3];
    await shm.addInPlace(shared(base.subarray(n - 2)), 7);
    assert.deepEqual([...base.subarray(n - 2)], [7, 7]);
    assert.equal(base[n - 3], before, 'the element before the subarray is untouched');
  }
});

test('shared() works at any depth of the arguments and alongside by-value arrays', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const out = zeros(Float64Array, 4);
  const input = from(Float64Array, [1, 2, 3, 4]);
  const n = await ex.submit(
    (args: { src: Float64Array; dst: Map<string, Float64Array[]> }) => {
      const dst = args.dst.get('out')![0]!;
      for (let i = 0; i < dst.length; i++) dst[i] = args.src[i]! * 10;
      args.src.fill(0); // by value: stays in the worker
      return dst.length;
    },
    { src: input, dst: new Map([['out', [shared(out)]]]) },
  );
  assert.equal(n, 4);
  assert.deepEqual([...out], [10, 20, 30, 40]);
  assert.deepEqual([...input], [1, 2, 3, 4]);
});
