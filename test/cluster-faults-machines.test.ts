// Machines failing under a ClusterExecutor: a machine killed mid-task, a
// machine paused past its lease and resumed, a pool child of a machine
// killed. Two `shmex worker` machines (one pool process each, a lease of 1 s)
// on a redis-server of this file's own. Each case settles every Future
// exactly once and leaves no process and no key behind.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import type * as ClusterTasks from './fixtures/cluster-tasks.js';
import type * as ControlTasks from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { alive, descendants, until, waitGone } from './helpers/processes.js';
import { command, keys, text } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-tasks.js', import.meta.url);
const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const LEASE_MS = 1000;

const local = useLocalCluster({
  machines: 2,
  maxWorkers: 1,
  lockDuration: LEASE_MS,
  // A killed machine's heartbeat is the one key that stays, and only until its time-to-live.
  afterClose: async () => {
    for (const key of await keys(local.redis.port, `shmex:${local.cluster.queue}:machine:*`)) {
      assert.ok(Number(await command(local.redis.port, 'PTTL', key)) > 0, `${key} has no time-to-live`);
    }
  },
});
const { skip } = local;

/** The live machines, by pid. */
function machinePids(): number[] {
  return local.cluster.machines.map((m) => m.pid).filter(alive);
}

/** The machine whose attempt at the gated task has started, among `pids`. */
function startedOn(gates: Gates, pids: readonly number[]): number | undefined {
  return pids.find((pid) => gates.isStarted(String(pid)));
}

/** How many jobs machine `pid` has finished, as its heartbeat says (written every 2 s). */
async function jobsDone(pid: number): Promise<number> {
  const name = local.cluster.machines.find((m) => m.pid === pid)!.name;
  const beat = await command(local.redis.port, 'GET', `shmex:${local.cluster.queue}:machine:${name}`);
  return beat === null ? 0 : (JSON.parse(text(beat)) as { done: number }).done;
}

test('a machine killed mid-task: its task runs again on another machine, one result wins', {
  skip,
}, async () => {
  using gates = new Gates();
  const ex = local.cluster.executor({ maxRetries: 1 });
  const future = ex.module<typeof ClusterTasks>(TASKS).machineGate(gates.dir);
  const counts = settleCounts([future]);
  const victim = await until('the task to start', () => startedOn(gates, machinePids()));
  const family = [victim, ...descendants(victim)];
  local.track(...family);
  process.kill(victim, 'SIGKILL');
  assert.deepEqual(await waitGone(family), [], 'the killed machine left its pool processes running');
  const others = machinePids().filter((pid) => pid !== victim);
  const second = await until('the task to run again elsewhere', () => startedOn(gates, others));
  gates.release(String(second));
  assert.equal(await future, second, 'the result is the second machine attempt');
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
  await local.cluster.addMachine();
});

test('a machine paused past its lease and resumed cannot complete its task', { skip }, async () => {
  using gates = new Gates();
  const ex = local.cluster.executor({ maxRetries: 1 });
  const future = ex.module<typeof ClusterTasks>(TASKS).machineGate(gates.dir);
  const counts = settleCounts([future]);
  const late = await until('the task to start', () => startedOn(gates, machinePids()));
  const doneBefore = await jobsDone(late);
  process.kill(late, 'SIGSTOP');
  let second: number;
  try {
    const others = machinePids().filter((pid) => pid !== late);
    second = await until('the task to run again elsewhere', () => startedOn(gates, others));
  } finally {
    process.kill(late, 'SIGCONT');
  }
  // The late machine's attempt ends first: its result must be refused.
  gates.release(String(late));
  await until('the late machine to finish its attempt', async () =>
    (await jobsDone(late)) > doneBefore ? true : undefined,
  );
  assert.equal(future.done(), false, 'the late machine completed a task it had lost');
  gates.release(String(second));
  assert.equal(await future, second);
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});

test('a pool child of a machine killed: only its task fails, and it does not run again', {
  skip,
}, async () => {
  using gates = new Gates();
  const ex = local.cluster.executor({ maxRetries: 1 });
  const control = ex.module<typeof ControlTasks>(CONTROL);
  const victim = control.gate(gates.dir, 'victim', 'lost');
  const other = control.gate(gates.dir, 'other', 'kept');
  const counts = settleCounts([victim, other]);
  const child = await gates.started('victim');
  const machine = machinePids().find((pid) => descendants(pid).includes(child));
  assert.ok(machine !== undefined, `pool process ${child} belongs to no machine`);
  rmSync(gates.path('victim.started'));
  process.kill(child, 'SIGKILL');
  await assert.rejects(Promise.resolve(victim), (error: Error & { code?: string; signal?: string }) => {
    assert.equal(error.name, 'WorkerCrashedError');
    assert.equal(error.code, 'ERR_SHMEX_WORKER_CRASHED');
    assert.equal(error.signal, 'SIGKILL');
    return true;
  });
  await gates.started('other');
  gates.release('other');
  assert.equal(await other, 'kept');
  assert.ok(alive(machine), 'the machine itself survived');
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2, 'the machine goes on taking tasks');
  assert.equal(existsSync(gates.path('victim.started')), false, 'the failed task ran again');
  await ex.shutdown();
  assert.deepEqual(counts(), [1, 1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
