// redis-server restarted (no persistence: every job and array is gone) while
// tasks run and wait: each pending Future rejects with a clear error instead
// of hanging, the machines' attempts end, and the executor takes tasks again
// once Redis is back.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import type * as ControlTasks from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

const local = useLocalCluster({ machines: 1, maxWorkers: 1, lockDuration: 1000 });
const { skip } = local;

test('Redis restarted under running and queued tasks: their Futures reject, none hangs', {
  skip,
}, async () => {
  const gates = new Gates();
  await using ex = local.cluster.executor({ redisTimeout: 1000 });
  const control = ex.module<typeof ControlTasks>(CONTROL);
  // One pool process, taking two jobs at a time: one runs, the others wait.
  const futures = ['a', 'b', 'c', 'd'].map((name) => control.gate(gates.dir, name, name));
  const counts = settleCounts(futures);
  await gates.started('a');
  await local.redis.restart();
  const outcomes = await Promise.allSettled(futures.map((f) => f.result(20_000)));
  for (const [i, outcome] of outcomes.entries()) {
    assert.equal(outcome.status, 'rejected', `task ${i} did not fail`);
    const error = (outcome as PromiseRejectedResult).reason as Error & { code?: string };
    assert.ok(
      error.code === 'ERR_SHMEX_JOB_LOST' || error.code === 'ERR_SHMEX_REDIS_UNAVAILABLE',
      `task ${i}: ${error.name} ${error.code}: ${error.message}`,
    );
    assert.match(error.message, /Redis/);
  }
  // The running attempt ends (its gate gives up) and cannot write a result into the new Redis.
  rmSync(gates.dir, { recursive: true, force: true });
  assert.equal(
    await ex.submit((a: number) => a * 2, 21).result(20_000),
    42,
    'tasks run again once Redis is back',
  );
  await ex.shutdown();
  assert.deepEqual(counts(), [1, 1, 1, 1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
