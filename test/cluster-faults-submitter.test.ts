// A submitter killed with SIGKILL while its tasks run: nothing it caused
// stays in Redis past the time-to-live (its stored arrays, the results
// machines upload for it, its jobs), and the machines go on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { LocalCluster } from 'shmex/cluster';
import { Gates } from './fixtures/control-tasks.js';
import { clusterProcesses, leftoverKeys } from './helpers/cluster-checks.js';
import { alive, until, waitGone } from './helpers/processes.js';
import { type RedisServer, redisAvailable, startRedis } from './helpers/redis-server.js';
import { keys } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SUBMITTER = new URL('./fixtures/cluster-submitter.js', import.meta.url);
const TTL_MS = 1500;
const skip = redisAvailable();
let redis: RedisServer;
let cluster: LocalCluster;

before(async () => {
  if (skip !== undefined) return;
  redis = await startRedis();
  cluster = await LocalCluster.start({ url: redis.url, machines: 1, maxWorkers: 1, lockDuration: 1000 });
});

after(async () => {
  if (skip !== undefined) return;
  const pids = clusterProcesses(cluster);
  await cluster.close();
  assert.deepEqual(await waitGone(pids), []);
  await redis.stop();
});

test('a submitter killed mid-task leaves nothing in Redis after the time-to-live', { skip }, async () => {
  using gates = new Gates();
  const args = [SUBMITTER.pathname, redis.url, cluster.queue, gates.dir, String(TTL_MS)];
  const submitter = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(submitter.stdout, 'data')) as [Buffer];
  const prefix = line.toString().trim();
  const machine = cluster.machines[0]!.pid;
  await gates.started(String(machine));
  assert.ok((await keys(redis.port, `${prefix}*`)).length > 0, 'the submitter stored nothing');
  submitter.kill('SIGKILL');
  await once(submitter, 'exit');
  // The machine finishes for nobody: its result is stored, with the time-to-live.
  gates.release(String(machine));
  await gates.finished(String(machine));
  await until(
    'the keys of the dead submitter to expire',
    async () => ((await leftoverKeys(redis.port, cluster.queue)).length === 0 ? true : undefined),
    TTL_MS + 8000,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}; left: ${(await leftoverKeys(redis.port, cluster.queue)).join(', ')}`);
  });
  assert.ok(alive(machine), 'the machine goes on');
  await using ex = cluster.executor();
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2);
});
