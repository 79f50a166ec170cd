// The queued-bytes budget's accounting, in this process without workers:
// what queuedBytesOf counts of a task's arguments, when a task fits, how a
// task copied at submit is counted until it leaves the queue, how one over
// the budget is copied as a worker takes it, and waitForRoom's order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultQueuedBytes, QueuedBytes, queuedBytesOf } from '../dist/pool/queued-bytes.js';
import { kWhenDone } from '../dist/symbols.js';
import type { Payload } from '../dist/transfer/encode.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const KiB = 1024;
const none = () => false;

test('queuedBytesOf counts distinct large buffers at any depth, not small, shared-memory or repeated ones', () => {
  const big = new Float64Array(16 * KiB); // 128 KiB
  const other = new ArrayBuffer(100 * KiB);
  const sab = new SharedArrayBuffer(70 * KiB);
  assert.equal(queuedBytesOf([1, 'a', null, undefined, 2n], 64 * KiB, none), 0);
  assert.equal(queuedBytesOf([big], 64 * KiB, none), 128 * KiB);
  assert.equal(queuedBytesOf([big, big.subarray(5), new Uint8Array(big.buffer)], 64 * KiB, none), 128 * KiB);
  const nested = { a: [new Map([['k', { deep: new Set([new DataView(other)]) }]])], b: sab, big };
  assert.equal(queuedBytesOf([nested], 64 * KiB, none), 128 * KiB + 100 * KiB + 70 * KiB);
  assert.equal(queuedBytesOf([new Float64Array(1000)], 64 * KiB, none), 0, 'below the threshold: inline');
  const pooled = Buffer.from('abc'); // a view of Node's shared 8 KiB pool
  assert.equal(queuedBytesOf([pooled], 4 * KiB, none), 0, 'a small Buffer: its own bytes, not its pool');
  assert.equal(
    queuedBytesOf([new Uint8Array(pooled.buffer, 0, 3)], 4 * KiB, none),
    0,
    'its 3 bytes travel inline',
  );
  assert.equal(
    queuedBytesOf([new Uint8Array(pooled.buffer), new Uint8Array(pooled.buffer, 0, 3)], 4 * KiB, none),
    pooled.buffer.byteLength,
  );
  const image = new Uint8Array(1024 * KiB);
  assert.equal(
    queuedBytesOf([image.subarray(100 * KiB, 200 * KiB)], 64 * KiB, none),
    100 * KiB,
    'a view counts the bytes that travel, not its whole buffer',
  );
  assert.equal(
    queuedBytesOf(
      [image.subarray(100 * KiB + 3, 200 * KiB), image.subarray(300 * KiB, 301 * KiB)],
      64 * KiB,
      none,
    ),
    201 * KiB - 0,
    'views of one buffer count their covering range, its start aligned down to 8 bytes as it travels',
  );
  assert.equal(
    queuedBytesOf([image.subarray(0, 10 * KiB)], 64 * KiB, none),
    0,
    'a small view of a big buffer travels inline',
  );
  assert.equal(
    queuedBytesOf([image.subarray(1), image.buffer], 64 * KiB, none),
    1024 * KiB,
    'its bare buffer: whole',
  );
  assert.equal(
    queuedBytesOf([big], 64 * KiB, (b) => b === big.buffer),
    0,
    'already in a segment: lent',
  );
  let reads = 0;
  const trap = {
    get big() {
      reads++;
      return big;
    },
  };
  assert.equal(queuedBytesOf([trap], 64 * KiB, none), 0, 'getters are not run (the encoder runs them once)');
  assert.equal(reads, 0);
  const orphan = new Float64Array(16 * KiB);
  Object.setPrototypeOf(orphan, null);
  assert.equal(queuedBytesOf([orphan], 64 * KiB, none), 0, 'a view the encoder refuses counts nothing');
  const cycle: Record<string, unknown> = { big };
  cycle.self = cycle;
  assert.equal(queuedBytesOf([cycle, [cycle]], 64 * KiB, none), 128 * KiB);
});

test('defaultQueuedBytes: a quarter of the directory, at most 256 MiB', () => {
  const budget = defaultQueuedBytes('/dev/shm');
  assert.ok(budget > 0 && budget <= 256 * KiB * KiB);
  assert.equal(defaultQueuedBytes('/no/such/directory'), 256 * KiB * KiB);
});

test('fits: within the limit, or when nothing is counted (one large task alone is never deferred)', () => {
  const q = new QueuedBytes(100);
  assert.ok(q.fits(1000));
  q.charge(60);
  assert.ok(q.fits(40));
  assert.ok(!q.fits(41));
  assert.ok(q.fits(0));
  q.discharge(60);
  assert.equal(q.used, 0);
  assert.ok(new QueuedBytes(Number.POSITIVE_INFINITY).fits(2 ** 60));
});

/** A queued item as the budget sees it, with a Future whose settling the test triggers. */
function fakeItem() {
  const done: (() => void)[] = [];
  const rejected: unknown[] = [];
  const item = {
    args: { data: { raw: undefined }, leases: [] } as Payload,
    future: { [kWhenDone]: (callback: () => void) => done.push(callback) },
    control: { reject: (error: unknown) => rejected.push(error) },
    prepare: undefined as (() => boolean) | undefined,
  };
  const settle = () => {
    for (const callback of done) callback();
  };
  return { item, settle, rejected };
}

test('a task copied at submit counts until a worker takes it, once, even if its Future settles later', () => {
  const q = new QueuedBytes(100);
  const { item, settle } = fakeItem();
  q.admit(item, 70, undefined);
  assert.equal(q.used, 70);
  assert.equal(item.prepare?.(), true);
  assert.equal(q.used, 0);
  settle();
  assert.equal(item.prepare?.(), true, 'sent again after its first worker died');
  assert.equal(q.used, 0);
});

test('a task copied at submit and cancelled while queued gives its bytes back', () => {
  const q = new QueuedBytes(100);
  const { item, settle } = fakeItem();
  q.admit(item, 70, undefined);
  settle();
  assert.equal(q.used, 0);
});

test('a task over the budget counts nothing, and copies its arguments once, as a worker takes it', () => {
  const q = new QueuedBytes(100);
  const { item } = fakeItem();
  let copies = 0;
  const payload: Payload = { data: { raw: [1] }, leases: ['x'] };
  q.admit(item, 500, () => {
    copies++;
    return payload;
  });
  assert.equal(q.used, 0);
  assert.equal(copies, 0);
  assert.equal(item.prepare?.(), true);
  assert.equal(item.args, payload);
  assert.equal(item.prepare?.(), true);
  assert.equal(copies, 1);
});

test('a deferred copy that fails rejects the task, saying its arguments were read late', () => {
  const q = new QueuedBytes(100);
  const { item, rejected } = fakeItem();
  q.admit(item, 500, () => {
    throw new TypeError('detached');
  });
  assert.equal(item.prepare?.(), false);
  assert.equal(rejected.length, 1);
  assert.match(
    (rejected[0] as Error).message,
    /^detached \(its arguments were over maxQueuedBytes at submit/,
  );
});

test('whenRoom: waiters wake in order, as bytes are given back, each counted as it wakes', async () => {
  const q = new QueuedBytes(100);
  q.charge(90);
  const woke: string[] = [];
  const a = q.whenRoom(50).then(() => woke.push('a'));
  const b = q.whenRoom(5).then(() => woke.push('b'));
  const c = q.whenRoom(60).then(() => woke.push('c'));
  await Promise.resolve();
  assert.deepEqual(woke, [], 'b fits, but waits behind a');
  q.discharge(40); // 50 used: a (50) fits, then b (105 > 100) does not
  await a;
  assert.deepEqual(woke, ['a']);
  q.charge(50); // a submitted
  q.discharge(100); // everything left the queue: b and c (5 + 60) both fit
  await Promise.all([b, c]);
  assert.deepEqual(woke, ['a', 'b', 'c']);
  const d = q.whenRoom(1000);
  q.releaseWaiters();
  await d;
});
