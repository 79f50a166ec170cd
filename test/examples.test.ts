// Every example under examples/ runs (with tsx, as its header says), checks
// its own results, prints its summary line, and leaves no segment behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listSegmentNames } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

const EXAMPLES: Array<{ name: string; prints: RegExp; needs?: string | false }> = [
  {
    name: 'image-tiles',
    prints: /^blurred 16 tiles of 256x256 on \d+ workers: identical to the in-process blur$/m,
  },
  {
    name: 'pipeline',
    prints: /^4 signals of 2000000 samples through 3 stages: results identical to in-process$/m,
  },
  {
    name: 'arrow-table',
    prints: /^4000000 rows in 8 slices, 13 sensors: per-sensor sums identical to a local pass$/m,
  },
  {
    name: 'python-interop',
    prints: /^numpy read 100000 records from \/dev\/shm: same sums$/m,
    needs: hasNumpy ? false : 'python3 with numpy is not installed',
  },
];

for (const example of EXAMPLES) {
  test(`examples/${example.name} runs and checks its results`, { skip: example.needs ?? false }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', `examples/${example.name}/main.ts`], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, example.prints);
    const pid = run.pid;
    assert.deepEqual(
      listSegmentNames().filter((name) => name.startsWith(`shmex.${pid}.`)),
      [],
      'the example left none of its segments',
    );
  });
}
