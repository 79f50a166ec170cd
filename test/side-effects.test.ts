// What shmex changes in the user's process besides its own state: nothing
// that the user's code could see.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

test("the parent's own garbage collections expose no gc() to the program or its later vm contexts", () => {
  const program = fileURLToPath(new URL('./fixtures/gc-flag.js', import.meta.url));
  const result = spawnSync(process.execPath, [program], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'undefined undefined');
});
