import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor } from 'shmex';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

test('a module task round-trips a large Float64Array through shared memory', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const tasks = ex.module<typeof Tasks>(new URL('./fixtures/tasks.js', import.meta.url));
  const x = new Float64Array(1e6).fill(1);
  const y = await tasks.addOne(x);
  assert.ok(y instanceof Float64Array);
  assert.equal(y.length, 1e6);
  assert.equal(y[0], 2);
  assert.equal(x[0], 1);
});
