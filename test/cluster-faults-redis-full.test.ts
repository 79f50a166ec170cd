// Redis full (a tiny maxmemory, noeviction): an argument or a result too
// large to store fails its task with a clear RedisFullError, and no part of
// the array stays stored; smaller tasks go on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisFullError } from 'shmex/cluster';
import type * as ClusterTasks from './fixtures/cluster-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { until } from './helpers/processes.js';
import { command } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-tasks.js', import.meta.url);
// 24 MB of float64, three chunks: Redis takes the first (it refuses writes only once past maxmemory), then refuses.
const N = 3_000_000;

const local = useLocalCluster({ redis: { maxmemory: '6mb' }, machines: 1, maxWorkers: 1 });
const { skip } = local;

/** Waits until Redis is below maxmemory again (it frees a large write's buffers a little later). */
async function roomAgain(): Promise<void> {
  await until('Redis to be below maxmemory', async () => {
    const memory = await local.redis.info('memory');
    return Number(memory.used_memory) < Number(memory.maxmemory) ? true : undefined;
  });
}

function isRedisFull(error: Error & { code?: string }): boolean {
  assert.equal(error.name, 'RedisFullError');
  assert.equal(error.code, 'ERR_SHMEX_REDIS_FULL');
  assert.match(error.message, /out of memory \(maxmemory\).*nothing of it was kept/);
  return true;
}

test('an argument Redis has no room for: RedisFullError, no partial blob', { skip }, async () => {
  await roomAgain();
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof ClusterTasks>(TASKS);
  const future = tasks.total(new Float64Array(N).fill(1));
  const counts = settleCounts([future]);
  await assert.rejects(
    Promise.resolve(future),
    (error: Error) => error instanceof RedisFullError && isRedisFull(error),
  );
  assert.deepEqual(
    await leftoverKeys(local.redis.port, local.cluster.queue),
    [],
    'part of the array stayed in Redis',
  );
  await roomAgain();
  assert.equal(await tasks.total(new Float64Array(1000).fill(1)), 1000, 'small tasks go on');
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
  assert.equal((await local.redis.info('memory')).maxmemory_policy, 'noeviction');
});

test('a result Redis has no room for: the task fails with RedisFullError, no partial blob', {
  skip,
}, async () => {
  await roomAgain();
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof ClusterTasks>(TASKS);
  const future = tasks.filled(N, 2);
  const counts = settleCounts([future]);
  await assert.rejects(Promise.resolve(future), isRedisFull);
  assert.deepEqual(
    await leftoverKeys(local.redis.port, local.cluster.queue),
    [],
    'part of the result stayed in Redis',
  );
  // The error must not carry the refused chunk along (ioredis attaches commands to its errors) into BullMQ's events.
  const events = Number(
    await command(local.redis.port, 'MEMORY', 'USAGE', `bull:${local.cluster.queue}:events`),
  );
  assert.ok(events < 1e6, `BullMQ's event stream holds ${events} bytes`);
  await roomAgain();
  assert.equal(await tasks.total(new Float64Array(1000).fill(1)), 1000, 'small tasks go on');
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
});
