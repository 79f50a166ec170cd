// A job's message of 16 KiB or more (a batch of tasks with arrays below the
// blob threshold, or their results) travels as a key beside the job, not in
// the job's JSON: the results are the same, the keys are deleted once read
// (not only at shutdown), and a message deleted from Redis before a machine
// reads it fails its task with a BlobError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as ControlTasks from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { until } from './helpers/processes.js';
import { command, keys, text } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
/** 24 KB of float64: inline (below the 128 KiB blob threshold), and a message of 16 KiB or more. */
const LENGTH = 3000;

const local = useLocalCluster({ machines: 1, maxWorkers: 1 });
const { skip } = local;

async function setCalls(): Promise<number> {
  const stats = await command(local.redis.port, 'INFO', 'commandstats');
  return Number(/cmdstat_set:calls=(\d+)/.exec(text(stats))?.[1] ?? 0);
}

test('large messages travel beside their jobs and are deleted once read', { skip }, async () => {
  const ex = local.cluster.executor({ maxWorkers: 1 });
  const sets = await setCalls();
  const rounds = 3;
  let jobs = 0;
  for (let round = 0; round < rounds; round++) {
    const inputs = Array.from({ length: 10 }, (_, k) => new Float64Array(LENGTH).fill(round * 100 + k));
    // 10 tasks submitted together, maxWorkers 1: 4 batch jobs (3, 3, 3 and 1 tasks).
    jobs += 4;
    const outputs = await Promise.all(
      inputs.map((x) => ex.submit((a: Float64Array) => a.map((v) => v + 1), x)),
    );
    outputs.forEach((y, k) => {
      assert.ok(y instanceof Float64Array);
      assert.equal(y.length, LENGTH);
      assert.equal(y[0], round * 100 + k + 1);
      assert.equal(y[LENGTH - 1], round * 100 + k + 1);
    });
  }
  // Each job stored its arguments and its result as keys; BullMQ SETs each job's lock too (Redis
  // counts the commands scripts run), and a machine its heartbeat every 2 s.
  const stored = (await setCalls()) - sets;
  assert.ok(stored >= 3 * jobs, `${stored} SETs for ${jobs} jobs`);
  // Deleted once read, before shutdown would delete them.
  await until('the message keys to be deleted', async () =>
    (await keys(local.redis.port, `${ex.keyPrefix}*`)).length === 0 ? true : undefined,
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}; left: ${(await keys(local.redis.port, `${ex.keyPrefix}*`)).join(', ')}`,
    );
  });
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});

test('a task whose arguments were deleted from Redis before it ran fails with a BlobError', {
  skip,
}, async () => {
  using gates = new Gates();
  const ex = local.cluster.executor();
  const control = ex.module<typeof ControlTasks>(CONTROL);
  // The machine takes 2 jobs at once (its one pool process runs 'a', 'b' waits for it), so the
  // next job waits in the queue until 'a' ends.
  const held = [control.gate(gates.dir, 'a', 1), control.gate(gates.dir, 'b', 2)];
  await gates.started('a');
  const victim = ex.submit((a: Float64Array) => a.length, new Float64Array(LENGTH));
  const counts = settleCounts([victim]);
  const key = await until(
    'the arguments of the queued task to be stored',
    async () => (await keys(local.redis.port, `${ex.keyPrefix}*message`))[0],
  );
  assert.ok(!((await command(local.redis.port, 'DEL', key)) instanceof Error));
  gates.release('a', 'b');
  assert.deepEqual(await Promise.all(held), [1, 2]);
  await assert.rejects(Promise.resolve(victim), (error: Error & { code?: string }) => {
    assert.equal(error.name, 'BlobError');
    assert.equal(error.code, 'ERR_SHMEX_BLOB');
    assert.match(error.message, /arguments is missing from Redis/);
    assert.ok(error.message.includes(key), 'the message names the key');
    return true;
  });
  // The machine goes on.
  assert.equal(await ex.submit((a: Float64Array) => a.length, new Float64Array(LENGTH)), LENGTH);
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
