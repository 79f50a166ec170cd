// A worker that ends (here: a task calls process.exit) right after tasks it
// finished: their outcomes, sent or gathered to be sent, reach the parent and
// those tasks resolve; only the task that ended the worker fails. The worker
// writes out its gathered outcomes as it exits, starts a task only once the
// outcomes before it are written to the channel, and the parent classifies
// a dead worker's tasks only once its channel has closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ModuleTasks,
  ProcessPoolExecutor,
  release,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from 'shmex';
import type * as Tasks from './fixtures/exit-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const tasksUrl = new URL('./fixtures/exit-tasks.js', import.meta.url);

type Kind = typeof ProcessPoolExecutor | typeof ThreadPoolExecutor;

/** A one-worker executor whose tasks are known to be quick, so it sends several to its worker per message. */
async function warmed(Executor: Kind) {
  const ex = new Executor({ maxWorkers: 1 });
  const t = ex.module<typeof Tasks>(tasksUrl);
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.quick(i)));
  }
  return { ex, t };
}

/** Submits `finished` and then a task that ends the worker (exit code 7), all in one batch; settles them. */
async function thenExit<T>(t: ModuleTasks<typeof Tasks>, finished: (() => PromiseLike<T>)[]) {
  const futures = finished.map((submit) => submit());
  const exit = t.exitNow(7);
  const after = t.quick(42); // never started: runs on the next worker
  const [outcomes, crash, next] = await Promise.all([
    Promise.allSettled(futures),
    Promise.allSettled([exit]).then(([o]) => o!),
    after,
  ]);
  assert.equal(crash.status, 'rejected');
  const error = (crash as PromiseRejectedResult).reason as WorkerCrashedError;
  assert.ok(error instanceof WorkerCrashedError, String(error));
  assert.equal(error.code, 'ERR_SHMEX_WORKER_CRASHED');
  assert.equal(error.exitCode, 7);
  assert.doesNotMatch(error.message, /after it finished this task/);
  assert.equal(next, 42);
  return outcomes.map((o) => {
    assert.equal(o.status, 'fulfilled', `a finished task failed: ${(o as PromiseRejectedResult).reason}`);
    return (o as PromiseFulfilledResult<T>).value;
  });
}

for (const [name, Executor] of [
  ['process', ProcessPoolExecutor],
  ['thread', ThreadPoolExecutor],
] as const) {
  test(`quick tasks gathered in one message, then a task that exits: they resolve (${name})`, async () => {
    const { ex, t } = await warmed(Executor);
    try {
      const values = await thenExit(
        t,
        [0, 1, 2, 3, 4].map((i) => () => t.quick(i)),
      );
      assert.deepEqual(values, [0, 1, 2, 3, 4]);
    } finally {
      await ex.shutdown();
    }
  });
}

test('results larger than the channel buffers, then a task that exits: they resolve', async () => {
  const { ex, t } = await warmed(ProcessPoolExecutor);
  try {
    // 1 MB cannot be written to a socket at once: the rest waits in the worker while it goes on.
    const size = 1_000_000;
    const values = await thenExit(
      t,
      [0, 1, 2].map((i) => () => t.flushingLarge(i, size)),
    );
    assert.deepEqual(
      values.map((v) => [v.length, Number.parseInt(v, 10)]),
      [0, 1, 2].map((i) => [size, i]),
    );
  } finally {
    await ex.shutdown();
  }
});

test('arrays in the exiting worker’s shared memory, then a task that exits: they resolve and stay readable', async () => {
  const { ex, t } = await warmed(ProcessPoolExecutor);
  try {
    const arrays = await thenExit(
      t,
      [1, 2, 3].map((v) => () => t.filled(1 << 15, v)),
    );
    assert.deepEqual(
      arrays.map((a) => [a.length, a[0], a[a.length - 1]]),
      [1, 2, 3].map((v) => [1 << 15, v, v]),
    );
    // Adopted by this process when their owner died: they still travel to tasks.
    assert.equal(await ex.submit((a: Float64Array) => a[100]!, arrays[2]!), 3);
    for (const a of arrays) release(a);
  } finally {
    await ex.shutdown();
  }
});
