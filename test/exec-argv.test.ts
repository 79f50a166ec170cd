import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const index = new URL('../dist/index.js', import.meta.url).href;

test('a parent run as `node -e code` works: its workers do not inherit -e and run that code again', () => {
  const code = `import(${JSON.stringify(index)}).then(async ({ ProcessPoolExecutor }) => {
    const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    console.log(await ex.submit(() => 6 * 7));
    await ex.shutdown();
  });`;
  const run = spawnSync(process.execPath, ['-e', code], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), '42');
});
