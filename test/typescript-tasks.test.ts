// A TypeScript program run under tsx (`node --import tsx parent.ts`) with a
// task module written in TypeScript: the workers inherit `--import tsx` from
// the parent's execArgv and import the .ts module directly. The fixtures in
// fixtures/ts-parent/ are excluded from tsc (test/tsconfig.json) and run from
// source; the program prints one JSON report that the tests below check.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectOutput } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// dist-test/ sits in the project root, beside test/ and node_modules/ (where `--import tsx` resolves from).
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PARENT = fileURLToPath(new URL('../test/fixtures/ts-parent/parent.ts', import.meta.url));

type Outcome = { value: unknown } | { code: string | undefined; message: string };

interface Report {
  execArgv: string[];
  sum: number;
  product: number;
  workerPidDiffers: boolean;
  scaled: { length: number; first: number; last: number };
  withoutTsx: { name: string; code: string | undefined } | 'resolved';
  functionTask: Outcome;
  functionTaskWithInnerFunction: Outcome;
}

let report: Report;

before(async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', PARENT], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const exit = await new Promise<{ code: number | null; signal: string | null } | 'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  if (exit === 'timeout') {
    child.kill('SIGKILL');
    assert.fail(
      `the tsx program did not exit within 30 s; stdout: ${output.stdout}; stderr: ${output.stderr}`,
    );
  }
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${output.stderr}`);
  report = JSON.parse(output.stdout.trim()) as Report;
});

test('the program ran under tsx', () => {
  assert.deepEqual(report.execArgv, ['--import', 'tsx']);
});

test('tasks of a TypeScript module run in workers (enum, interface, class with parameter properties)', () => {
  assert.equal(report.sum, 10);
  assert.equal(report.product, 24);
  assert.equal(report.workerPidDiffers, true);
});

test('a TypeScript module task moves a large array through shared memory', () => {
  assert.deepEqual(report.scaled, { length: 1 << 18, first: 3, last: 3 });
});

test('workers started without tsx (execArgv: []) fail the task with the import error instead of hanging', () => {
  assert.deepEqual(report.withoutTsx, { name: 'TypeError', code: 'ERR_UNKNOWN_FILE_EXTENSION' });
});

test('a function task written in TypeScript runs (its source is what tsx compiled)', () => {
  assert.deepEqual(report.functionTask, { value: [2, 4] });
});

test('a TypeScript function task with an inner function runs (tsx wraps it in __name)', () => {
  assert.deepEqual(report.functionTaskWithInnerFunction, { value: [2, 4] });
});
