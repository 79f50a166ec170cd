// Abort and timeout of remote tasks: a running task is really stopped (its
// pool process on the machine is replaced), a queued one is taken out of the
// queue and never runs; each Future settles once and nothing is left.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { AbortError, TaskTimeoutError } from 'shmex';
import type * as ControlTasks from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { alive, waitGone } from './helpers/processes.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

// One machine of one pool process, taking two jobs at a time.
const local = useLocalCluster({ machines: 1, maxWorkers: 1 });
const { skip } = local;

test('a timeout stops a running remote task: its pool process is replaced', { skip }, async () => {
  using gates = new Gates();
  await using ex = local.cluster.executor();
  const future = ex
    .withOptions({ timeout: 300 })
    .module<typeof ControlTasks>(CONTROL)
    .gate(gates.dir, 't', 1);
  const counts = settleCounts([future]);
  const child = await gates.started('t');
  await assert.rejects(Promise.resolve(future), TaskTimeoutError);
  assert.deepEqual(await waitGone([child]), [], 'the timed-out task still runs on the machine');
  assert.equal(existsSync(gates.path('t.finished')), false, 'the timed-out task finished');
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2, 'the machine takes tasks again');
  await ex.shutdown();
  assert.deepEqual(counts(), [1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});

test('abort stops a running remote task and takes a queued one out of the queue', { skip }, async () => {
  using gates = new Gates();
  await using ex = local.cluster.executor();
  const running = new AbortController();
  const queued = new AbortController();
  const control = (signal: AbortSignal) => ex.withOptions({ signal }).module<typeof ControlTasks>(CONTROL);
  const first = control(running.signal).gate(gates.dir, 'running', 1);
  const child = await gates.started('running');
  // The machine's second job slot waits for the pool process: a blocker fills it.
  const blocker = ex.module<typeof ControlTasks>(CONTROL).gate(gates.dir, 'blocker', 2);
  const last = control(queued.signal).gate(gates.dir, 'queued', 3);
  const counts = settleCounts([first, blocker, last]);
  queued.abort(new Error('not needed'));
  await assert.rejects(Promise.resolve(last), AbortError);
  running.abort(new Error('enough'));
  await assert.rejects(Promise.resolve(first), AbortError);
  assert.deepEqual(await waitGone([child]), [], 'the aborted task still runs on the machine');
  await gates.started('blocker');
  gates.release('blocker', 'running', 'queued');
  assert.equal(await blocker, 2);
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2);
  assert.equal(gates.isStarted('queued'), false, 'the aborted queued task ran');
  assert.ok(alive(local.cluster.machines[0]!.pid));
  await ex.shutdown();
  assert.deepEqual(counts(), [1, 1, 1]);
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
