// Arrays really cross machines through Redis: while a task holds its
// argument, the machine's processes map segments of their own shared-memory
// directory and none of the submitter's, the submitter maps none of the
// machine's, and Redis has received at least the array's bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { inSharedMemory } from 'shmex';
import type * as ClusterTasks from './fixtures/cluster-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { descendants, until } from './helpers/processes.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-tasks.js', import.meta.url);
const N = 1_000_000; // 8 MB of float64

const local = useLocalCluster({ machines: 2, maxWorkers: 1 });
const { skip } = local;

/** The files under `dir` that process `pid` has mapped. */
function mappedUnder(pid: number, dir: string): string[] {
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  return [
    ...new Set(
      lines.map((line) => line.replace(/^(\S+\s+){5}/, '')).filter((path) => path.startsWith(`${dir}/`)),
    ),
  ];
}

async function inputBytes(): Promise<number> {
  return Number((await local.redis.info('stats')).total_net_input_bytes);
}

test('an argument crosses through Redis into the machine shared memory, and the result back', {
  skip,
}, async () => {
  using gates = new Gates();
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof ClusterTasks>(TASKS);
  const ours = process.env.SHMEX_SHM_DIR!;
  const x = new Float64Array(N).fill(0.5);
  const before = await inputBytes();
  const future = tasks.holdOnMachine(x, gates.dir);
  const machine = await until('the task to start', () =>
    local.cluster.machines.find((m) => gates.isStarted(String(m.pid))),
  );
  const family = [machine.pid, ...descendants(machine.pid)];
  const theirs = family.flatMap((pid) => mappedUnder(pid, machine.shmDir));
  assert.ok(theirs.length > 0, 'the argument is not in the machine shared memory');
  for (const pid of family) {
    assert.deepEqual(
      mappedUnder(pid, ours),
      [],
      `process ${pid} of the machine mapped a segment of the submitter`,
    );
  }
  assert.ok((await inputBytes()) - before >= x.byteLength, 'Redis received less than the array');
  gates.release(String(machine.pid));
  assert.deepEqual(await future, [machine.pid, N / 2]);

  const between = await inputBytes();
  const y = await tasks.filled(N, 3);
  assert.ok((await inputBytes()) - between >= y.byteLength, 'the result did not travel through Redis');
  assert.ok(inSharedMemory(y), 'the result is not in the submitter shared memory');
  assert.equal(y[N - 1], 3);
  for (const m of local.cluster.machines) assert.deepEqual(mappedUnder(process.pid, m.shmDir), []);
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
