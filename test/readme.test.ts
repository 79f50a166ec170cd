import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareExamples, runProgram } from './helpers/doc-examples.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = fileURLToPath(new URL('../', import.meta.url));
// Inside the package, so `import 'shmex'` resolves to this build.
const dir = fileURLToPath(new URL('./readme-examples/', import.meta.url));
const programs = prepareExamples(`${root}README.md`, dir);

test('README has runnable examples', () => {
  assert.ok(programs.length >= 2, `found ${programs.length} programs`);
});

for (const program of programs) {
  test(`README example ${program.index} runs and prints what it says`, () => {
    const { stdout, stderr, status } = runProgram(program, dir);
    assert.equal(status, 0, `exit ${status}\n${stderr}`);
    assert.deepEqual(stdout.trim().split('\n'), program.expected);
  });
}
