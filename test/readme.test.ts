import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareExamples, runProgram } from './helpers/doc-examples.js';
import { segmentsOf } from './helpers/segments.js';
import { DEV_SHM, guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = fileURLToPath(new URL('../', import.meta.url));
// Inside the package, so `import 'shmex'` resolves to this build.
const dir = fileURLToPath(new URL('./readme-examples/', import.meta.url));
const programs = prepareExamples(`${root}README.md`, dir);
const readme = readFileSync(`${root}README.md`, 'utf8');

test('README has runnable examples, one of them plain JavaScript', () => {
  assert.ok(programs.length >= 2, `found ${programs.length} programs`);
  assert.ok(
    programs.some((p) => p.language === 'js'),
    'a ```js quick start, run as a .mjs file with plain node',
  );
});

test('README gives the two commands of a fresh clone', () => {
  assert.ok(readme.includes('npm ci && npm run demo'));
  assert.ok(readme.includes('npm ci && npm test'));
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function withoutCode(markdown: string): string {
  return markdown.replace(/^ *```[\s\S]*?^ *```/gm, '');
}

test('the links of README.md and docs/*.md lead to files and headings that exist', () => {
  const documents = ['README.md', 'docs/api.md', 'docs/design.md', 'docs/guide.md', 'docs/failures.md'];
  for (const document of documents.filter((d) => existsSync(join(root, d)))) {
    const text = withoutCode(readFileSync(join(root, document), 'utf8'));
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
      const [path, hash] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, document) : join(root, dirname(document), path);
      assert.ok(existsSync(file), `${document}: ${target} (no such file)`);
      if (hash === undefined || !file.endsWith('.md')) continue;
      const headings = [...withoutCode(readFileSync(file, 'utf8')).matchAll(/^#+ (.*)$/gm)].map((m) =>
        anchor(m[1]!),
      );
      assert.ok(headings.includes(hash), `${document}: ${target} (no such heading)`);
    }
  }
});

for (const program of programs) {
  test(`README example ${program.index} (${program.language}) runs and prints what it says`, () => {
    const { stdout, stderr, status, pid } = runProgram(program, dir);
    assert.equal(status, 0, `exit ${status}\n${stderr}`);
    assert.deepEqual(stdout.trim().split('\n'), program.expected);
    // One that ran on /dev/shm itself is checked here: the guard cannot tell its segments from others'.
    assert.deepEqual(segmentsOf(pid!, DEV_SHM), [], 'the program left segments in /dev/shm');
  });
}
