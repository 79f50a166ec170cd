// A burst of submits whose arrays are copied at submit (a loop over image
// strips): the first task goes to a worker as it is submitted, and, once
// tasks are known to be short, that worker is sent a second task of the
// burst too, before the loop ends; no third. While the burst's tasks wait
// in the parent, a worker that answers one is sent the next, so it holds two
// again; a task submitted after the burst was sent waits in the parent while
// its worker runs. The planning rule itself is tested without processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { type Future, ProcessPoolExecutor } from 'shmex';
import { planDispatch } from '../dist/pool/dispatch.js';
import { Gates } from './fixtures/control-tasks.js';
import type * as Queued from './fixtures/queued-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const QUEUED = new URL('./fixtures/queued-tasks.js', import.meta.url);
/** 1 MiB of float64: above the inline threshold, so each is copied into a segment at submit. */
const N = 131_072;

/**
 * Lets the burst's first task (gate b0) end, checks that b1 and b2 are then in the workers and b3
 * still queued (`why`), and lets the rest end: each returns its sum, (i + 1) * N.
 */
async function finishBurst(futures: Future<number>[], gates: Gates, why: string): Promise<void> {
  gates.release('b0');
  assert.equal(await futures[0], N);
  await turn();
  assert.deepEqual(
    futures.slice(1).map((f) => f.running()),
    [true, true, false],
    why,
  );
  for (let i = 1; i < 4; i++) gates.release(`b${i}`);
  assert.deepEqual(
    await Promise.all(futures),
    [1, 2, 3, 4].map((v) => v * N),
  );
}

/**
 * Tasks of a few milliseconds first (each waits until the test has seen it start), so that the
 * pool knows its tasks are short but not quick: it assumes long ones until it has measured, and
 * sends quick ones (under 1 ms) many at a time.
 */
async function warmUp(tasks: { gatedSum: typeof Queued.gatedSum }, gates: Gates): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const done = tasks.gatedSum(new Float64Array(4).fill(1), gates.dir, `warm${i}`);
    await gates.started(`warm${i}`);
    gates.release(`warm${i}`);
    assert.equal(await done, 4);
  }
}

test('planDispatch: long tasks one per worker, or `depth` per worker when given', () => {
  const worker = () => ({ state: 'idle' as const, exited: false, inflight: [] as object[], tasksRun: 0 });
  const plan = (depth?: number) => {
    const workers = [worker(), worker()];
    const queue = Array.from({ length: 5 }, () => ({}));
    const limits = { taskMs: 10, maxTasksPerChild: undefined, ...(depth === undefined ? {} : { depth }) };
    const batches = planDispatch(queue, workers, limits, () => true);
    return { sizes: workers.map((w) => batches.get(w)?.length ?? 0), left: queue.length };
  };
  assert.deepEqual(plan(), { sizes: [1, 1], left: 3 });
  assert.deepEqual(plan(2), { sizes: [2, 2], left: 1 });
  const limited = [worker()];
  const queue = [{}, {}, {}];
  const batches = planDispatch(queue, limited, { taskMs: 10, maxTasksPerChild: 1, depth: 2 }, () => true);
  assert.equal(batches.get(limited[0]!)?.length, 1, 'maxTasksPerChild still bounds it');
});

test('a worker takes two tasks of a burst of copied submits, the rest wait in the parent; results are right', async () => {
  // Disposed in reverse: the gates' directory goes first, so a failed assertion ends the gated tasks.
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const tasks = ex.module<typeof Queued>(QUEUED);
  await warmUp(tasks, gates);
  const arrays = Array.from({ length: 4 }, (_, i) => new Float64Array(N).fill(i + 1));
  const futures = arrays.map((a, i) => tasks.gatedSum(a, gates.dir, `b${i}`));
  // Sent during the loop itself: a Future is running once its task was sent to a worker.
  assert.deepEqual(
    futures.map((f) => f.running()),
    [true, true, false, false],
  );
  for (const a of arrays) a.fill(-1); // copied at submit: the tasks never see these writes
  await turn();
  await turn();
  assert.deepEqual(
    futures.map((f) => f.running()),
    [true, true, false, false],
    'after the loop, no third task',
  );
  await finishBurst(
    futures,
    gates,
    'while b1 waits at its gate, b2 was sent behind it: the worker holds two of the burst again',
  );
});

test('a task after the burst, while one runs and one waits in the worker, stays in the parent', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const tasks = ex.module<typeof Queued>(QUEUED);
  await warmUp(tasks, gates);
  const first = tasks.gatedSum(new Float64Array(N).fill(1), gates.dir, 'a');
  await gates.started('a');
  // A worker busy with a task of an earlier turn gets nothing more: the queue is its place.
  const later = tasks.gatedSum(new Float64Array(N).fill(2), gates.dir, 'b');
  await turn();
  assert.equal(later.running(), false);
  gates.release('a');
  gates.release('b');
  assert.deepEqual(await Promise.all([first, later]), [N, 2 * N]);
});

test("a burst's task goes to the worker that took the burst, never behind another worker's task of an earlier turn", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const tasks = ex.module<typeof Queued>(QUEUED);
  // Both workers started (one at a time, the pool would start only one).
  const both = [0, 1].map((i) => tasks.gatedSum(new Float64Array(4).fill(1), gates.dir, `start${i}`));
  for (let i = 0; i < 2; i++) await gates.started(`start${i}`);
  for (let i = 0; i < 2; i++) gates.release(`start${i}`);
  assert.deepEqual(await Promise.all(both), [4, 4]);
  await warmUp(tasks, gates);
  // One worker busy with a task of an earlier turn, for as long as the test wants.
  const earlier = tasks.gatedSum(new Float64Array(4).fill(1), gates.dir, 'earlier');
  await gates.started('earlier');
  const futures = [0, 1, 2, 3].map((i) =>
    tasks.gatedSum(new Float64Array(N).fill(i + 1), gates.dir, `b${i}`),
  );
  await turn();
  await turn();
  assert.deepEqual(
    futures.map((f) => f.running()),
    [true, true, false, false],
    'the idle worker holds two of the burst; the busy one none',
  );
  await finishBurst(futures, gates, 'b2 went to the worker of the burst, not behind the earlier task');
  gates.release('earlier');
  assert.equal(await earlier, 4);
});

test("once a burst's queued tasks are cancelled, a later task waits in the parent while its worker is busy", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const tasks = ex.module<typeof Queued>(QUEUED);
  await warmUp(tasks, gates);
  const futures = [0, 1, 2, 3].map((i) => tasks.gatedSum(new Float64Array(N).fill(1), gates.dir, `b${i}`));
  await turn();
  assert.deepEqual([futures[2]!.cancel(), futures[3]!.cancel()], [true, true]);
  gates.release('b0');
  assert.equal(await futures[0], N);
  await turn();
  await turn();
  assert.equal(futures[1]!.running(), true);
  // The burst is over: a task of a later turn is not sent behind b1.
  const later = tasks.gatedSum(new Float64Array(N).fill(2), gates.dir, 'later');
  await turn();
  await turn();
  assert.equal(later.running(), false);
  gates.release('b1');
  gates.release('later');
  assert.deepEqual(await Promise.all([futures[1], later]), [N, 2 * N]);
});
