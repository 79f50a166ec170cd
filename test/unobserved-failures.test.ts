// A failed Future that nobody observes is reported (code SHMEX_UNOBSERVED_FAILURE)
// when it is garbage-collected or at exit; one observed in any way, cancelled,
// consumed by map, or of an executor with unobservedFailures: 'ignore', is not.
// Each case runs test/fixtures/unobserved-program.ts in a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';
import { collectOutput, type Output } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const PROGRAM = fileURLToPath(new URL('./fixtures/unobserved-program.js', import.meta.url));
const TASKS_URL = new URL('./fixtures/tasks.js', import.meta.url).href;
const CODE = 'SHMEX_UNOBSERVED_FAILURE';

async function run(scenario: string, kind: 'process' | 'thread'): Promise<Output> {
  const child = spawn(process.execPath, ['--expose-gc', PROGRAM, scenario, kind], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const [code, signal] = (await new Promise((resolve) => child.on('exit', (...how) => resolve(how)))) as [
    number | null,
    NodeJS.Signals | null,
  ];
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `stderr: ${output.stderr}`);
  return output;
}

/** The reports in `stderr`, one line each (as Node prints a warning, at exit too). */
function reports(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes(`[${CODE}] ShmexWarning: `));
}

for (const kind of ['process', 'thread'] as const) {
  const on = kind === 'thread' ? ' (threads)' : '';

  test(`a failed Future dropped unobserved is reported when it is collected${on}`, async () => {
    const { stdout, stderr } = await run('dropped', kind);
    assert.equal(stdout, `warning ShmexWarning ${CODE}\n`, 'a process warning was emitted');
    const lines = reports(stderr);
    assert.equal(lines.length, 1, `reported once (not again at exit): ${stderr}`);
    assert.match(lines[0]!, /a task \(function 'explode'\) failed with RangeError: boom dropped/);
    assert.match(lines[0]!, /unobservedFailures: 'ignore'/, 'says how to silence it');
  });

  test(`a failed Future kept but never observed is reported at exit${on}`, async () => {
    const { stdout, stderr } = await run('kept', kind);
    assert.equal(stdout, 'failed 2\n');
    const lines = reports(stderr);
    assert.equal(lines.length, 2, stderr);
    assert.match(
      lines[0]!,
      /^\(node:\d+\) \[SHMEX_UNOBSERVED_FAILURE\] ShmexWarning: a task \(function 'explode'\) failed with RangeError: boom kept,/,
    );
    assert.ok(
      lines[1]!.includes(`a task ('fail' of module ${TASKS_URL}) failed with RangeError: kept in a module`),
      lines[1],
    );
  });

  test(`a Future that failed first and is awaited later is not reported${on}`, async () => {
    const { stdout, stderr } = await run('late', kind);
    assert.equal(stdout, 'a 2\nb boom late\n');
    assert.deepEqual(reports(stderr), []);
  });

  test(`result, exception, addDoneCallback, then, wait and asCompleted each observe a Future${on}`, async () => {
    const { stdout, stderr } = await run('observed', kind);
    assert.equal(stdout, 'failed 7\n');
    assert.deepEqual(reports(stderr), []);
  });

  test(`cancelled Futures are not reported${on}`, async () => {
    const { stdout, stderr } = await run('cancelled', kind);
    assert.equal(stdout, 'cancel true\ncancelled true true\n');
    assert.deepEqual(reports(stderr), []);
  });

  test(`unobservedFailures: 'ignore' reports nothing${on}`, async () => {
    const { stdout, stderr } = await run('ignore', kind);
    assert.equal(stdout, 'failed true\n');
    assert.deepEqual(reports(stderr), []);
  });

  test(`map reports a failure by throwing it, and nothing else${on}`, async () => {
    const { stdout, stderr } = await run('map', kind);
    assert.equal(stdout, 'toArray boom element 3\nloop 1,2 boom element 3\n');
    assert.deepEqual(reports(stderr), []);
  });
}

test('unobservedFailures accepts only warn or ignore', () => {
  for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
    for (const value of ['loud', true, 'Warn']) {
      assert.throws(() => new Executor({ unobservedFailures: value as 'warn' }), {
        code: 'ERR_SHMEX_INVALID_ARGUMENT',
        message: new RegExp(`${Executor.name}: unobservedFailures must be 'warn' or 'ignore'`),
      });
    }
  }
});
