// A program that started a LocalCluster and is killed with SIGKILL cannot
// stop its machines or remove their directories: the machines notice (the
// pipe to their owner closes), exit, and remove their own directories.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { useRedis } from './helpers/local-cluster.js';
import { until, waitGone } from './helpers/processes.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const OWNER = new URL('./fixtures/local-cluster-owner.js', import.meta.url);
const local = useRedis();

test('machines of a LocalCluster whose owner is killed exit and remove their directories', {
  skip: local.skip,
}, async () => {
  const base = mkdtempSync(join(tmpdir(), 'shmex-owner-'));
  try {
    const owner = spawn(process.execPath, [OWNER.pathname, local.redis.url, base], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(owner.stdout, 'data')) as [Buffer];
    const machines = JSON.parse(line.toString()) as { pid: number; dir: string }[];
    assert.equal(machines.length, 2);
    for (const m of machines) assert.ok(existsSync(m.dir), `${m.dir} was not made`);
    owner.kill('SIGKILL');
    await once(owner, 'exit');
    assert.deepEqual(await waitGone(machines.map((m) => m.pid)), [], 'machines outlived their owner');
    await until('the machines to remove their directories', () =>
      readdirSync(base).length === 0 ? true : undefined,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
