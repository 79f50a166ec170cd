// Plain submits made together travel in batch jobs: fewer jobs than tasks,
// each task still settles on its own (one that throws, or whose arguments
// cannot travel, fails alone), and a lone submit is a job of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leftoverKeys } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { command, text } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const local = useLocalCluster({ machines: 2, maxWorkers: 1 });
const { skip } = local;

/** How many jobs the queue has been given so far (BullMQ's id counter). */
async function jobsAdded(): Promise<number> {
  const value = await command(local.redis.port, 'GET', `bull:${local.cluster.queue}:id`);
  return value === null ? 0 : Number(text(value));
}

test('tasks submitted together travel in a few batch jobs, each with its own result', { skip }, async () => {
  const ex = local.cluster.executor({ maxWorkers: 2 });
  const before = await jobsAdded();
  const inputs = Array.from({ length: 200 }, (_, k) => Float64Array.from({ length: 100 }, () => k));
  const sums = await Promise.all(
    inputs.map((x) =>
      ex.submit((a: Float64Array) => a.reduce((s, v) => s + v, 0) + (a.length === 100 ? 0 : 1), x),
    ),
  );
  assert.deepEqual(
    sums,
    inputs.map((_, k) => 100 * k),
  );
  const jobs = (await jobsAdded()) - before;
  assert.ok(jobs >= 2 && jobs < 20, `200 tasks went in ${jobs} jobs`);
  const lone = await jobsAdded();
  assert.equal(await ex.submit(() => 'alone'), 'alone');
  assert.equal((await jobsAdded()) - lone, 1);
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});

test('in a batch, a task that throws or cannot travel fails alone', { skip }, async () => {
  const ex = local.cluster.executor({ maxWorkers: 1 });
  const task = (k: number, _extra?: unknown) => {
    if (k === 2) throw new RangeError(`no ${k}`);
    return k * 10;
  };
  const futures = [0, 1, 2, 3].map((k) => ex.submit(task, k));
  const bad = ex.submit(task, 4, () => 'a function');
  const more = [5, 6].map((k) => ex.submit(task, k));
  assert.deepEqual(await Promise.all([futures[0], futures[1], futures[3], ...more]), [0, 10, 30, 50, 60]);
  await assert.rejects(Promise.resolve(futures[2]), (error: Error) => {
    assert.equal(error.name, 'RangeError');
    assert.equal(error.message, 'no 2');
    return true;
  });
  await assert.rejects(Promise.resolve(bad), { code: 'ERR_SHMEX_NOT_TRANSFERABLE' });
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
