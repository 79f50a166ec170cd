// A machine whose local pool breaks: its pool processes are killed as they
// appear, so each dies while starting and the pool breaks after a few in a
// row. The machine makes a new pool a bounded number of times; past that it
// gives its jobs back to the queue, stops taking jobs and exits non-zero
// with a message, and the jobs run on another machine.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from 'shmex/cluster';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useRedis } from './helpers/local-cluster.js';
import { alive, waitGone } from './helpers/processes.js';
import { command } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const local = useRedis();
const { skip } = local;

/** The direct children of `pid` (its pool processes, for a machine). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
      .split(' ')
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Kills each pool process of machine `pid` as it appears, the first `limit` of them; `killed` lists them. */
function killPoolProcesses(pid: number, limit = Number.POSITIVE_INFINITY) {
  const killed = new Set<number>();
  const timer = setInterval(() => {
    for (const child of childrenOf(pid)) {
      if (killed.has(child) || killed.size >= limit) continue;
      killed.add(child);
      try {
        process.kill(child, 'SIGKILL');
      } catch {}
    }
  }, 2);
  return { killed, [Symbol.dispose]: () => clearInterval(timer) };
}

test('a pool that breaks is rebuilt: the task runs on the new pool of the same machine', {
  skip,
}, async () => {
  await using cluster = await LocalCluster.start({ url: local.redis.url, machines: 1, maxWorkers: 1 });
  const machine = cluster.machines[0]!;
  const ex = cluster.executor();
  let pid: number;
  {
    // The pool breaks after 3 processes in a row die while starting.
    using killer = killPoolProcesses(machine.pid, 3);
    pid = await ex.submit(() => process.ppid);
    assert.equal(killer.killed.size, 3, 'the pool processes were not all killed while starting');
  }
  assert.equal(pid, machine.pid);
  assert.ok(alive(machine.pid), 'the machine exited');
  assert.equal(await ex.submit((a: number) => a + 1, 1), 2, 'the machine goes on taking tasks');
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, cluster.queue), []);
});

test('a pool that keeps breaking: the machine gives its jobs back and exits non-zero, another runs them', {
  skip,
}, async () => {
  await using cluster = await LocalCluster.start({ url: local.redis.url, machines: 0 });
  const shmDir = mkdtempSync(join('/dev/shm', 'shmex-machine-'));
  const name = `${cluster.queue}-broken`;
  const broken: ChildProcess = spawn(
    process.execPath,
    [
      ...[CLI, 'worker', '--connect', local.redis.url, '--queue', cluster.queue, '--name', name],
      ...['--shm-dir', shmDir, '--max-workers', '1'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  broken.stdout!.setEncoding('utf8');
  broken.stderr!.setEncoding('utf8');
  let stderr = '';
  broken.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => broken.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve) =>
      broken.stdout!.on('data', (s: string) => s.includes('ready') && resolve()),
    );
    using killer = killPoolProcesses(broken.pid!);
    const ex = cluster.executor({ maxWorkers: 2 });
    const futures = [1, 2, 3].map((k) => ex.submit((a: number) => [a, process.ppid], k));
    const counts = settleCounts(futures);
    const timeout = new Promise<string>((resolve) => setTimeout(resolve, 60_000, 'still running').unref());
    assert.equal(await Promise.race([exited, timeout]), 1, 'the machine did not exit with code 1');
    assert.ok(killer.killed.size >= 3, `only ${killer.killed.size} pool processes were killed`);
    assert.match(stderr, /its local pool broke again after 2 rebuild\(s\).*stops taking jobs/);
    assert.equal(
      await command(local.redis.port, 'EXISTS', `shmex:${cluster.queue}:machine:${name}`),
      0,
      'the machine left its heartbeat',
    );
    assert.deepEqual(
      futures.map((f) => f.done()),
      [false, false, false],
      'a job failed instead of going to another machine',
    );
    const other = await cluster.addMachine();
    const results = await Promise.all(futures);
    assert.deepEqual(results, [
      [1, other.pid],
      [2, other.pid],
      [3, other.pid],
    ]);
    await ex.shutdown();
    assert.deepEqual(counts(), [1, 1, 1]);
    assert.deepEqual(await leftoverKeys(local.redis.port, cluster.queue), []);
  } finally {
    broken.kill('SIGKILL');
    assert.deepEqual(await waitGone([broken.pid!]), []);
    rmSync(shmDir, { recursive: true, force: true });
  }
});
