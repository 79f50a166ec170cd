// ex.stats(): workers, queued and running tasks observed while tasks are held
// at gates (test/fixtures/control-tasks.ts), and the outcome counters after.
// No timing assertions: utilization is only checked to be in [0, 1] and > 0 after work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExecutorStats, ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

/** Every field but utilization. */
function counts(stats: ExecutorStats): Omit<ExecutorStats, 'utilization'> {
  const { utilization, ...rest } = stats;
  assert.ok(utilization >= 0 && utilization <= 1, `utilization ${utilization} is in [0, 1]`);
  return rest;
}

const zero = {
  workers: 0,
  busyWorkers: 0,
  idleWorkers: 0,
  queuedTasks: 0,
  runningTasks: 0,
  completedTasks: 0,
  failedTasks: 0,
  cancelledTasks: 0,
};

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  const on = Executor === ThreadPoolExecutor ? ' (threads)' : '';

  test(`a new executor has no workers and has counted nothing${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    assert.deepEqual(ex.stats(), { ...zero, utilization: 0 });
  });

  test(`stats() counts queued, running, completed, failed and cancelled tasks${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const a = control.gate(gates.dir, 'a', 'A');
    await gates.started('a');
    // A long task is never queued behind another in a worker: b, c and d wait in the parent.
    const b = control.gate(gates.dir, 'b', 'B');
    const c = control.gate(gates.dir, 'c', 'C');
    const abort = new AbortController();
    const d = ex.withOptions({ signal: abort.signal }).submit((x: number) => x, 4);
    assert.deepEqual(counts(ex.stats()), {
      ...zero,
      workers: 1,
      busyWorkers: 1,
      queuedTasks: 3,
      runningTasks: 1,
    });
    assert.equal(c.cancel(), true);
    abort.abort();
    assert.equal(d.cancelled(), true);
    assert.deepEqual(counts(ex.stats()), {
      ...zero,
      workers: 1,
      busyWorkers: 1,
      queuedTasks: 1,
      runningTasks: 1,
      cancelledTasks: 2,
    });
    gates.release('a');
    assert.equal(await a, 'A');
    await gates.started('b');
    assert.deepEqual(counts(ex.stats()), {
      ...zero,
      workers: 1,
      busyWorkers: 1,
      runningTasks: 1,
      completedTasks: 1,
      cancelledTasks: 2,
    });
    gates.release('b');
    assert.equal(await b, 'B');
    const failing = ex.submit(() => {
      throw new Error('counted');
    });
    await assert.rejects(failing, { message: 'counted' });
    const stats = ex.stats();
    assert.deepEqual(counts(stats), {
      ...zero,
      workers: 1,
      idleWorkers: 1,
      completedTasks: 2,
      failedTasks: 1,
      cancelledTasks: 2,
    });
    assert.ok(stats.utilization > 0, 'the worker was busy for a while');
    await ex.shutdown();
    assert.deepEqual(counts(ex.stats()), { ...counts(stats), workers: 0, idleWorkers: 0 });
    assert.ok(ex.stats().utilization > 0);
  });

  test(`busy workers and running tasks across workers; a task stopped while running counts as failed${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const abort = new AbortController();
    const a = ex
      .withOptions({ signal: abort.signal })
      .module<typeof Control>(CONTROL)
      .gate(gates.dir, 'a', 1);
    const b = control.gate(gates.dir, 'b', 2);
    await Promise.all([gates.started('a'), gates.started('b')]);
    assert.deepEqual(counts(ex.stats()), { ...zero, workers: 2, busyWorkers: 2, runningTasks: 2 });
    abort.abort();
    await assert.rejects(a, { code: 'ERR_SHMEX_ABORTED' });
    // Its worker is being killed: the task no longer runs, and it failed (it had started).
    assert.equal(ex.stats().runningTasks, 1);
    assert.equal(ex.stats().failedTasks, 1);
    assert.equal(ex.stats().cancelledTasks, 0);
    gates.release('b');
    assert.equal(await b, 2);
    assert.equal(ex.stats().completedTasks, 1);
  });
}
