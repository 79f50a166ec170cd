import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

test('npm run demo prints the example result and a timing row for each way', () => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const run = spawnSync(process.execPath, ['dist/demo.js'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /addOne\(big\)\[0\] through shmex = 2\n/);
  for (const row of [
    'in-process',
    'shmex (shared memory)',
    'shmex, from() input, empty() output',
    "child_process IPC ('advanced')",
  ]) {
    assert.match(run.stdout, new RegExp(`^  ${row.replace(/[()]/g, '\\$&')} +\\d+ ms`, 'm'), row);
  }
});
