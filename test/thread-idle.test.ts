// An idle worker thread waits a moment for its next message on a counter the
// parent bumps (tuning.ts THREAD_IDLE_WAIT_MS), reading it without a turn of
// its event loop. The wait must stay short and lose nothing: timers a task
// left behind still fire while the thread is idle, and every message that
// comes during a wait, or between waits, is handled exactly once.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ThreadPoolExecutor } from 'shmex';
import { Gates, until } from './fixtures/control-tasks.js';
import type * as Tasks from './fixtures/thread-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/thread-tasks.js', import.meta.url);

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
