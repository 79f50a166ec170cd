// A worker runs a task whose function it has already loaded without waiting
// for promises it does not need (see WorkerRuntime.#runAtOnce): each kind of
// outcome must come back the same from a task's first call (its module is
// imported, its source compiled) and from its later ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor, release, TaskClosureError } from 'shmex';
import type * as Outcomes from './fixtures/outcome-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CALLS = 4;

/** What a settled call gave: its value, or its error's class and message. */
async function outcome(call: PromiseLike<unknown>): Promise<unknown> {
  try {
    return { value: await call };
  } catch (error) {
    return { error: (error as Error).name, message: (error as Error).message };
  }
}

/** The outcomes of CALLS calls one after another, each awaited before the next. */
async function inTurn(call: () => PromiseLike<unknown>): Promise<unknown[]> {
  const outcomes: unknown[] = [];
  for (let i = 0; i < CALLS; i++) outcomes.push(await outcome(call()));
  return outcomes;
}

test('module tasks give the same outcome on their first call and on later ones', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Outcomes>(new URL('./fixtures/outcome-tasks.js', import.meta.url));
  const same = (outcomes: unknown[], expected: unknown) =>
    assert.deepEqual(
      outcomes,
      Array.from({ length: CALLS }, () => expected),
    );

  same(await inTurn(() => tasks.total(new Float64Array([1, 2, 3.5]))), { value: 6.5 });
  same(await inTurn(() => tasks.later(41)), { value: 42 });
  same(await inTurn(() => tasks.thenable(21)), { value: 42 });
  same(await inTurn(() => tasks.throwNow('at once')), { error: 'TypeError', message: 'at once' });
  same(await inTurn(() => tasks.rejectLater('later')), { error: 'RangeError', message: 'later' });
  for (let i = 0; i < CALLS; i++) {
    const big = await tasks.ramp(1 << 14); // 128 KiB: through a segment
    assert.equal(big.length, 1 << 14);
    assert.equal(big[12345], 12345);
    release(big);
  }
});

test('function tasks too, and a task reading a variable it does not define is explained each time', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const double = (x: number) => x * 2;
  assert.deepEqual(await inTurn(() => ex.submit(double, 4)), Array(CALLS).fill({ value: 8 }));
  const outer = 3;
  const closure = (x: number) => x + outer;
  for (let i = 0; i < CALLS; i++) {
    await assert.rejects(Promise.resolve(ex.submit(closure, 1)), TaskClosureError);
  }
});

test('tasks sent several at a time (quick ones are) give each its own outcome', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const tasks = ex.module<typeof Outcomes>(new URL('./fixtures/outcome-tasks.js', import.meta.url));
  for (let round = 0; round < 3; round++) {
    const calls = Array.from({ length: 200 }, (_, k) =>
      k % 3 === 0
        ? tasks.total(new Float64Array([k]))
        : k % 3 === 1
          ? tasks.throwNow(`t${k}`)
          : tasks.thenable(k),
    );
    const outcomes = await Promise.all(calls.map(outcome));
    outcomes.forEach((o, k) => {
      const expected =
        k % 3 === 0
          ? { value: k }
          : k % 3 === 1
            ? { error: 'TypeError', message: `t${k}` }
            : { value: 2 * k };
      assert.deepEqual(o, expected, `task ${k} of round ${round}`);
    });
  }
});
