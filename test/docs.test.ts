// The examples of docs/*.md, run as README.md's are
// (see readme.test.ts): each program must exit 0 and print what its comments
// say. A block whose first line is `// name.ts` (not main.ts) is a module the
// programs import (see test/helpers/doc-examples.ts).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareExamples, runProgram } from './helpers/doc-examples.js';
import { segmentsOf } from './helpers/segments.js';
import { DEV_SHM, guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = fileURLToPath(new URL('../', import.meta.url));

// Each document and the fewest programs it holds (fewer means the extraction broke).
const DOCUMENTS = { api: 20, cluster: 1, design: 1, guide: 2, failures: 1 };

test('every page of docs/ is run here', () => {
  const pages = readdirSync(`${root}docs`).filter((name) => name.endsWith('.md'));
  assert.deepEqual(pages.map((name) => name.slice(0, -3)).sort(), Object.keys(DOCUMENTS).sort());
});

for (const [doc, fewest] of Object.entries(DOCUMENTS)) {
  // Inside the package, so `import 'shmex'` resolves to this build; one directory per document.
  const dir = fileURLToPath(new URL(`./docs-examples/${doc}/`, import.meta.url));
  const programs = prepareExamples(`${root}docs/${doc}.md`, dir);

  test(`docs/${doc}.md has runnable examples`, () => {
    assert.ok(programs.length >= fewest, `found ${programs.length} programs`);
  });

  for (const program of programs) {
    test(`docs/${doc}.md example ${program.index} runs and prints what it says`, () => {
      const { stdout, stderr, status, pid } = runProgram(program, dir);
      assert.equal(status, 0, `exit ${status}\n${stderr}`);
      assert.deepEqual(stdout.trim().split('\n'), program.expected);
      // One that ran on /dev/shm itself is checked here: the guard cannot tell its segments from others'.
      assert.deepEqual(segmentsOf(pid!, DEV_SHM), [], 'the program left segments in /dev/shm');
    });
  }
}
