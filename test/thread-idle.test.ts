// An idle worker thread waits a moment for its next message on a counter the
// parent bumps (tuning.ts THREAD_IDLE_WAIT_MS), reading it without a turn of
// its event loop, and after a quick task it waits at once, without a turn
// either, as long as it had one a moment ago. The wait must stay short and
// lose nothing: timers a task left behind still fire while the thread is
// idle, and while tasks keep coming one after another; every message that
// comes during a wait, or between waits, is handled exactly once; a queued
// task aborted while its thread waits never runs, and the thread goes on.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AbortError, ThreadPoolExecutor } from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, until } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/thread-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/thread-tasks.js', import.meta.url);
const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

test('a timer a task leaves behind fires while its thread is idle, with no task to wake it', async () => {
  using gates = new Gates();
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const marker = gates.path('later');
  const thread = await tasks.writeLater(marker, 50);
  await until(() => existsSync(marker), 'the timer fired');
  assert.equal(readFileSync(marker, 'utf8'), String(thread));
});

test('tasks one after another, and many at once, each get their own result exactly once', async () => {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  for (let i = 0; i < 300; i++) assert.equal(await tasks.double(i), 2 * i);
  const all = await Promise.all(Array.from({ length: 2000 }, (_, i) => tasks.double(i)));
  assert.deepEqual(
    all,
    Array.from({ length: 2000 }, (_, i) => 2 * i),
  );
  // Bursts separated by pauses longer than the wait: some messages come during it, some after it.
  for (let burst = 0; burst < 20; burst++) {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => tasks.double(burst * 5 + i)));
    assert.deepEqual(
      results,
      [0, 1, 2, 3, 4].map((i) => 2 * (burst * 5 + i)),
    );
    await new Promise((resolve) => setTimeout(resolve, burst % 4));
  }
});

test('a timer a task leaves behind fires while tasks keep coming one after another', async () => {
  using gates = new Gates();
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  // Warm: from here on each result makes the next task come at once, and the thread is never idle
  // for long. Without a turn of its event loop now and then, the timer would wait for the first
  // pause, after the loop.
  for (let i = 0; i < 2000; i++) await tasks.double(i);
  const marker = gates.path('later');
  const thread = await tasks.writeLater(marker, 20);
  let calls = 0;
  while (!existsSync(marker)) {
    assert.ok(calls < 100_000, 'the timer fired while the tasks went on');
    assert.equal(await tasks.double(calls), 2 * calls);
    calls++;
  }
  assert.equal(readFileSync(marker, 'utf8'), String(thread));
});

test('a queued task aborted while its thread waits idle never runs; the thread goes on', async () => {
  using gates = new Gates();
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const control = ex.module<typeof Control>(CONTROL);
  const tasks = ex.module<typeof Tasks>(TASKS);
  const log = gates.path('log');
  const thread = await tasks.writeLater(gates.path('unused'), 0);
  // A task with a signal runs alone in its worker: the next one waits in the queue behind it.
  const first = ex
    .withOptions({ signal: new AbortController().signal })
    .submit(control.gate, gates.dir, 'a', 1);
  await gates.started('a');
  const controller = new AbortController();
  const queued = ex.withOptions({ signal: controller.signal }).submit(control.logged, log, 'queued');
  controller.abort('stop');
  await assert.rejects(queued, AbortError);
  gates.release('a');
  assert.equal(await first, 1);
  // The same thread, idle now, takes the next tasks at once.
  assert.equal(await tasks.writeLater(gates.path('unused2'), 0), thread);
  assert.equal(await control.logged(log, 'after'), 'after');
  assert.deepEqual(gates.log('log'), ['after'], 'the aborted task never ran');
});
