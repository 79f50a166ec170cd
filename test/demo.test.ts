import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

test('npm run demo prints the example result, a timing row for each way, and how to read them', () => {
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
    const name = row.replace(/[()]/g, '\\$&');
    assert.match(run.stdout, new RegExp(`^  ${name} +\\d+ ms .* \\d+\\.\\d\\d× in-process$`, 'm'), row);
    assert.match(run.stdout, new RegExp(`^  ${name}: \\S.*\\.$`, 'm'), `what the row '${row}' is`);
  }
  // A newcomer can read the figures: what the ratio is, which way is better, and what it compares.
  assert.match(run.stdout, /time divided by the in-process time: lower is better/);
  assert.match(run.stdout, /Ratios compare the rows of this one run only/);
  assert.match(run.stdout, /How to read it: /);
});
