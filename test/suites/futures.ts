// Future: awaiting, result()/exception() with and without timeouts, cancel(),
// the state predicates and done-callbacks, all through real workers.
import assert from 'node:assert/strict';
import { CancelledError, Future, listSegmentNames, TimeoutError } from 'shmex';
import type * as Control from '../fixtures/control-tasks.js';
import { Gates } from '../fixtures/control-tasks.js';
import type * as Tasks from '../fixtures/tasks.js';
import { ourSegments } from '../helpers/shm-guard.js';
import { suiteTest as test } from './differences.js';
import type { ExecutorClass } from './executor-class.js';

const CONTROL = new URL('../fixtures/control-tasks.js', import.meta.url);
const TASKS = new URL('../fixtures/tasks.js', import.meta.url);

function states(f: Future<unknown>): { running: boolean; done: boolean; cancelled: boolean } {
  return { running: f.running(), done: f.done(), cancelled: f.cancelled() };
}

/** Registers these tests for `Executor`, each name followed by `label` (' (threads)', or '' for processes). */
export function futuresSuite(Executor: ExecutorClass, label: string): void {
  test(`a Future is awaitable, thenable and works with Promise.all${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const f = ex.submit((a: number, b: number) => a + b, 2, 3);
    assert.ok(f instanceof Future);
    assert.equal(await f, 5);
    assert.equal(await f, 5, 'awaiting twice gives the same value');
    assert.equal(await f.then((v) => v * 2), 10);
    assert.equal(await f.finally(() => {}), 5);
    const all = await Promise.all([1, 2, 3].map((x) => ex.submit((y: number) => y * y, x)));
    assert.deepEqual(all, [1, 4, 9]);
    const failing = ex.submit(() => {
      throw new TypeError('nope');
    });
    assert.equal(await failing.catch((e: unknown) => (e as Error).message), 'nope');
    await assert.rejects(failing, { name: 'TypeError', message: 'nope' });
  });

  test(`a Future first awaited once settled gives its outcome; result() left unhandled is no unhandled rejection${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const ok = ex.submit((a: number) => a + 1, 1);
    const failing = ex.submit(() => {
      throw new RangeError('no');
    });
    // Settled before anyone awaits them (a done-callback is not an observer of the outcome).
    await new Promise<void>((resolve) => failing.addDoneCallback(() => resolve()));
    await new Promise<void>((resolve) => ok.addDoneCallback(() => resolve()));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      void failing.result();
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.equal(await ok, 2);
    await assert.rejects(Promise.resolve(failing), { name: 'RangeError', message: 'no' });
    assert.equal(
      await failing.then(
        () => 'value',
        () => 'error',
      ),
      'error',
    );
  });

  test(`result() resolves with the value; result(timeoutMs) rejects with ERR_SHMEX_TIMEOUT and does not cancel${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const f = control.gate(gates.dir, 'a', 'value-a');
    await gates.started('a');
    await assert.rejects(f.result(50), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.equal((error as TimeoutError).code, 'ERR_SHMEX_TIMEOUT');
      return true;
    });
    await assert.rejects(f.result(0), { code: 'ERR_SHMEX_TIMEOUT' });
    assert.deepEqual(
      states(f),
      { running: true, done: false, cancelled: false },
      'the timeout did not cancel',
    );
    gates.release('a');
    assert.equal(await f.result(), 'value-a');
    // Once done, any timeout (even 0) gives the value.
    assert.equal(await f.result(0), 'value-a');
    assert.equal(await f.result(10_000), 'value-a');
  });

  test(`exception() resolves undefined on success and the error on failure${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const tasks = ex.module<typeof Tasks>(TASKS);
    const control = ex.module<typeof Control>(CONTROL);
    const ok = tasks.identity(7);
    const bad = tasks.fail('broken');
    assert.equal(await ok.exception(), undefined);
    const error = (await bad.exception()) as RangeError & { code: string };
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, 'broken');
    assert.equal(error.code, 'E_TASK');
    // exception() with a timeout on a task that cannot finish yet.
    const blocked = control.gate(gates.dir, 'b', 1);
    await assert.rejects(blocked.exception(20), { code: 'ERR_SHMEX_TIMEOUT' });
    gates.release('b');
    assert.equal(await blocked.exception(), undefined);
    assert.equal(await blocked, 1);
  });

  test(`cancel() of a queued task returns true; it rejects with ERR_SHMEX_CANCELLED and never runs${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const log = gates.path('ran.log');
    const busy = control.gate(gates.dir, 'busy', 'busy-done');
    await gates.started('busy');
    const queued = control.logged(log, 'queued');
    const after = control.logged(log, 'after');
    assert.deepEqual(states(queued), { running: false, done: false, cancelled: false });

    assert.equal(queued.cancel(), true);
    assert.deepEqual(states(queued), { running: false, done: true, cancelled: true });
    assert.equal(queued.cancel(), true, 'cancelling again still answers true');
    await assert.rejects(queued, (error: unknown) => {
      assert.ok(error instanceof CancelledError);
      assert.equal((error as CancelledError).code, 'ERR_SHMEX_CANCELLED');
      return true;
    });
    await assert.rejects(queued.result(), { code: 'ERR_SHMEX_CANCELLED' });
    await assert.rejects(queued.result(5), { code: 'ERR_SHMEX_CANCELLED' });
    await assert.rejects(queued.exception(), { code: 'ERR_SHMEX_CANCELLED' });

    gates.release('busy');
    assert.equal(await busy, 'busy-done');
    assert.equal(await after, 'after');
    assert.deepEqual(gates.log('ran.log'), ['after'], 'the cancelled task never ran');
  });

  test(`cancelling a queued task frees its shared-memory argument at once${label}`, async () => {
    const existing = new Set(listSegmentNames());
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const busy = control.gate(gates.dir, 'busy', 0);
    await gates.started('busy');
    const queued = control.holdArray(new Float64Array(1 << 20), gates.dir, 'never');
    assert.equal(ourSegments(existing).length, 1, 'the queued argument is in a segment');
    assert.equal(queued.cancel(), true);
    assert.deepEqual(ourSegments(existing), []);
    gates.release('busy');
    assert.equal(await busy, 0);
    assert.equal(gates.isStarted('never'), false);
  });

  test(`cancel() of a running task returns false and the task finishes normally${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const f = control.gate(gates.dir, 'r', 42);
    await gates.started('r');
    assert.deepEqual(states(f), { running: true, done: false, cancelled: false });
    assert.equal(f.cancel(), false);
    assert.deepEqual(states(f), { running: true, done: false, cancelled: false });
    gates.release('r');
    assert.equal(await f, 42);
    assert.deepEqual(states(f), { running: false, done: true, cancelled: false });
    assert.equal(f.cancel(), false, 'a finished Future cannot be cancelled');
    assert.equal(f.cancelled(), false);
  });

  test(`a failed Future is done, not running and not cancelled${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof Tasks>(TASKS);
    const f = tasks.fail('x');
    await assert.rejects(f, { name: 'RangeError' });
    assert.deepEqual(states(f), { running: false, done: true, cancelled: false });
    assert.equal(f.cancel(), false);
  });

  test(`a Future starts pending: not running, not done, not cancelled${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const f = ex.submit(() => 1);
    // The worker process cannot have started yet: submit() returns at once.
    assert.deepEqual(states(f), { running: false, done: false, cancelled: false });
    assert.equal(Object.prototype.toString.call(f), '[object Future<pending>]');
    assert.equal(await f, 1);
    assert.equal(Object.prototype.toString.call(f), '[object Future<finished>]');
  });

  test(`addDoneCallback is called once with the Future, before or after it is done${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const f = control.gate(gates.dir, 'cb', 'v');
    const calls: string[] = [];
    let seen: unknown;
    f.addDoneCallback((g) => {
      seen = g;
      calls.push(`before:${g.done()}`);
    });
    f.addDoneCallback(() => calls.push('before-2'));
    await gates.started('cb');
    assert.equal(calls.length, 0);
    gates.release('cb');
    await f;
    await afterTicks(() => calls.length === 2);
    assert.equal(seen, f);
    assert.deepEqual(calls, ['before:true', 'before-2']);

    // Added after done: called once, asynchronously (not inside addDoneCallback).
    f.addDoneCallback(() => calls.push('after'));
    assert.deepEqual(calls, ['before:true', 'before-2']);
    await afterTicks(() => calls.length === 3);
    assert.deepEqual(calls, ['before:true', 'before-2', 'after']);

    // Nothing runs a second time, even after more work.
    assert.equal(await ex.submit(() => 2), 2);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['before:true', 'before-2', 'after']);
  });

  test(`addDoneCallback runs for failed and cancelled Futures; a throwing callback becomes a warning${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const tasks = ex.module<typeof Tasks>(TASKS);
    const calls: string[] = [];

    const failed = tasks.fail('cb');
    failed.addDoneCallback((g) => calls.push(`failed:${g.done()}:${g.cancelled()}`));
    await assert.rejects(failed);

    const busy = control.gate(gates.dir, 'busy', 0);
    await gates.started('busy');
    const queued = tasks.identity(1);
    queued.addDoneCallback((g) => calls.push(`cancelled:${g.cancelled()}`));
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    queued.addDoneCallback(() => {
      throw new Error('callback exploded');
    });
    queued.addDoneCallback(() => calls.push('after-throwing'));
    assert.equal(queued.cancel(), true);
    const warning = await warned;
    assert.equal(warning.name, 'ShmexWarning');
    assert.match(warning.message, /callback exploded/);
    await afterTicks(() => calls.length === 3);
    assert.deepEqual(calls, ['failed:true:false', 'cancelled:true', 'after-throwing']);
    gates.release('busy');
    assert.equal(await busy, 0);
  });
}

async function afterTicks(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), 'condition never held');
}
