// A ThreadPoolExecutor's worker threads own segments, as worker processes do:
// big results and arrays made with empty() in a thread live in segments named
// for that thread (shmex.<pid>.<start>.t<threadId>.<random>), come back and go
// on to other tasks without a copy, and are adopted or removed when the
// thread ends, however it ends. A sweep treats them as their process's.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  inSharedMemory,
  listSegmentNames,
  release,
  segmentPath,
  shared,
  shmClear,
  TaskTimeoutError,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from 'shmex';
import { Gates, until } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/thread-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/thread-tasks.js', import.meta.url);
const BIG = 1 << 20; // 8 MiB of float64: far above the inline threshold
const dir = () => process.env.SHMEX_SHM_DIR!;
/** A segment named for a worker thread of this process; its thread id is the capture. */
const threadName = new RegExp(`^shmex\\.${process.pid}\\.\\d+\\.t(\\d+)\\.[0-9a-f]{24}$`);

function threadOf(path: string | undefined): number {
  assert.ok(path !== undefined, 'the array lives in a segment');
  assert.equal(dirname(path), dir());
  const match = threadName.exec(basename(path));
  assert.ok(match !== null, `${basename(path)} is named for a worker thread of this process`);
  return Number(match[1]);
}

function executor(maxWorkers = 1) {
  const ex = new ThreadPoolExecutor({ maxWorkers });
  return { ex, tasks: ex.module<typeof Tasks>(TASKS) };
}

test("a thread's big result comes back in a segment named for that thread, made with empty() or copied from the heap", async () => {
  const { ex, tasks } = executor();
  await using _ = ex;
  const made = await tasks.ones(BIG);
  const copied = await tasks.heapOnes(BIG);
  for (const y of [made, copied]) {
    assert.ok(inSharedMemory(y));
    assert.equal(y.length, BIG);
    assert.equal(y[0], 1);
    assert.equal(y[BIG - 1], 1);
  }
  assert.equal(threadOf(segmentPath(made)), threadOf(segmentPath(copied)), 'one worker made both');
  release(made);
  release(copied);
});

test('empty() in a worker thread makes an array in a segment of that thread', async () => {
  const { ex, tasks } = executor();
  await using _ = ex;
  const seen = await tasks.emptyHere(1000);
  assert.equal(seen.inShm, true);
  assert.equal(threadOf(seen.path), seen.thread);
});

test("a thread's result passed on to another task is not copied; the task's writes stay its own", async () => {
  const { ex, tasks } = executor(2);
  await using _ = ex;
  const y = await tasks.ones(BIG);
  assert.equal(await tasks.inShm(y), true, 'the task maps the same segment (copy-on-write), no copy');
  assert.equal(await tasks.addInPlace(y, 5), 6, 'the task sees its own writes');
  assert.equal(y[0], 1, "the caller's array is unchanged (copy-on-write)");
  assert.equal(y[BIG - 1], 1);
  assert.equal(await tasks.addInPlace(shared(y), 2), 3, 'by reference on request');
  assert.equal(y[0], 3, 'shared(): the writes reach the caller');
  release(y);
});

test('a thread stopped in synchronous code by an abort or a timeout leaves no segment of its own', async () => {
  using gates = new Gates();
  const { ex, tasks } = executor();
  await using _ = ex;
  for (const how of ['abort', 'timeout'] as const) {
    const marker = gates.path(`${how}.path`);
    const controller = new AbortController();
    const stoppable = ex.withOptions(how === 'abort' ? { signal: controller.signal } : { timeout: 2000 });
    const running = stoppable.module<typeof Tasks>(TASKS).spinHoldingOwn(BIG, marker);
    await until(() => existsSync(marker) && readFileSync(marker, 'utf8') !== '', 'the task made its array');
    const path = readFileSync(marker, 'utf8');
    threadOf(path);
    assert.ok(existsSync(path), 'the segment exists while the thread runs');
    if (how === 'abort') controller.abort();
    const error = await running.then(
      () => assert.fail('the task was stopped'),
      (e: unknown) => e,
    );
    if (how === 'timeout') assert.ok(error instanceof TaskTimeoutError);
    else assert.equal((error as Error).name, 'AbortError');
    await until(() => !existsSync(path), `the stopped thread's segment is removed (${how})`);
    assert.equal((await tasks.ones(8))[0], 1, 'the pool goes on with a new thread');
  }
});

test("a thread that crashes leaves no segment of its own; the caller's arrays in its segments stay usable", async () => {
  using gates = new Gates();
  const { ex, tasks } = executor();
  await using _ = ex;
  const kept = await tasks.ones(BIG); // in a segment of the thread that is about to die
  const keptName = basename(segmentPath(kept)!);
  const keptThread = threadOf(segmentPath(kept));
  const namesOfKeptThread = () =>
    listSegmentNames(dir()).filter((n) => threadName.exec(n)?.[1] === String(keptThread));
  const marker = gates.path('crash.path');
  const error = await tasks.exitHoldingOwn(BIG, 3, marker).then(
    () => assert.fail('the thread exited'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkerCrashedError);
  assert.equal(error.code, 'ERR_SHMEX_WORKER_CRASHED');
  const path = readFileSync(marker, 'utf8');
  assert.equal(threadOf(path), keptThread, 'the same thread made both');
  await until(() => !existsSync(path), "the dead thread's own segment is removed");
  assert.equal(kept[BIG - 1], 1, 'the caller still reads its array');
  assert.equal(await tasks.addInPlace(kept, 1), 2, 'and passes it to a task of another thread');
  assert.deepEqual(
    namesOfKeptThread(),
    [keptName],
    "of the dead thread's names, only that of the caller's array is left",
  );
  release(kept);
  await until(() => namesOfKeptThread().length === 0, 'the released array takes its last name with it');
});

test("shmClear() sweeps a dead process's thread segments and spares a live thread's", async () => {
  const { ex, tasks } = executor();
  await using _ = ex;
  const live = await tasks.ones(BIG);
  const script = fileURLToPath(new URL('./fixtures/thread-orphan.js', import.meta.url));
  const orphan = await promisify(execFile)(process.execPath, [script]).then(
    () => assert.fail('the script kills itself'),
    (e: { signal?: string; stdout?: string }) => e,
  );
  assert.equal(orphan.signal, 'SIGKILL');
  const left = orphan.stdout!.trim();
  assert.match(basename(left), /^shmex\.\d+\.\d+\.t\d+\.[0-9a-f]{24}$/);
  assert.ok(existsSync(left), "the dead process's thread segment was left behind");
  const removed = shmClear({ dir: dir() });
  assert.ok(removed.includes(basename(left)), 'swept');
  assert.ok(!existsSync(left));
  assert.ok(!removed.includes(basename(segmentPath(live)!)), "a live process's thread segment is spared");
  assert.ok(existsSync(segmentPath(live)!));
  assert.equal(live[BIG - 1], 1);
  release(live);
});
