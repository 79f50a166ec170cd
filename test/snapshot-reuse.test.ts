// The small arrays of a task's arguments are copied into slabs shared by
// many tasks, and a slab is filled again once the outcomes of all its tasks
// have come (see releaseSnapshots in transfer/own-view.ts); a worker's small
// results are snapshotted into slabs of its own. Each task must still receive
// exactly its own bytes, and each caller its own result: while later tasks
// reuse the memory of finished ones, and when a task goes to another worker
// after the one it was sent to died.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor, WorkerCrashedError } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const LENGTH = 1000;

/** Its first and last elements and its sum; an array starting with -1 ends its worker. */
const probe = (x: Float64Array): number[] => {
  if (x[0] === -1) globalThis.process.exit(3);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  return [x[0]!, x[x.length - 1]!, sum];
};

function arrayOf(task: number): Float64Array {
  const x = new Float64Array(LENGTH);
  for (let i = 0; i < LENGTH; i++) x[i] = task * LENGTH + i;
  return x;
}

function expected(task: number): number[] {
  const first = task * LENGTH;
  return [first, first + LENGTH - 1, first * LENGTH + (LENGTH * (LENGTH - 1)) / 2];
}

test('tasks submitted while earlier ones finish receive their own arguments', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const futures: PromiseLike<number[]>[] = [];
  let next = 0;
  const wave = (count: number) => {
    for (let i = 0; i < count; i++) {
      const x = arrayOf(next++);
      futures.push(ex.submit(probe, x));
      x.fill(Number.NaN); // the caller's later writes never reach the task
    }
  };
  for (let round = 0; round < 6; round++) {
    wave(400);
    // Some of this wave finish, then the next wave is copied into their memory while the rest run.
    await futures[futures.length - 300];
  }
  const results = await Promise.all(futures);
  for (let task = 0; task < results.length; task++) assert.deepEqual(results[task], expected(task));
});

test('tasks sent again after their worker died still receive their own arguments', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const futures: PromiseLike<number[]>[] = [];
  const CRASH = 500;
  for (let task = 0; task < 1200; task++) {
    const x = arrayOf(task);
    if (task === CRASH) x[0] = -1;
    futures.push(ex.submit(probe, x));
    // Later tasks are copied while those of the dead worker wait to be sent again.
    if (task === CRASH + 100) await assert.rejects(Promise.resolve(futures[CRASH]), WorkerCrashedError);
  }
  const settled = await Promise.allSettled(futures);
  for (let task = 0; task < settled.length; task++) {
    if (task === CRASH) continue;
    const outcome = settled[task]!;
    assert.equal(outcome.status, 'fulfilled', `task ${task}`);
    assert.deepEqual(outcome.value, expected(task), `task ${task}`);
  }
});

/** A new array of `length` elements counting up from `from` (the task's own, returned whole). */
const countFrom = (from: number, length: number): Float64Array => {
  const y = new Float64Array(length);
  for (let i = 0; i < length; i++) y[i] = from + i;
  return y;
};

test('small results, many gathered into one message and one after another, each come back whole', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const check = (y: Float64Array, task: number) => {
    assert.equal(y.length, LENGTH, `task ${task}`);
    assert.equal(y[0], task * LENGTH, `task ${task}`);
    assert.equal(y[LENGTH - 1], task * LENGTH + LENGTH - 1, `task ${task}`);
    assert.ok(
      y.every((v, i) => v === task * LENGTH + i),
      `task ${task}`,
    );
  };
  for (let round = 0; round < 4; round++) {
    const futures = Array.from({ length: 500 }, (_, task) => ex.submit(countFrom, task * LENGTH, LENGTH));
    const results = await Promise.all(futures);
    results.forEach(check);
  }
  for (let task = 0; task < 50; task++) check(await ex.submit(countFrom, task * LENGTH, LENGTH), task);
});
