import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor, WorkerCrashedError } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

test('a worker that runs out of memory fails only its task, and the pool goes on', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, execArgv: ['--max-old-space-size=24'] });
  const hog = ex.submit(() => {
    const keep: number[][] = [];
    for (;;) keep.push(new Array(1e5).fill(Math.random()));
  });
  const after = ex.submit((x: Float64Array) => x.length, new Float64Array(1e6));
  const error = await hog.then(
    () => assert.fail('the task should not finish'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkerCrashedError);
  assert.equal(error.code, 'ERR_SHMEX_WORKER_CRASHED');
  assert.ok(
    error.signal === 'SIGABRT' || error.exitCode !== 0,
    `signal ${error.signal}, exit ${error.exitCode}`,
  );
  assert.match(error.message, /SIGABRT|exit/);
  assert.equal(await after, 1e6);
});
