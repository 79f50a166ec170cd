// A waiter (asCompleted, wait) lets go of the Futures it was given once it
// returns, throws or is closed: a Future that came out of it and was dropped
// can be collected while other Futures of the same call still run
// (CPython: test_free_reference_yielded_future).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  asCompleted,
  FIRST_COMPLETED,
  type Future,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  TimeoutError,
  wait,
} from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates } from './fixtures/control-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

/** Removes `future` from `list` and keeps only a weak reference to it. */
function dropFrom(list: Future<unknown>[], future: Future<unknown>): WeakRef<Future<unknown>> {
  list.splice(list.indexOf(future), 1);
  return new WeakRef(future);
}

/** Whether the target is gone after a few collections (a WeakRef's target lives to the end of the turn that made it). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

/** Two gate tasks, both started: the test decides when each finishes. */
async function twoRunning(
  ex: ProcessPoolExecutor | ThreadPoolExecutor,
  gates: Gates,
): Promise<Future<unknown>[]> {
  const control = ex.module<typeof Control>(CONTROL);
  const futures: Future<unknown>[] = [control.gate(gates.dir, 'a', 'A'), control.gate(gates.dir, 'b', 'B')];
  await Promise.all([gates.started('a'), gates.started('b')]);
  return futures;
}

/** Takes the next Future from `it`, checks it, and drops it from `list`. */
async function takeAndDrop(
  it: AsyncIterator<Future<unknown>>,
  list: Future<unknown>[],
): Promise<WeakRef<Future<unknown>>> {
  const next = await it.next();
  assert.equal(next.done, false);
  assert.equal(await next.value.result(), 'A');
  return dropFrom(list, next.value);
}

for (const [Executor, onWhat] of [
  [ProcessPoolExecutor, ''],
  [ThreadPoolExecutor, ' (threads)'],
] as const) {
  test(`a Future yielded by asCompleted and dropped is collected after an earlier asCompleted timed out${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const futures = await twoRunning(ex, gates);
    const timedOut = asCompleted(futures, 0);
    await assert.rejects(timedOut.next(), TimeoutError);
    assert.deepEqual(
      await timedOut.next(),
      { value: undefined, done: true },
      'a timed-out iterator is closed',
    );

    gates.release('a');
    const it = asCompleted(futures);
    const a = await takeAndDrop(it, futures);
    assert.equal(futures.length, 1);
    assert.ok(!futures[0]!.done(), 'b still runs');
    assert.ok(await collected(a), 'the timed-out asCompleted still holds the Future it was given');

    gates.release('b');
    const last = await it.next();
    assert.equal(last.value, futures[0]);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test(`a Future is collected after an asCompleted closed early finished it${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const futures = await twoRunning(ex, gates);
    const closed = asCompleted(futures);
    await closed.return?.(); // what a for await that breaks does

    gates.release('a');
    const a = await finishAndDrop(futures);
    assert.ok(!futures[0]!.done(), 'b still runs');
    assert.ok(await collected(a), 'a closed asCompleted still holds the Futures it was given');
    gates.release('b');
    assert.equal(await futures[0]!.result(), 'B');
  });

  /** Waits until the first Future of `list` finishes (with wait(), FIRST_COMPLETED), and drops it. */
  async function finishAndDrop(list: Future<unknown>[]): Promise<WeakRef<Future<unknown>>> {
    const { done, notDone } = await wait(list, { returnWhen: FIRST_COMPLETED });
    assert.equal(done.size, 1);
    assert.equal(notDone.size, 1);
    const [finished] = done;
    assert.equal(finished, list[0]);
    assert.equal(await finished!.result(), 'A');
    return dropFrom(list, finished!);
  }

  test(`a Future that wait() returned is collected while others of the call still run${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const futures = await twoRunning(ex, gates);
    // Returns by its timeout (the gates stay shut), leaving both unfinished.
    assert.equal((await wait(futures, { timeout: 20 })).notDone.size, 2);

    gates.release('a');
    // Returns when a finishes, leaving b unfinished.
    const a = await finishAndDrop(futures);
    assert.ok(!futures[0]!.done(), 'b still runs');
    assert.ok(await collected(a), 'a wait() that returned still holds the Futures it was given');

    gates.release('b');
    assert.equal(await futures[0]!.result(), 'B');
  });
}
