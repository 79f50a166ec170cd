// Arrays made with from(), empty() and zeros() live in shared memory from the
// start and go to tasks without a copy: the worker maps them copy-on-write,
// so a task's writes never reach the caller. Results a task builds with
// empty() come back without a copy and live in shared memory too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_THRESHOLD,
  empty,
  from,
  inSharedMemory,
  ProcessPoolExecutor,
  release,
  type TypedArray,
  type TypedArrayConstructor,
  zeros,
} from 'shmex';
import { Gates } from './fixtures/control-tasks.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rampShm, sumOf } from './helpers/values.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const BIG = 1 << 20; // 8 MiB of Float64: far above the default threshold
const SMALL = 5; // 40 bytes: far below it

function strings(x: TypedArray): string[] {
  return Array.from(x as ArrayLike<number | bigint>, (v) => String(v));
}

/** 0, 1, 2, ... as a Float64Array in shared memory. */
const rampSum = (n: number) => (n * (n - 1)) / 2;

test('from(), empty() and zeros() make arrays in shared memory; heap arrays are not', () => {
  const a = from(Float64Array, [1.5, 2.5, 3.5]);
  assert.ok(a instanceof Float64Array);
  assert.deepEqual([...a], [1.5, 2.5, 3.5]);
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, 24);
  assert.ok(inSharedMemory(a));
  assert.ok(inSharedMemory(a.buffer));
  assert.ok(inSharedMemory(a.subarray(1)), 'a view of the same buffer is in shared memory too');

  const e = empty(Int32Array, 10);
  assert.ok(e instanceof Int32Array);
  assert.equal(e.length, 10);
  assert.ok(inSharedMemory(e));

  const z = zeros(Uint8Array, 100_000);
  assert.equal(z.length, 100_000);
  assert.ok(z.every((v) => v === 0));
  assert.ok(inSharedMemory(z));

  assert.deepEqual([...from(Int16Array, new Set([3, 1, 2]))], [3, 1, 2], 'from() takes an iterable');
  assert.deepEqual([...from(BigInt64Array, [-5n, 7n])], [-5n, 7n]);

  assert.equal(inSharedMemory(new Float64Array(3)), false);
  assert.equal(inSharedMemory(new Float64Array(BIG)), false);
  assert.equal(empty(Float64Array, 0).length, 0);

  assert.throws(() => empty(Float64Array, -1), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
  assert.throws(() => zeros(Float64Array, 1.5), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
  assert.throws(() => from(Array as unknown as Float64ArrayConstructor, [1]), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
  });
  for (const x of [a, e, z]) assert.ok(release(x));
});

test('zeros() gives zeros even when it reuses the recycled memory of a released array', () => {
  for (let round = 0; round < 3; round++) {
    const dirty = from(Float64Array, new Float64Array(8192).fill(7));
    assert.ok(release(dirty));
    const clean = zeros(Float64Array, 8192);
    assert.ok(clean.every((v) => v === 0));
    assert.ok(release(clean));
  }
});

test('every TypedArray kind made with from() arrives in a task with its kind and values, in shared memory there too', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  const cases: Array<[TypedArrayConstructor, number[] | bigint[]]> = [
    [Int8Array, [-128, -1, 0, 127]],
    [Uint8Array, [0, 1, 255]],
    [Uint8ClampedArray, [0, 128, 255]],
    [Int16Array, [-32768, 0, 32767]],
    [Uint16Array, [0, 65535]],
    [Int32Array, [-(2 ** 31), 0, 2 ** 31 - 1]],
    [Uint32Array, [0, 2 ** 32 - 1]],
    [Float32Array, [1.5, -0.25, Number.POSITIVE_INFINITY, Number.NaN]],
    [Float64Array, [Math.PI, -1e300, Number.NEGATIVE_INFINITY, Number.NaN]],
    [BigInt64Array, [-(2n ** 63n), -1n, 2n ** 63n - 1n]],
    [BigUint64Array, [0n, 2n ** 64n - 1n]],
  ];
  const arrays = cases.map(([ctor, values]) => from(ctor, values) as TypedArray);
  for (const [i, x] of arrays.entries()) {
    assert.ok(inSharedMemory(x), `${cases[i]![0].name} in shared memory`);
    assert.equal(x.constructor, cases[i]![0]);
  }
  const seen = await Promise.all(arrays.map((x) => shm.look(x)));
  for (const [i, s] of seen.entries()) {
    const name = cases[i]![0].name;
    assert.equal(s.kind, name);
    assert.equal(s.length, arrays[i]!.length, name);
    assert.deepEqual(s.values, strings(arrays[i]!), name);
    assert.equal(s.inShm, true, `${name}: the worker sees it in shared memory (zero-copy)`);
  }
  // The caller's arrays are as they were.
  for (const [i, x] of arrays.entries()) {
    assert.deepEqual(x, from(cases[i]![0], cases[i]![1]), cases[i]![0].name);
  }
});

test('a task that writes into a from()/empty()/zeros() input does not change the caller array (small and big)', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);

  const small = from(Float64Array, [1, 2, 3, 4, 5]);
  assert.ok(small.byteLength < DEFAULT_THRESHOLD);
  assert.equal(await shm.overwrite(small, 9), 45, 'the task saw its own writes');
  assert.deepEqual([...small], [1, 2, 3, 4, 5]);

  const big = rampShm(BIG);
  assert.equal(await shm.overwrite(big, -1), -BIG);
  assert.equal(sumOf(big), rampSum(BIG));
  assert.equal(big[BIG - 1], BIG - 1);

  const z = zeros(Float64Array, BIG);
  assert.equal(await shm.overwrite(z, 2), 2 * BIG);
  assert.ok(z.every((v) => v === 0));

  // The same input to several tasks in a row: each starts from the caller's values.
  for (let i = 1; i <= 4; i++) {
    assert.equal(await shm.overwrite(big, i), i * BIG);
    assert.equal(await shm.sum(big), rampSum(BIG));
  }
  assert.equal(sumOf(big), rampSum(BIG));

  // Small zero-copy arrays go through their segment too (not inline), and the worker sees them there.
  assert.equal(await shm.argInShm(small), true);
  assert.equal(await shm.argInShm(new Float64Array(SMALL)), false, 'a small heap array travels inline');
});

test('two tasks writing into the same from() array at once each see only their own writes; the caller sees neither', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const shm = ex.module<typeof Shm>(SHM);
  for (const n of [SMALL, BIG]) {
    const x = rampShm(n);
    const a = shm.overwriteThenGate(x, 100, gates.dir, `a${n}`);
    const b = shm.overwriteThenGate(x, 200, gates.dir, `b${n}`);
    const [pa, pb] = await Promise.all([gates.started(`a${n}`), gates.started(`b${n}`)]);
    assert.notEqual(pa, pb, 'the two tasks run at the same time in two workers');
    // Both have written everything by now, and are blocked.
    assert.equal(sumOf(x), rampSum(n), `n=${n}: the caller's array is unchanged while they hold it`);
    gates.release(`a${n}`, `b${n}`);
    assert.deepEqual(await a, [100, 100]);
    assert.deepEqual(await b, [200, 200]);
    assert.equal(sumOf(x), rampSum(n));
    assert.equal(x[n - 1], n - 1);
  }
});

for (const maxWorkers of [1, 2]) {
  test(`a task's result passed on to further tasks arrives intact and keeps value semantics (maxWorkers ${maxWorkers})`, async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers });
    const shm = ex.module<typeof Shm>(SHM);
    for (const n of [SMALL, BIG]) {
      const r = await shm.ramp(n, 10); // made with empty() in the worker
      assert.ok(inSharedMemory(r));
      assert.equal(sumOf(r), rampSum(n) + 10 * n);
      // Chained three times: each result is the input of the next task.
      let y = r;
      for (let k = 1; k <= 3; k++) {
        y = await shm.addOneShm(y);
        assert.ok(inSharedMemory(y));
        assert.equal(y[0], 10 + k);
        assert.equal(y[n - 1], 10 + n - 1 + k);
      }
      // A task that writes into a result it was given leaves the caller's result alone.
      assert.equal(await shm.overwrite(r, 0), 0);
      assert.equal(await shm.overwrite(y, -1), -n);
      assert.equal(sumOf(r), rampSum(n) + 10 * n);
      assert.equal(y[0], 13);
      assert.equal(await shm.sum(r), rampSum(n) + 10 * n, 'and the next task sees the caller values');
      // The caller may write into its results; later tasks see that.
      r[0] = 1000;
      assert.equal(await shm.sum(r), rampSum(n) + 10 * n - 10 + 1000);
    }
    // A big heap result also comes back mapped, and chains the same way.
    const h = await shm.scaleHeap(rampShm(BIG), 2);
    assert.ok(inSharedMemory(h));
    assert.equal(await shm.overwrite(h, 5), 5 * BIG);
    assert.equal(await shm.sum(h), 2 * rampSum(BIG));
    assert.equal(sumOf(h), 2 * rampSum(BIG));
  });
}

test('a task that returns an array made with empty() or zeros() gives the caller an array in shared memory', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  const small = await shm.ramp(SMALL, 1);
  assert.ok(small instanceof Float64Array);
  assert.deepEqual([...small], [1, 2, 3, 4, 5]);
  assert.ok(inSharedMemory(small), 'even below the threshold');
  const big = await shm.zerosWith(BIG, BIG - 1, 42);
  assert.equal(big.length, BIG);
  assert.equal(big[BIG - 1], 42);
  assert.equal(sumOf(big), 42);
  assert.ok(inSharedMemory(big));
  const fromHeap = await shm.addOneShm(new Float64Array([1, 2]));
  assert.deepEqual([...fromHeap], [2, 3]);
  assert.ok(inSharedMemory(fromHeap));
  // A function task may use the helpers by name.
  const made = await ex.submit((n: number) => {
    const y = zeros(Float64Array, n);
    y[n - 1] = n;
    return y;
  }, BIG);
  assert.equal(made[BIG - 1], BIG);
  assert.ok(inSharedMemory(made));
  // A small heap result is copied inline: it does not live in shared memory.
  const inline = await shm.scaleHeap(new Float64Array([1, 2]), 3);
  assert.deepEqual([...inline], [3, 6]);
  assert.equal(inSharedMemory(inline), false);
  // Results are the caller's to write.
  small[0] = -1;
  big[0] = -1;
  assert.equal(await shm.sum(small), 13);
  assert.equal(await shm.sum(big), 41);
});

test('a task that writes into a zero-copy input and returns it gives the caller its writes', {}, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  for (const n of [SMALL, BIG]) {
    const x = rampShm(n);
    const y = await shm.overwriteAndReturn(x, 9);
    assert.equal(y[0], 9, `n=${n}: the result holds the task's writes`);
    assert.equal(sumOf(y), 9 * n);
    assert.equal(sumOf(x), rampSum(n), 'and the input is unchanged');
    // The same through a result the worker itself made (its own segment, sent back to it).
    const r = await shm.ramp(n, 0);
    const r2 = await shm.overwriteAndReturn(r, 7);
    assert.equal(r2[0], 7);
    assert.equal(r[1], 1);
  }
});

test('a result that is the task input returned unchanged does not alias the caller array', {}, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = from(Float64Array, [1, 2, 3]);
  const y = await ex.submit((v: Float64Array) => v, x);
  x.fill(7);
  assert.deepEqual([...y], [1, 2, 3], 'the result keeps the values the task returned');
  const r = await shm.ramp(3, 10);
  const r2 = await ex.submit((v: Float64Array) => v, r);
  r2[0] = 5;
  assert.equal(r[0], 10, 'writing into the new result leaves the earlier one alone');
});
