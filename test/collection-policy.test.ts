// CollectionPolicy, the one rule for when a process collects garbage to give
// segments back, tested in this process with a counting collect function.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { CollectionPolicy } from '../dist/shm/collect.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

function counted(rules: ConstructorParameters<typeof CollectionPolicy>[0]) {
  const count = { n: 0 };
  return { policy: new CollectionPolicy(rules, () => count.n++), count };
}

const worker = { bytes: 100, minIntervalMs: 0, idleMs: 5, nextTurn: false };
const parent = { bytes: 100, minIntervalMs: 200, nextTurn: true };

test('at once, when `bytes` have been tracked since the last collection', () => {
  const { policy, count } = counted({ ...worker, idleMs: undefined });
  policy.note(99);
  assert.equal(count.n, 0);
  policy.note(100);
  assert.equal(count.n, 1);
  policy.note(150);
  assert.equal(count.n, 1, 'counted from the last collection');
  policy.note(200);
  assert.equal(count.n, 2);
});

test('once idle for idleMs after any bytes were tracked, idle time counted from the end of the batch', async () => {
  const { policy, count } = counted(worker);
  policy.note(0);
  await sleep(20);
  assert.equal(count.n, 0, 'nothing tracked: nothing to collect');
  policy.busy = true;
  policy.note(10);
  await sleep(20);
  assert.equal(count.n, 0, 'busy: the idle collection waits');
  policy.busy = false;
  policy.note(10);
  assert.equal(count.n, 0, 'between tasks: not at once (a collection per task cost as much as the task)');
  await sleep(20);
  await turn(); // the idle timer's immediate, if both timers fired in one turn
  assert.equal(count.n, 1, 'idle for idleMs');
  policy.note(20);
  await sleep(20);
  await turn(); // the idle timer's immediate, if both timers fired in one turn
  assert.equal(count.n, 2, 'idle again');
});

test('a task that comes in the turn where idleMs runs out makes the process busy before the idle collection', async () => {
  const { policy, count } = counted(worker);
  policy.note(10);
  // Like a task read from the channel in that turn, after the timer: a timer due just after the
  // idle one, and both run in one turn, in that order, as the event loop is held past both.
  setTimeout(() => {
    policy.busy = true;
  }, worker.idleMs + 1);
  const until = performance.now() + 3 * worker.idleMs;
  while (performance.now() < until) {
    // The event loop is held past idleMs: the idle timer and the next callback come in one turn.
  }
  await sleep(3 * worker.idleMs);
  assert.equal(count.n, 0, 'busy when the idle collection was due');
  policy.busy = false;
  policy.note(10);
  await sleep(3 * worker.idleMs);
  // Under load both timers may fire in one turn: the idle timer's immediate comes before this one.
  await turn();
  assert.equal(count.n, 1, 'then, idle, it collects');
});

test("afterTask collects at once once taskBytes of received copies were tracked since the last collection, if their sender waits for them ('now')", () => {
  const { policy, count } = counted({ ...worker, idleMs: undefined, taskBytes: 50 });
  assert.equal(policy.afterTask(30, 0, 30, 'now'), false);
  assert.equal(policy.afterTask(49, 1000, 49, 'now'), false, 'copy-on-write bytes do not count');
  assert.equal(policy.afterTask(500, 1000, 49, 'now'), false, 'nor arrays made here or shared mappings');
  assert.equal(count.n, 0);
  assert.equal(policy.afterTask(501, 1000, 50, undefined), false, 'copies of a burst of submits: not now');
  assert.equal(policy.afterTask(501, 1000, 50, 'after'), false, "'after': not before the outcome");
  assert.equal(count.n, 0);
  assert.equal(policy.afterTask(501, 1000, 50, 'now'), true, 'copies of two tasks of 30 and 20 bytes');
  assert.equal(count.n, 1);
  assert.equal(policy.afterTask(550, 1000, 99, 'now'), false, 'counted from that collection');
  const { policy: noRule, count: none } = counted({ ...worker, idleMs: undefined });
  assert.equal(noRule.afterTask(1000, 0, 1000, 'now'), false, 'no taskBytes: never');
  assert.equal(none.n, 0);
});

test('note() collects once taskBytes of arrays made here or shared mappings were tracked, after the outcome', () => {
  const { policy, count } = counted({ ...worker, idleMs: undefined, taskBytes: 50, copyOnWriteWeight: 0.01 });
  policy.busy = true;
  assert.equal(policy.afterTask(60, 0, 0, 'now'), false, 'made here: not before the outcome');
  policy.note(60);
  assert.equal(count.n, 1, 'at the note that follows the outcome');
  policy.note(100, 1000);
  assert.equal(count.n, 1, 'copy-on-write bytes do not count toward it');
});

test("received copies count toward taskBytes after the outcome with 'after', toward `bytes` alone in a burst", () => {
  const { policy, count } = counted({ ...worker, idleMs: undefined, taskBytes: 20 });
  policy.busy = true;
  for (let copied = 10; copied < 100; copied += 10) {
    assert.equal(policy.afterTask(copied, 0, copied, undefined), false);
    policy.note(copied);
  }
  assert.equal(count.n, 0, '90 bytes of copies of a burst, over taskBytes: not collected');
  assert.equal(policy.afterTask(110, 0, 100, undefined), false);
  policy.note(110);
  assert.equal(count.n, 1, '`bytes` reached');
  assert.equal(policy.afterTask(135, 0, 100, undefined), false, '25 bytes made here since');
  policy.note(135);
  assert.equal(count.n, 2, 'made here: taskBytes');
  assert.equal(policy.afterTask(150, 0, 115, 'after'), false);
  policy.note(150);
  assert.equal(count.n, 2, "15 bytes of copies, 'after': under taskBytes");
  assert.equal(policy.afterTask(160, 0, 125, 'after'), false, "'after': not before the outcome");
  assert.equal(count.n, 2);
  policy.note(160);
  assert.equal(count.n, 3, "25 bytes of copies, 'after': at the note that follows the outcome");
});

test('copy-on-write bytes weigh copyOnWriteWeight, and wait for idleMs of real idleness', async () => {
  const { policy, count } = counted({ ...worker, copyOnWriteWeight: 1 / 4, idleMs: 30 });
  policy.busy = true;
  policy.note(0, 300);
  await sleep(40);
  policy.busy = false;
  policy.note(0, 300);
  assert.equal(count.n, 0, 'busy for longer than idleMs, 75 weighed bytes: no collection');
  await sleep(15);
  policy.busy = true;
  policy.note(0, 350);
  policy.busy = false;
  policy.note(0, 350);
  await sleep(20);
  assert.equal(count.n, 0, 'idle for 20 ms since the last task: not yet');
  await sleep(40);
  await turn(); // the idle timer's immediate, if both timers fired in one turn
  assert.equal(count.n, 1, 'idle for idleMs');
  policy.busy = true;
  policy.note(0, 750);
  assert.equal(count.n, 2, '400 more copy-on-write bytes weigh 100: at once');
  policy.note(10, 750);
  policy.busy = false;
  policy.note(10, 750);
  assert.equal(count.n, 2, 'other bytes: not at once between tasks');
  await sleep(40);
  assert.equal(count.n, 3, 'other bytes: once idle for idleMs');
});

test('on a later turn of the event loop, at most once per minIntervalMs', async () => {
  const { policy, count } = counted(parent);
  await sleep(Math.max(0, 200 - performance.now())); // the interval counts from the process's start
  policy.note(100);
  assert.equal(count.n, 0, 'not during the caller');
  await turn();
  assert.equal(count.n, 1);
  policy.note(500);
  await turn();
  assert.equal(count.n, 1, 'too soon after the last one');
  await sleep(250);
  policy.note(500);
  await turn();
  assert.equal(count.n, 2);
});

test('afterTask leaves arrays made here since the last collection counted: the note() after the outcome collects them', () => {
  const { policy, count } = counted({ ...worker, bytes: 1000, idleMs: undefined, taskBytes: 50 });
  // A task that received a copy of 60 bytes and made a result of 80 bytes here.
  assert.equal(policy.afterTask(140, 0, 60, 'now', 80), true, 'the copy: before the outcome');
  assert.equal(count.n, 1);
  policy.note(140);
  assert.equal(count.n, 2, 'the result made here: after the outcome, although a collection just ran');
  policy.note(140);
  assert.equal(count.n, 2, 'nothing new since');
  // A task that received a copy and made nothing: one collection only.
  assert.equal(policy.afterTask(200, 0, 120, 'now', 80), true);
  policy.note(200);
  assert.equal(count.n, 3);
});

test('maxTimeShare: after a collection that took t ms, the next waits until t / maxTimeShare ms have passed', () => {
  let clock = 1000;
  let n = 0;
  const takes30 = () => {
    n++;
    clock += 30;
  };
  const rules = { bytes: 100, minIntervalMs: 0, maxTimeShare: 0.5, nextTurn: false };
  const policy = new CollectionPolicy(rules, takes30, () => clock);
  policy.note(100);
  assert.equal(n, 1);
  clock += 59;
  policy.note(200);
  assert.equal(n, 1, 'a collection of 30 ms: none for 60 ms after it');
  clock += 1;
  policy.note(300);
  assert.equal(n, 2);
});

test('msPerMiB: after a collection that took t ms, the next waits until t / msPerMiB MiB were tracked', () => {
  const MiB = 2 ** 20;
  let clock = 1000;
  let n = 0;
  let takes = 5;
  const collect = () => {
    n++;
    clock += takes;
  };
  const rules = { bytes: 64 * MiB, minIntervalMs: 0, msPerMiB: 1, nextTurn: false };
  const policy = new CollectionPolicy(rules, collect, () => clock);
  policy.note(64 * MiB);
  assert.equal(n, 1, 'the first collection: its cost is not known yet');
  takes = 200; // a heap with many objects on it
  policy.note(128 * MiB);
  assert.equal(n, 2, 'the last one took 5 ms: 64 MiB are worth it');
  clock += 10_000;
  policy.note(192 * MiB);
  policy.note(300 * MiB);
  assert.equal(n, 2, 'the last one took 200 ms: 172 MiB are not worth it, however long ago it was');
  policy.note(328 * MiB);
  assert.equal(n, 3, '200 MiB since the last: worth 200 ms');
  // A task's received copies the sender waits for ('now') follow the same rule.
  const worker = new CollectionPolicy({ ...rules, taskBytes: 8 * MiB }, collect, () => clock);
  assert.equal(worker.afterTask(8 * MiB, 0, 8 * MiB, 'now'), true);
  assert.equal(worker.afterTask(40 * MiB, 0, 40 * MiB, 'now'), false, '32 MiB after a collection of 200 ms');
  assert.equal(worker.afterTask(208 * MiB, 0, 208 * MiB, 'now'), true);
});

test('whenCollected: pending from note() until the finalizers of what it collected have run, then the callbacks', async () => {
  const { collectGarbage } = await import('../dist/shm/collect.js');
  const policy = new CollectionPolicy({ bytes: 100, minIntervalMs: 0, nextTurn: true }, collectGarbage);
  const finalized: string[] = [];
  const registry = new FinalizationRegistry<string>((held) => finalized.push(held));
  (() => registry.register(new ArrayBuffer(1024), 'dropped'))();
  await turn(); // what the registration kept alive for its own turn is let go
  assert.equal(
    policy.whenCollected(() => {}),
    false,
    'nothing pending: no callback',
  );
  assert.equal(policy.pending, false);
  policy.note(100);
  assert.equal(policy.pending, true);
  const seen = await new Promise<string[]>((resolve) => {
    assert.equal(
      policy.whenCollected(() => resolve([...finalized])),
      true,
    );
  });
  assert.deepEqual(seen, ['dropped'], 'the finalizer ran before the callback');
  assert.equal(policy.pending, false);
});

test('decided: called as note() decides a collection that runs on a later turn, before it runs; a note() that falls (arrays collected or released since) counts from where it was decided', async () => {
  const events: string[] = [];
  let clock = 1000;
  const policy = new CollectionPolicy(
    parent,
    () => events.push('collect'),
    () => clock,
    () => events.push('decided'),
  );
  policy.note(100);
  assert.deepEqual(events, ['decided'], 'decided at once, the collection not run yet');
  await turn();
  assert.deepEqual(events, ['decided', 'collect']);
  await turn();
  clock += 1000; // past minIntervalMs
  // Bytes released after the decision no longer count: the value may fall below the decided one.
  policy.note(60);
  policy.note(199);
  assert.deepEqual(events, ['decided', 'collect'], 'less than `bytes` above the value at the decision');
  policy.note(200);
  assert.deepEqual(events, ['decided', 'collect', 'decided']);
});
