// workerAllocator: 'shared': in worker processes and threads, `new X(length)`
// of 1 MiB or more is made in shared memory, zeroed, so a task's large result
// comes back without a copy; smaller arrays, views over buffers and
// subclasses behave as before, and what checks constructors (instanceof,
// prototypes) sees plain typed arrays. In threads, only the thread's own
// constructors change, never this thread's. Checked in real workers against
// the other allocators.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inSharedMemory, ProcessPoolExecutor, release, ThreadPoolExecutor } from 'shmex';
import type * as Tasks from './fixtures/shared-array-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/shared-array-tasks.js', import.meta.url);
const BIG = 1 << 18; // 2 MiB of float64: above the 1 MiB where arrays go to shared memory
const KINDS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

test("with 'shared' (the default), a task's new typed arrays of 1 MiB and more live in shared memory, zeroed; with 'tuned' they do not", async () => {
  await using shared = new ProcessPoolExecutor({ maxWorkers: 1 });
  await using tuned = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator: 'tuned' });
  const s = shared.module<typeof Tasks>(TASKS);
  const t = tuned.module<typeof Tasks>(TASKS);
  for (const kind of KINDS) {
    assert.deepEqual(await s.made(kind, 1 << 20), { shared: true, instance: true, zeros: true }, kind);
    assert.deepEqual(await t.made(kind, 1 << 20), { shared: false, instance: true, zeros: true }, kind);
  }
  // Just below 1 MiB, on the heap.
  assert.equal((await s.made('Float64Array', (1 << 17) - 1)).shared, false);
  assert.equal((await s.made('Uint8Array', 1 << 20)).shared, true);
});

test("with 'shared', a task's result comes back right, lives in shared memory, and can be released", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator: 'shared' });
  const tasks = ex.module<typeof Tasks>(TASKS);
  for (let round = 0; round < 4; round++) {
    const y = await tasks.filled(BIG, round + 0.5);
    assert.ok(y instanceof Float64Array);
    assert.equal(y.length, BIG);
    assert.ok(y.every((v) => v === round + 0.5));
    assert.ok(inSharedMemory(y));
    assert.ok(release(y));
  }
});

test("with 'shared', an array made where an earlier one was released reads as zeros", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator: 'shared' });
  const tasks = ex.module<typeof Tasks>(TASKS);
  assert.deepEqual(await tasks.zeroedAfterReuse(BIG), {
    firstShared: true,
    secondShared: true,
    zeros: true,
    zerosAfterEmpty: true,
  });
});

test("with 'shared', constructors still behave as the built-in ones for the code that checks them", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator: 'shared' });
  const tasks = ex.module<typeof Tasks>(TASKS);
  assert.deepEqual(await tasks.identity(BIG), {
    instanceOf: true,
    prototype: true,
    isView: true,
    tag: '[object Float64Array]',
    name: 'Float64Array',
    bytesPerElement: 8,
    subclass: true,
    subShared: false, // a subclass makes its instances on the heap, as before
    withoutNew: 'TypeError',
    fromList: [1, 2, 3],
    fromShared: true, // Float64Array.from makes its array with `new this(length)`
    ofList: [4, 5],
    overBuffer: 2,
    smallShared: false,
    emptyLength: 3,
    sliceShared: false, // slice makes its copy with the original constructor
    constructorIsGlobal: true, // the prototypes' constructor is the replacement
    viaConstructorShared: true,
    subarrayKind: true,
  });
});

test("with 'shared', a synchronous run of large temporaries puts at most 1 GiB in shared memory, the rest on the heap", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, workerAllocator: 'shared' });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const n = 1 << 20; // 8 MiB each: 128 fit in 1 GiB
  assert.deepEqual(await tasks.temporaries(140, n), { shared: 128, sum: 140 });
  // On a later turn the budget is whole again.
  assert.equal((await tasks.made('Float64Array', n)).shared, true);
});

test("threads: with 'shared' (their default too), a task's new typed arrays of 1 MiB and more live in shared memory, zeroed; with 'default' they do not; this thread's constructors are untouched", async () => {
  await using shared = new ThreadPoolExecutor({ maxWorkers: 1 });
  await using plain = new ThreadPoolExecutor({ maxWorkers: 1, workerAllocator: 'default' });
  const s = shared.module<typeof Tasks>(TASKS);
  const p = plain.module<typeof Tasks>(TASKS);
  for (const kind of KINDS) {
    assert.deepEqual(await s.made(kind, 1 << 20), { shared: true, instance: true, zeros: true }, kind);
    assert.deepEqual(await p.made(kind, 1 << 20), { shared: false, instance: true, zeros: true }, kind);
  }
  assert.equal((await s.made('Float64Array', (1 << 17) - 1)).shared, false);
  // The threads changed their own globals, not those of the thread that made the executor.
  const here = new Float64Array(1 << 20);
  assert.equal(inSharedMemory(here), false);
  assert.equal(Float64Array.prototype.constructor, Float64Array);
  assert.equal(Object.getPrototypeOf(here), Float64Array.prototype);
});

test("threads: with 'shared', a task's result comes back right, lives in shared memory, can be released, and its segment serves the next result", async () => {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  for (let round = 0; round < 4; round++) {
    const y = await tasks.filled(BIG, round + 0.5);
    assert.ok(y instanceof Float64Array);
    assert.equal(Object.getPrototypeOf(y), Float64Array.prototype);
    assert.equal(y.length, BIG);
    assert.ok(y.every((v) => v === round + 0.5));
    assert.ok(inSharedMemory(y));
    assert.ok(release(y));
  }
  assert.deepEqual(await tasks.zeroedAfterReuse(BIG), {
    firstShared: true,
    secondShared: true,
    zeros: true,
    zerosAfterEmpty: true,
  });
});

test("threads: with 'shared', constructors in the thread still behave as the built-in ones", async () => {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const seen = await tasks.identity(BIG);
  assert.equal(seen.instanceOf, true);
  assert.equal(seen.prototype, true);
  assert.equal(seen.name, 'Float64Array');
  assert.equal(seen.subShared, false);
  assert.equal(seen.fromShared, true);
  assert.equal(seen.constructorIsGlobal, true);
  assert.equal(seen.viaConstructorShared, true);
});

test("'tuned' is refused for threads, and an unknown allocator names the three", () => {
  assert.throws(() => new ThreadPoolExecutor({ workerAllocator: 'tuned' }), {
    name: 'InvalidArgumentError',
    message: /workerAllocator cannot be 'tuned' for threads/,
  });
  assert.throws(() => new ProcessPoolExecutor({ workerAllocator: 'huge' as 'shared' }), {
    name: 'InvalidArgumentError',
    message: /workerAllocator must be 'tuned', 'shared' or 'default', got the string "huge"/,
  });
});
