// asCompleted() and wait(): waiting on several Futures at once.
import assert from 'node:assert/strict';
import {
  ALL_COMPLETED,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  TimeoutError,
  wait,
} from 'shmex';
import type * as Control from '../fixtures/control-tasks.js';
import { Gates } from '../fixtures/control-tasks.js';
import type * as Tasks from '../fixtures/tasks.js';
import { suiteTest as test } from './differences.js';
import type { ExecutorClass } from './executor-class.js';

const CONTROL = new URL('../fixtures/control-tasks.js', import.meta.url);
const TASKS = new URL('../fixtures/tasks.js', import.meta.url);

/** Lets pending I/O callbacks and timers of zero delay run. */
async function turn(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Registers these tests for `Executor`, each name followed by `label` (' (threads)', or '' for processes). */
export function waitingSuite(Executor: ExecutorClass, label: string): void {
  test(`asCompleted yields Futures in completion order, done ones first, each once${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 3 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const early = control.gate(gates.dir, 'early', 'E');
    gates.release('early');
    assert.equal(await early, 'E');
    const slow = control.gate(gates.dir, 'slow', 'S');
    const fast = control.gate(gates.dir, 'fast', 'F');
    await Promise.all([gates.started('slow'), gates.started('fast')]);

    const it = asCompleted([slow, fast, early, slow, early]);
    const first = await it.next();
    assert.equal(first.done, false);
    assert.ok(first.value instanceof Future, 'asCompleted yields Futures, not values');
    assert.equal(first.value, early);

    const second = it.next();
    gates.release('fast');
    assert.equal((await second).value, fast);
    assert.ok(fast.done() && !slow.done());

    gates.release('slow');
    const third = await it.next();
    assert.equal(third.value, slow);
    assert.equal(await third.value!.result(), 'S');
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test(`asCompleted yields failed and cancelled Futures too, and works with for await${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const tasks = ex.module<typeof Tasks>(TASKS);
    const busy = control.gate(gates.dir, 'busy', 1);
    await gates.started('busy');
    const failing = tasks.fail('x');
    const cancelled = tasks.identity(2);
    assert.equal(cancelled.cancel(), true);
    const order: Future<unknown>[] = [];
    for await (const f of asCompleted<unknown>([busy, failing, cancelled])) {
      assert.ok(f instanceof Future);
      order.push(f);
      if (f === cancelled) gates.release('busy');
    }
    assert.equal(order[0], cancelled, 'the already-cancelled Future comes first');
    assert.deepEqual(new Set(order), new Set([busy, failing, cancelled]));
    assert.equal(order.length, 3);
    assert.ok(order.indexOf(busy) < order.indexOf(failing), 'failing was queued behind busy');
    await assert.rejects(failing, { name: 'RangeError' });
  });

  test(`asCompleted throws ERR_SHMEX_TIMEOUT once the timeout passes${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const done = ex.submit(() => 'done');
    await done;
    const blocked = control.gate(gates.dir, 'blocked', 0);
    const seen: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of asCompleted<unknown>([done, blocked], 100)) seen.push(f);
      })(),
      (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.equal((error as TimeoutError).code, 'ERR_SHMEX_TIMEOUT');
        assert.match((error as Error).message, /1 \(of 2\)/);
        return true;
      },
    );
    assert.deepEqual(seen, [done], 'what was done came out before the timeout');
    assert.ok(!blocked.cancelled(), 'the timeout cancels nothing');
    gates.release('blocked');
    assert.equal(await blocked, 0);
    // An empty input ends at once; a zero timeout with everything done does not throw.
    assert.deepEqual(await asCompleted([]).next(), { value: undefined, done: true });
    const all: unknown[] = [];
    for await (const f of asCompleted<unknown>([done, blocked], 0)) all.push(f);
    assert.equal(all.length, 2);
  });

  test(`wait() ALL_COMPLETED (the default) returns when every Future is done${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const tasks = ex.module<typeof Tasks>(TASKS);
    const futures: Future<unknown>[] = [tasks.identity(1), tasks.fail('bad'), ex.submit(() => 3)];
    const { done, notDone } = await wait(futures);
    assert.ok(done instanceof Set && notDone instanceof Set);
    assert.deepEqual(done, new Set(futures));
    assert.equal(notDone.size, 0);
    assert.ok(futures.every((f) => f.done()));
    const explicit = await wait([...futures, futures[0]!], { returnWhen: ALL_COMPLETED });
    assert.equal(explicit.done.size, 3, 'duplicates count once');
  });

  test(`wait() FIRST_COMPLETED returns as soon as one Future is done${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const blocked = control.gate(gates.dir, 'blocked', 'B');
    const quick = ex.submit(() => 'Q');
    const { done, notDone } = await wait<unknown>([blocked, quick], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(done, new Set([quick]));
    assert.deepEqual(notDone, new Set([blocked]));
    gates.release('blocked');
    const again = await wait<unknown>([blocked, quick], { returnWhen: FIRST_COMPLETED });
    assert.ok(again.done.has(quick), 'already done: returns at once');
    assert.equal(await blocked, 'B');
  });

  test(`wait() FIRST_EXCEPTION returns at the first failure, or when all are done${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 3 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const tasks = ex.module<typeof Tasks>(TASKS);

    const blocked = control.gate(gates.dir, 'blocked', 'B');
    const ok = tasks.identity('ok');
    const fails = tasks.fail('boom');
    const first = await wait<unknown>([blocked, ok, fails], { returnWhen: FIRST_EXCEPTION });
    assert.ok(first.done.has(fails));
    assert.ok(!first.notDone.has(fails));
    assert.ok(first.notDone.has(blocked) && !first.done.has(blocked));
    await ok;

    // Successes alone do not end it: it waits for everything.
    const a = control.gate(gates.dir, 'a', 1);
    const b = ex.submit(() => 2);
    let settled = false;
    const all = wait<unknown>([a, b], { returnWhen: FIRST_EXCEPTION }).then((r) => {
      settled = true;
      return r;
    });
    await b;
    await gates.started('a');
    await turn();
    assert.equal(settled, false, 'one success did not end a FIRST_EXCEPTION wait');
    gates.release('a');
    const result = await all;
    assert.deepEqual(result.done, new Set([a, b]));
    assert.equal(result.notDone.size, 0);

    gates.release('blocked');
    assert.equal(await blocked, 'B');
  });

  test(`wait() with a timeout returns what is done so far${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const blocked = control.gate(gates.dir, 'blocked', 'B');
    const quick = ex.submit(() => 'Q');
    await quick;
    for (const returnWhen of [ALL_COMPLETED, FIRST_EXCEPTION] as const) {
      const { done, notDone } = await wait<unknown>([blocked, quick], { timeout: 50, returnWhen });
      assert.deepEqual(done, new Set([quick]), returnWhen);
      assert.deepEqual(notDone, new Set([blocked]), returnWhen);
    }
    const zero = await wait<unknown>([blocked, quick], { timeout: 0 });
    assert.deepEqual(zero.notDone, new Set([blocked]));
    assert.ok(!blocked.cancelled(), 'a timeout cancels nothing');
    gates.release('blocked');
    const end = await wait<unknown>([blocked, quick], { timeout: 60_000 });
    assert.equal(end.notDone.size, 0);
  });

  test(`wait() counts a cancelled Future as done but not as an exception${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const busy = control.gate(gates.dir, 'busy', 0);
    await gates.started('busy');
    const queued = ex.submit(() => 1);
    assert.equal(queued.cancel(), true);
    const first = await wait<unknown>([busy, queued], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(first.done, new Set([queued]));
    const exception = await wait<unknown>([busy, queued], { returnWhen: FIRST_EXCEPTION, timeout: 50 });
    assert.deepEqual(
      exception.notDone,
      new Set([busy]),
      'the cancellation did not end a FIRST_EXCEPTION wait',
    );
    gates.release('busy');
    assert.equal(await busy, 0);
  });

  test(`wait() and asCompleted validate their arguments${label}`, async () => {
    await assert.rejects(wait(42 as any), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    await assert.rejects(wait([], { returnWhen: 'SOMETIMES' as any }), {
      code: 'ERR_SHMEX_INVALID_ARGUMENT',
    });
    await assert.rejects(wait([], { timeout: -1 }), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => asCompleted(42 as any), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => asCompleted([], -5), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.deepEqual(await wait([]), { done: new Set(), notDone: new Set() });
  });
}
