// Workers that die (killed, exiting), initializers, and maxTasksPerChild: a
// dead worker fails only its own task, the pool replaces it, and no shared
// memory segment outlives it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BrokenExecutorError, listSegmentNames, ProcessPoolExecutor, WorkerCrashedError } from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, processGone, reaped, until } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory, ourSegments, segmentsSettled } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

test('a worker killed with SIGKILL fails only its own task; tasks before and after complete', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const tasks = ex.module<typeof Tasks>(TASKS);

  const before = [1, 2, 3].map((x) => tasks.identity(x));
  const victim = control.gate(gates.dir, 'victim', 'never');
  const victimPid = await gates.started('victim');
  const meanwhile = [4, 5, 6].map((x) => tasks.identity(x));
  process.kill(victimPid, 'SIGKILL');

  const error = await rejection(victim);
  assert.ok(error instanceof WorkerCrashedError);
  const crashed = error as WorkerCrashedError;
  assert.equal(crashed.code, 'ERR_SHMEX_WORKER_CRASHED');
  assert.equal(crashed.signal, 'SIGKILL');
  assert.equal(crashed.exitCode, null);
  assert.equal(crashed.pid, victimPid);
  assert.match(crashed.message, /SIGKILL/);
  assert.match(crashed.message, new RegExp(`pid ${victimPid}`));

  const after = [7, 8, 9].map((x) => tasks.identity(x));
  assert.deepEqual(await Promise.all([...before, ...meanwhile, ...after]), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // The replacement workers are new processes.
  const pids = await Promise.all([1, 2, 3, 4].map(() => control.pid()));
  assert.ok(!pids.includes(victimPid));
  assert.ok(processGone(victimPid));
});

test('a task that calls process.exit(3) rejects with ERR_SHMEX_WORKER_CRASHED and exitCode 3; the pool keeps working', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const control = ex.module<typeof Control>(CONTROL);
  const ok = ex.submit((x: number) => x * 2, 21);
  const error = await rejection(control.exitWith(3));
  assert.ok(error instanceof WorkerCrashedError);
  const crashed = error as WorkerCrashedError;
  assert.equal(crashed.code, 'ERR_SHMEX_WORKER_CRASHED');
  assert.equal(crashed.exitCode, 3);
  assert.equal(crashed.signal, null);
  assert.match(crashed.message, /exited with code 3/);
  // A function task doing the same.
  await assert.rejects(
    ex.submit(() => process.exit(0)),
    (e: unknown) => e instanceof WorkerCrashedError && e.exitCode === 0,
  );
  assert.equal(await ok, 42);
  assert.deepEqual(
    await Promise.all([1, 2, 3, 4, 5].map((x) => ex.submit((y: number) => -y, x))),
    [-1, -2, -3, -4, -5],
  );
});

test('an idle worker that dies is replaced; no Future is affected', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const control = ex.module<typeof Control>(CONTROL);
  const first = await control.pid();
  process.kill(first, 'SIGKILL');
  await until(() => reaped(first), 'the parent has reaped the idle worker');
  const second = await control.pid();
  assert.notEqual(second, first);
  assert.deepEqual(await Promise.all([1, 2, 3].map((x) => ex.submit((y: number) => y + 1, x))), [2, 3, 4]);
});

test('a task sent to an idle worker that just died (exit not yet seen) runs on a new worker', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const first = await ex.submit(() => process.pid);
  process.kill(first, 'SIGKILL');
  const second = await ex.submit(() => process.pid);
  assert.notEqual(second, first);
});

test('a worker killed before it maps its shared-memory argument leaves no segment behind', async () => {
  const existing = new Set(listSegmentNames());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    using gates = new Gates();
    // This URL of the control module blocks in the worker while it is imported, before the arguments are decoded.
    const holding = new URL(`?holdImport=${encodeURIComponent(gates.dir)}`, CONTROL);
    const control = ex.module<typeof Control>(holding);
    const big = new Float64Array(1 << 20).fill(3); // 8 MiB: travels through shared memory
    const f = control.holdArray(big, gates.dir, 'never');
    const workerPid = await gates.started('import');
    assert.equal(ourSegments(existing).length, 1, 'the argument waits in a shared-memory segment');
    process.kill(workerPid, 'SIGKILL');
    await assert.rejects(f, { code: 'ERR_SHMEX_WORKER_CRASHED', signal: 'SIGKILL' });
    // Checked at once, before any new executor could sweep the segments of dead owners.
    assert.deepEqual(ourSegments(existing), []);
    // The pool still runs big-array tasks, and they clean up too.
    gates.release('import', 'again');
    assert.equal(await control.holdArray(big, gates.dir, 'again'), big.length);
    // Its argument goes back to the pool once the worker has let go of it, just after the result.
    assert.deepEqual(await segmentsSettled(existing), []);
  }
  assert.deepEqual(ourSegments(existing), []);
});

test('a worker that dies after creating a result segment leaves no segment behind', async () => {
  const existing = new Set(listSegmentNames());
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const marker = gates.path('segment-name');
  await assert.rejects(control.dieAfterResultSegment(1 << 20, marker), {
    code: 'ERR_SHMEX_WORKER_CRASHED',
    signal: 'SIGKILL',
  });
  const [name] = readFileSync(marker, 'utf8').split('\n');
  assert.match(name!, /^shmex\./, 'the worker had created its result segment');
  assert.ok(!listSegmentNames().includes(name!), `segment ${name} was removed`);
  assert.deepEqual(ourSegments(existing), []);
  assert.equal(await ex.submit(() => 'alive'), 'alive');
});

test('a function initializer with initargs runs once in each worker before its tasks', async () => {
  await using ex = new ProcessPoolExecutor({
    maxWorkers: 2,
    initializer: (value: number, label: string) => {
      const g = globalThis as Record<string, unknown>;
      g.__inits = ((g.__inits as number | undefined) ?? 0) + 1;
      g.__x = { value, label };
    },
    initargs: [42, 'init'],
  });
  const read = () => {
    const g = globalThis as Record<string, unknown>;
    return { pid: process.pid, x: g.__x, inits: g.__inits };
  };
  const seen = await Promise.all(Array.from({ length: 12 }, () => ex.submit(read)));
  for (const s of seen) {
    assert.deepEqual(s.x, { value: 42, label: 'init' });
    assert.equal(s.inits, 1, 'the initializer ran exactly once in this worker');
  }
  assert.ok(new Set(seen.map((s) => s.pid)).size <= 2);
});

test('a module initializer ({ module, name }) runs in each worker', async () => {
  await using ex = new ProcessPoolExecutor({
    maxWorkers: 2,
    initializer: { module: CONTROL, name: 'setGlobal' },
    initargs: ['__fromModule', { ok: true }],
  });
  const control = ex.module<typeof Control>(CONTROL);
  const values = await Promise.all([1, 2, 3, 4].map(() => control.getGlobal('__fromModule')));
  assert.deepEqual(values, [{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
});

test('an initializer that throws breaks the executor: pending futures reject and submit throws ERR_SHMEX_BROKEN', async () => {
  await using ex = new ProcessPoolExecutor({
    maxWorkers: 2,
    initializer: function badInit(reason: string) {
      throw new Error(`init failed: ${reason}`);
    },
    initargs: ['on purpose'],
  });
  const futures = [1, 2, 3, 4].map((x) => ex.submit((y: number) => y, x));
  for (const f of futures) {
    const error = await rejection(f);
    assert.ok(error instanceof BrokenExecutorError);
    const broken = error as BrokenExecutorError;
    assert.equal(broken.code, 'ERR_SHMEX_BROKEN');
    assert.ok(broken.cause instanceof Error);
    assert.equal((broken.cause as Error).message, 'init failed: on purpose');
  }
  assert.throws(
    () => ex.submit((y: number) => y, 5),
    (error: unknown) => {
      assert.ok(error instanceof BrokenExecutorError);
      assert.equal((error as BrokenExecutorError).code, 'ERR_SHMEX_BROKEN');
      return true;
    },
  );
  assert.throws(() => ex.map((y: number) => y, [1]), { code: 'ERR_SHMEX_BROKEN' });
  assert.throws(() => ex.module(TASKS), { code: 'ERR_SHMEX_BROKEN' });
  // Shutting a broken executor down still finishes (await using does it here).
});

test('workers that keep dying while they start break the executor with ERR_SHMEX_BROKEN', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2, initializer: () => process.exit(1) });
  const futures = [1, 2, 3].map((x) => ex.submit((y: number) => y, x));
  for (const f of futures) {
    await assert.rejects(f, (error: unknown) => {
      assert.ok(error instanceof BrokenExecutorError);
      assert.equal((error as BrokenExecutorError).code, 'ERR_SHMEX_BROKEN');
      assert.match((error as Error).message, /died while starting/);
      return true;
    });
  }
  assert.throws(() => ex.submit((y: number) => y, 4), { code: 'ERR_SHMEX_BROKEN' });
});

test('maxTasksPerChild: 1 runs every task in a new worker process and finishes them all', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2, maxTasksPerChild: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const pids = await Promise.all(Array.from({ length: 8 }, () => tasks.pid()));
  assert.equal(pids.length, 8);
  assert.equal(new Set(pids).size, 8, `pids: ${pids.join(', ')}`);
  assert.ok(!pids.includes(process.pid));
  // Retired workers are gone (once their exit has been seen).
  await until(() => pids.slice(0, 6).every(processGone), 'the retired workers have exited');
});

test('maxTasksPerChild: 2 reuses each worker for two tasks', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerChild: 2 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const pids: number[] = [];
  for (let i = 0; i < 6; i++) pids.push(await tasks.pid());
  assert.equal(pids[0], pids[1]);
  assert.equal(pids[2], pids[3]);
  assert.equal(pids[4], pids[5]);
  assert.equal(new Set(pids).size, 3);
});
