// A module task carries the sha256 of its file as the submitter read it; a
// machine whose file differs fails the task with a ModuleMismatchError naming
// the machine. One filesystem holds one version of a file, so the versions
// differ in time: the submitter hashes version A while no machine runs, the
// file becomes version B, then a machine starts and finds B.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ClusterExecutor, LocalCluster, ModuleMismatchError } from 'shmex/cluster';
import { clusterProcesses, leftoverKeys } from './helpers/cluster-checks.js';
import { useRedis } from './helpers/local-cluster.js';
import { until, waitGone } from './helpers/processes.js';
import { keys } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const fixture = useRedis();
const { skip } = fixture;
const dir = mkdtempSync(join(tmpdir(), 'shmex-module-mismatch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A task module whose one function says which version of the file it is. */
function writeVersion(file: string, version: string): void {
  writeFileSync(file, `export function version(x) { return '${version}:' + x; }\n// ${version.repeat(8)}\n`);
}

interface VersionModule {
  version(x: number): string;
}

test('a machine whose module file differs from the one the submitter hashed fails the task, naming itself', {
  skip,
}, async () => {
  const { redis } = fixture;
  const queue = `mismatch-${process.pid}`;
  const file = join(dir, 'versioned.mjs');
  writeVersion(file, 'A');
  await using ex = new ClusterExecutor({ url: redis.url, queue });
  const tasks = ex.module<VersionModule>(pathToFileURL(file));
  // No machine runs: the job waits in the queue with the digest of version A.
  const future = tasks.version(1);
  await until('the job to be queued', async () =>
    (await keys(redis.port, `bull:${queue}:wait`)).length > 0 ? true : undefined,
  );
  writeVersion(file, 'B-longer');

  const cluster = await LocalCluster.start({ url: redis.url, queue, machines: 1, maxWorkers: 1 });
  try {
    const machine = cluster.machines[0]!.name;
    const error = await future.then(
      (value) => assert.fail(`the task ran and returned ${value}`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ModuleMismatchError, String(error));
    assert.equal(error.code, 'ERR_SHMEX_MODULE_MISMATCH');
    assert.equal(error.machine, machine);
    assert.ok(error.message.includes(`'${machine}'`), error.message);
    assert.ok(error.message.includes(pathToFileURL(file).href), error.message);

    // Once the submitter looks at the file again (at most a second later), it hashes version B.
    await sleep(1100);
    assert.equal(await tasks.version(2), 'B-longer:2');
    await ex.shutdown();
    assert.deepEqual(await leftoverKeys(redis.port, queue), []);
  } finally {
    const pids = clusterProcesses(cluster);
    await cluster.close();
    assert.deepEqual(await waitGone(pids), [], 'processes of the cluster outlived it');
  }
});

test('a machine whose pool loaded a version of the module that its file no longer has runs the file version', {
  skip,
}, async () => {
  const { redis } = fixture;
  const queue = `stale-${process.pid}`;
  const file = join(dir, 'reloaded.mjs');
  writeVersion(file, 'A');
  const cluster = await LocalCluster.start({ url: redis.url, queue, machines: 1, maxWorkers: 1 });
  try {
    await using ex = new ClusterExecutor({ url: redis.url, queue });
    const tasks = ex.module<VersionModule>(pathToFileURL(file));
    assert.equal(await tasks.version(1), 'A:1');
    writeVersion(file, 'B-longer');
    // Past the second within which the submitter and the machine trust the digest they have.
    await sleep(1100);
    // Its pool processes imported version A and keep it: the machine replaces its pool.
    assert.equal(await tasks.version(2), 'B-longer:2', 'the machine ran the version its pool had loaded');
    assert.equal(await tasks.version(3), 'B-longer:3');
    await ex.shutdown();
    assert.deepEqual(await leftoverKeys(redis.port, queue), []);
  } finally {
    const pids = clusterProcesses(cluster);
    await cluster.close();
    assert.deepEqual(await waitGone(pids), [], 'processes of the cluster outlived it');
  }
});
