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
import { ProcessPoolExecutor } from 'shmex';
import { planDispatch } from '../dist/pool/dispatch.js';
import { Gates } from './fixtures/control-tasks.js';
import type * as Queued from './fixtures/queued-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const QUEUED = new URL('./fixtures/queued-tasks.js', import.meta.url);
/** 1 MiB of float64: above the inline threshold, so each is copied into a segment at submit. */
const N = 131_072;

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
  gates.release('b0');
  assert.equal(await futures[0], N);
  await turn();
  assert.deepEqual(
    futures.slice(1).map((f) => f.running()),
    [true, true, false],
    'while b1 waits at its gate, b2 was sent behind it: the worker holds two of the burst again',
  );
  for (let i = 1; i < 4; i++) gates.release(`b${i}`);
  assert.deepEqual(
    await Promise.all(futures),
    [1, 2, 3, 4].map((v) => v * N),
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
