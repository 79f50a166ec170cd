// Stopping work: withOptions({ signal, timeout }) stops a task that has not
// started (it is cancelled) or one that runs (its worker is killed and
// replaced); the other tasks go on, and no segment is left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AbortError,
  InvalidArgumentError,
  listSegmentNames,
  ProcessPoolExecutor,
  TaskTimeoutError,
} from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, processGone, until } from './fixtures/control-tasks.js';
import { guardSharedMemory, ourSegments } from './helpers/shm-guard.js';
import { rejection, sumOf } from './helpers/values.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);

test('a running task past its timeout rejects with TaskTimeoutError; its worker is replaced, the other worker goes on', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const control = ex.module<typeof Control>(CONTROL);
  const other = control.gate(gates.dir, 'other', 'other-done');
  const otherPid = await gates.started('other');
  const limited = ex.withOptions({ timeout: 300 }).module<typeof Control>(CONTROL);
  const stuck = limited.holdArray(new Float64Array(1 << 18).fill(1), gates.dir, 'stuck');
  const stuckPid = await gates.started('stuck');
  const error = await rejection(stuck);
  assert.ok(error instanceof TaskTimeoutError);
  assert.equal(error.code, 'ERR_SHMEX_TASK_TIMEOUT');
  assert.equal(error.timeout, 300);
  assert.equal(stuck.running(), false);
  assert.equal(stuck.cancelled(), false);
  await until(() => processGone(stuckPid), 'the timed-out worker is gone');
  gates.release('other');
  assert.equal(await other, 'other-done', 'the task on the other worker was not disturbed');
  assert.equal(await control.pid(), otherPid, 'the untouched worker still serves');
  const x = new Float64Array(1 << 17).fill(2);
  assert.equal(await ex.submit((a: Float64Array) => a.reduce((s, v) => s + v, 0), x), sumOf(x));
});

test('a task that finishes within its timeout resolves normally, with shared-memory arguments and results', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const limited = ex.withOptions({ timeout: 60_000 });
  const inputs = Array.from({ length: 6 }, (_, i) => new Float64Array(1 << 16).fill(i));
  const results = await Promise.all(
    inputs.map((x) => limited.submit((a: Float64Array) => a.map((v) => v * 2), x)),
  );
  results.forEach((r, i) => {
    assert.ok(r instanceof Float64Array);
    assert.equal(r.length, 1 << 16);
    assert.equal(r[100], 2 * i);
  });
});

test('aborting a running task rejects it with AbortError (cause = the reason) and stops its worker', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const controller = new AbortController();
  const control = ex.withOptions({ signal: controller.signal }).module<typeof Control>(CONTROL);
  const running = control.gate(gates.dir, 'running', 'never returned');
  const pid = await gates.started('running');
  const reason = new Error('the user pressed stop');
  controller.abort(reason);
  const error = await rejection(running);
  assert.ok(error instanceof AbortError);
  assert.equal(error.code, 'ERR_SHMEX_ABORTED');
  assert.equal(error.name, 'AbortError');
  assert.equal(error.cause, reason);
  await until(() => processGone(pid), 'the aborted worker is gone');
  assert.notEqual(await ex.submit(() => process.pid), pid, 'a new worker runs the next task');
});

test('aborting a queued task cancels it: it never runs and its argument segment is freed at once', async () => {
  const existing = new Set(listSegmentNames());
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const plain = ex.module<typeof Control>(CONTROL);
  const busy = plain.gate(gates.dir, 'busy', 'busy-done');
  const busyPid = await gates.started('busy');
  const controller = new AbortController();
  const queued = ex
    .withOptions({ signal: controller.signal })
    .module<typeof Control>(CONTROL)
    .holdArray(new Float64Array(1 << 18), gates.dir, 'never');
  assert.equal(ourSegments(existing).length, 1, 'the queued argument is in a segment');
  controller.abort();
  assert.equal(queued.cancelled(), true);
  const error = await rejection(queued);
  assert.ok(error instanceof AbortError);
  assert.ok(error.cause instanceof DOMException, "the signal's default reason");
  await assert.rejects(queued.exception(), AbortError);
  assert.deepEqual(ourSegments(existing), []);
  gates.release('busy');
  assert.equal(await busy, 'busy-done');
  assert.equal(await plain.pid(), busyPid, 'the worker was not stopped');
  assert.equal(gates.isStarted('never'), false);
});

test('a signal aborted before submit gives a cancelled Future without encoding or running anything', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const signal = AbortSignal.abort('too late');
  const future = ex
    .withOptions({ signal })
    .module<typeof Control>(CONTROL)
    .logged(gates.path('ran.log'), 'ran');
  assert.equal(future.cancelled(), true);
  const error = await rejection(future);
  assert.ok(error instanceof AbortError);
  assert.equal(error.cause, 'too late');
  assert.equal(await ex.submit(() => 'next'), 'next');
  assert.deepEqual(gates.log('ran.log'), []);
});

test('aborting after the task finished changes nothing', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const controller = new AbortController();
  const runner = ex.withOptions({ signal: controller.signal });
  const future = runner.submit((x: number) => x + 1, 1);
  assert.equal(await future, 2);
  const pid = await ex.submit(() => process.pid);
  controller.abort();
  assert.equal(await future, 2);
  assert.equal(await ex.submit(() => process.pid), pid, 'no worker was stopped');
});

test('one signal stops every task submitted with it; tasks without it complete', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const controller = new AbortController();
  const stoppable = ex.withOptions({ signal: controller.signal }).module<typeof Control>(CONTROL);
  const plain = ex.module<typeof Control>(CONTROL);
  const doomed = [0, 1, 2, 3].map((i) => stoppable.gate(gates.dir, `doomed${i}`, i));
  const free = [0, 1, 2].map((i) => plain.logged(gates.path('free.log'), i));
  await gates.started('doomed0');
  await gates.started('doomed1');
  controller.abort();
  for (const future of doomed) assert.ok((await rejection(future)) instanceof AbortError);
  assert.deepEqual(await Promise.all(free), [0, 1, 2]);
  assert.equal(gates.isStarted('doomed2') || gates.isStarted('doomed3'), false);
});

test('many quick tasks with a timeout all complete, interleaved with quick tasks without one', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const limited = ex.withOptions({ timeout: 60_000 });
  const futures = Array.from({ length: 300 }, (_, i) =>
    i % 3 === 0 ? limited.submit((x: number) => x * 3, i) : ex.submit((x: number) => x * 3, i),
  );
  const results = await Promise.all(futures);
  assert.deepEqual(
    results,
    Array.from({ length: 300 }, (_, i) => i * 3),
  );
});

test('a timed-out task among quick batched tasks fails alone', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  // Warm up so that quick tasks are batched several to a message.
  await Promise.all(Array.from({ length: 100 }, (_, i) => ex.submit((x: number) => x, i)));
  const before = Array.from({ length: 100 }, (_, i) => ex.submit((x: number) => -x, i));
  const hang = ex.withOptions({ timeout: 200 }).submit(() => {
    for (;;) {
      // spins until its worker is killed
    }
  });
  const after = Array.from({ length: 100 }, (_, i) => ex.submit((x: number) => x + 0.5, i));
  assert.ok((await rejection(hang)) instanceof TaskTimeoutError);
  assert.deepEqual(
    await Promise.all(before),
    Array.from({ length: 100 }, (_, i) => -i),
  );
  assert.deepEqual(
    await Promise.all(after),
    Array.from({ length: 100 }, (_, i) => i + 0.5),
  );
});

test('map through withOptions: a task that times out ends the iteration with TaskTimeoutError', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const seen: number[] = [];
  const results = ex.withOptions({ timeout: 500 }).map(
    (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // busy for ms milliseconds
      }
      return ms;
    },
    [0, 1, 2, 60_000, 3],
  );
  await assert.rejects(async () => {
    for await (const value of results) seen.push(value);
  }, TaskTimeoutError);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(await ex.submit(() => 'still usable'), 'still usable');
});

test('withOptions nests: signals combine, the inner timeout wins', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  using gates = new Gates();
  const nested = () => {
    const outer = new AbortController();
    const inner = new AbortController();
    const runner = ex
      .withOptions({ signal: outer.signal, timeout: 60_000 })
      .withOptions({ signal: inner.signal })
      .module<typeof Control>(CONTROL);
    return { outer, inner, runner };
  };
  const one = nested();
  const first = one.runner.gate(gates.dir, 'first', 1);
  await gates.started('first');
  one.outer.abort('outer');
  assert.equal(((await rejection(first)) as AbortError).cause, 'outer');
  const two = nested();
  const second = two.runner.gate(gates.dir, 'second', 2);
  await gates.started('second');
  two.inner.abort('inner');
  assert.equal(((await rejection(second)) as AbortError).cause, 'inner');
  const quick = ex.withOptions({ timeout: 60_000 }).withOptions({ timeout: 100 });
  const spin = quick.submit(() => {
    for (;;) {
      // spins until stopped
    }
  });
  assert.equal(((await rejection(spin)) as TaskTimeoutError).timeout, 100);
});

test('withOptions rejects bad options with InvalidArgumentError', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const bad of [
    null,
    42,
    { timeout: 0 },
    { timeout: -1 },
    { timeout: Number.NaN },
    { timeout: '100' },
    { timeout: 2 ** 31 },
    { signal: {} },
    { signal: new AbortController() },
  ]) {
    assert.throws(() => ex.withOptions(bad as never), InvalidArgumentError, JSON.stringify(bad));
  }
});
