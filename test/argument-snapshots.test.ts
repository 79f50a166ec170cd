// Value semantics at submit for inline arguments: an array the caller writes
// to right after submit() still arrives as it was at submit, whether its task
// goes out at once (several to a frame, written from where the arguments
// were copied at submit), waits in the queue behind a busy worker, or goes
// back to the queue when the worker it was sent to dies before starting it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor, WorkerCrashedError } from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

/** 1000 float64 (8 kB: below the threshold, inline), every element worth `k`. */
function argument(k: number): Float64Array {
  return new Float64Array(1000).fill(k);
}

/** The sum of a task's argument, and whether each element was what it was at submit. */
const sumOf = (x: Float64Array): number => x.reduce((s, v) => s + v, 0);

test('arguments written to right after submit arrive as they were, in bursts larger than a pipe holds', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  for (let round = 0; round < 3; round++) {
    const futures = [];
    for (let i = 0; i < 300; i++) {
      const x = argument(i + 1);
      futures.push(ex.submit(sumOf, x));
      x.fill(-1); // after submit: never seen by the task
    }
    const sums = await Promise.all(futures);
    assert.deepEqual(
      sums,
      Array.from({ length: 300 }, (_, i) => (i + 1) * 1000),
    );
  }
});

test('arguments of tasks queued behind a busy worker arrive as they were at submit', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const busy = control.gate(gates.dir, 'busy', 0);
  await gates.started('busy');
  const futures = [];
  for (let i = 0; i < 40; i++) {
    const x = argument(i + 1);
    futures.push(ex.submit(sumOf, x));
    x.fill(-1);
  }
  assert.equal(ex.stats().queuedTasks, 40, 'every task waits in the queue');
  gates.release('busy');
  assert.equal(await busy, 0);
  assert.deepEqual(
    await Promise.all(futures),
    Array.from({ length: 40 }, (_, i) => (i + 1) * 1000),
  );
});

test('arguments of tasks sent to a worker that dies before starting them arrive as they were at submit', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const tasks = ex.module<typeof Tasks>(TASKS);
  // Quick tasks first: the pool then sends a worker several tasks at a time.
  for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 100 }, (_, k) => tasks.identity(k)));
  const victim = control.gate(gates.dir, 'victim', 0);
  const futures = [];
  for (let i = 0; i < 10; i++) {
    const x = argument(i + 1);
    futures.push(ex.submit(sumOf, x));
    x.fill(-1);
  }
  const pid = await gates.started('victim');
  assert.equal(ex.stats().queuedTasks, 0, 'the tasks behind the victim were sent to its worker');
  process.kill(pid, 'SIGKILL');
  assert.ok((await rejection(victim)) instanceof WorkerCrashedError);
  assert.deepEqual(
    await Promise.all(futures),
    Array.from({ length: 10 }, (_, i) => (i + 1) * 1000),
  );
});
