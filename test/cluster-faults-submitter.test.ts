// A submitter killed with SIGKILL while its tasks run: nothing it caused
// stays in Redis past the time-to-live (its stored arrays, the results
// machines upload for it, its jobs), and the machines go on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { alive, until } from './helpers/processes.js';
import { keys } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SUBMITTER = new URL('./fixtures/cluster-submitter.js', import.meta.url);
const TTL_MS = 1500;

const local = useLocalCluster({ machines: 1, maxWorkers: 1, lockDuration: 1000 });
const { skip } = local;

test('a submitter killed mid-task leaves nothing in Redis after the time-to-live', { skip }, async () => {
  using gates = new Gates();
  const args = [SUBMITTER.pathname, local.redis.url, local.cluster.queue, gates.dir, String(TTL_MS)];
  const submitter = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(submitter.stdout, 'data')) as [Buffer];
  const prefix = line.toString().trim();
  const machine = local.cluster.machines[0]!.pid;
  await gates.started(String(machine));
  assert.ok((await keys(local.redis.port, `${prefix}*`)).length > 0, 'the submitter stored nothing');
  submitter.kill('SIGKILL');
  await once(submitter, 'exit');
  // The machine finishes for nobody: its result is stored, with the time-to-live.
  gates.release(String(machine));
  await gates.finished(String(machine));
  await until(
    'the keys of the dead submitter to expire',
    async () => ((await leftoverKeys(local.redis.port, local.cluster.queue)).length === 0 ? true : undefined),
    TTL_MS + 8000,
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}; left: ${(await leftoverKeys(local.redis.port, local.cluster.queue)).join(', ')}`,
    );
  });
  assert.ok(alive(machine), 'the machine goes on');
  await using ex = local.cluster.executor();
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2);
});
