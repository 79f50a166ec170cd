// shutdown(): no new work afterwards, waiting (or not) for running and queued
// tasks, cancelling queued ones, `await using`, and a program that never calls
// shutdown still exiting on its own without leaving processes or segments.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CancelledError, listSegmentNames, ProcessPoolExecutor, ShutdownError } from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, processGone, until } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/tasks.js';
import { collectOutput } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

/** Lets pending I/O callbacks and timers of zero delay run. */
async function turn(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

function isShutdownError(error: unknown): boolean {
  assert.ok(error instanceof ShutdownError);
  assert.equal((error as ShutdownError).code, 'ERR_SHMEX_SHUTDOWN');
  return true;
}

test('submit, map and module throw ERR_SHMEX_SHUTDOWN synchronously after shutdown', async () => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  assert.equal(await tasks.identity(1), 1);
  await ex.shutdown();
  assert.throws(() => ex.submit((x: number) => x, 1), isShutdownError);
  assert.throws(() => ex.submit({ module: TASKS, name: 'identity' }, 1), isShutdownError);
  assert.throws(() => ex.map((x: number) => x, [1, 2]), isShutdownError);
  assert.throws(() => ex.module<typeof Tasks>(TASKS), isShutdownError);
  assert.throws(() => tasks.identity(2), isShutdownError, 'a proxy made before shutdown');
  // Shutting down again (explicitly or through dispose) is harmless.
  await ex.shutdown();
  await ex.shutdown({ wait: false });
  await ex[Symbol.asyncDispose]();
});

test('shutdown() right after submit still runs the tasks (workers still starting)', async () => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const futures = [1, 2, 3, 4, 5].map((x) => ex.submit((y: number) => y * 2, x));
  await ex.shutdown();
  assert.ok(futures.every((f) => f.done()));
  assert.deepEqual(await Promise.all(futures), [2, 4, 6, 8, 10]);
});

test('shutdown({ wait: true }) waits for running and queued tasks and for the workers to exit', async () => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const log = gates.path('ran.log');
  const running = control.gate(gates.dir, 'run', 'first');
  const workerPid = await gates.started('run');
  const queued = ['q1', 'q2', 'q3'].map((v) => control.logged(log, v));
  let closed = false;
  const closing = ex.shutdown({ wait: true }).then(() => {
    closed = true;
  });
  await turn();
  assert.equal(closed, false, 'shutdown cannot finish while a task is blocked');
  assert.ok(running.running());
  assert.ok(queued.every((f) => !f.done() && !f.cancelled()));
  gates.release('run');
  await closing;
  assert.ok([running, ...queued].every((f) => f.done()));
  assert.equal(await running, 'first');
  assert.deepEqual(await Promise.all(queued), ['q1', 'q2', 'q3']);
  assert.deepEqual(gates.log('ran.log'), ['q1', 'q2', 'q3']);
  assert.ok(processGone(workerPid), 'the worker has exited');
});

test('shutdown({ cancelFutures: true }) cancels queued tasks while running ones finish', async () => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const log = gates.path('ran.log');
  const running = control.gate(gates.dir, 'run', 'kept');
  await gates.started('run');
  const queued = ['q1', 'q2', 'q3'].map((v) => control.logged(log, v));
  const closing = ex.shutdown({ cancelFutures: true });
  // Cancelled at once, synchronously.
  assert.ok(queued.every((f) => f.cancelled() && f.done()));
  for (const f of queued) {
    await assert.rejects(f, (error: unknown) => {
      assert.ok(error instanceof CancelledError);
      assert.equal((error as CancelledError).code, 'ERR_SHMEX_CANCELLED');
      return true;
    });
  }
  assert.ok(running.running() && !running.cancelled());
  gates.release('run');
  await closing;
  assert.equal(await running, 'kept');
  assert.deepEqual(gates.log('ran.log'), [], 'no cancelled task ran');
});

test('shutdown({ wait: false }) returns before tasks finish, and they still complete', async () => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const a = control.gate(gates.dir, 'a', 'A');
  const b = control.gate(gates.dir, 'b', 'B');
  const pids = await Promise.all([gates.started('a'), gates.started('b')]);
  const queued = control.gate(gates.dir, 'c', 'C');
  await ex.shutdown({ wait: false });
  assert.ok(!a.done() && !b.done() && !queued.done(), 'shutdown returned while tasks were blocked');
  assert.throws(() => ex.submit(() => 0), isShutdownError);
  gates.release('a', 'b', 'c');
  assert.deepEqual(await Promise.all([a, b, queued]), ['A', 'B', 'C']);
  // The workers exit on their own once the work is done.
  await until(() => pids.every(processGone), 'the workers have exited');
  await ex.shutdown(); // and a later waiting shutdown resolves
});

test('await using shuts the executor down at the end of the block, waiting for its tasks', async () => {
  let outer: ProcessPoolExecutor | undefined;
  let pending: PromiseLike<unknown> & { done(): boolean };
  let workerPid: number;
  {
    using gates = new Gates();
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    outer = ex;
    const control = ex.module<typeof Control>(CONTROL);
    const f = control.gate(gates.dir, 'g', 'done');
    workerPid = await gates.started('g');
    gates.release('g');
    pending = f;
    // ex is disposed here, before gates: the released task finishes first.
  }
  assert.ok(pending.done());
  assert.equal(await pending, 'done');
  assert.ok(processGone(workerPid));
  assert.throws(() => outer.submit(() => 0), isShutdownError);
});

test('a program that never calls shutdown exits on its own and leaves no workers or segments', async () => {
  const script = fileURLToPath(new URL('./fixtures/unclosed-executor.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'>(
    (resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 20_000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    },
  );
  if (exit === 'timeout') {
    child.kill('SIGKILL');
    assert.fail(`the script did not exit within 20 s; stdout: ${output.stdout}; stderr: ${output.stderr}`);
  }
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${output.stderr}`);
  const report = JSON.parse(output.stdout.trim()) as {
    pid: number;
    workers: number[];
    taskPids: number[];
    first: number;
    length: number;
  };
  assert.equal(report.first, 4);
  assert.equal(report.length, 1 << 20);
  assert.ok(report.workers.length >= 1 && report.workers.length <= 2, `workers: ${report.workers}`);
  for (const pid of report.taskPids) assert.ok(report.workers.includes(pid));
  await until(() => report.workers.every(processGone), 'the workers of the script have exited', 10_000);
  const owners = [report.pid, ...report.workers];
  const left = listSegmentNames().filter((name) => owners.some((pid) => name.startsWith(`shmex.${pid}.`)));
  assert.deepEqual(left, []);
});

test('a program that exits while its workers are still starting leaves no segment behind', () => {
  const script = [
    "import { ProcessPoolExecutor } from 'shmex';",
    'const ex = new ProcessPoolExecutor({ maxWorkers: 2 });',
    'ex.submit(() => 1);',
    'ex.submit(() => 2);',
    'await new Promise((resolve) => setImmediate(resolve)); // the workers are spawned, not ready',
    'console.log(process.pid);',
    'process.exit(0);',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  const pid = Number(run.stdout.trim());
  assert.ok(pid > 0);
  assert.deepEqual(
    listSegmentNames().filter((name) => name.startsWith(`shmex.${pid}.`)),
    [],
    'the receipts pages of workers that never became ready are removed at exit',
  );
});
