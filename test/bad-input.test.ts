import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, NotTransferableError, ProcessPoolExecutor, release, zeros } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

test('subclasses of Array, Map and Set are rejected instead of losing their class', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  class Bag extends Map<string, number> {}
  class List extends Array<number> {}
  class Tags extends Set<string> {}
  for (const [value, name] of [
    [new Bag(), 'Bag'],
    [new List(), 'List'],
    [new Tags(), 'Tags'],
  ] as const) {
    const error = await rejection(ex.submit((x: unknown) => x, { inner: value }));
    assert.ok(error instanceof NotTransferableError);
    assert.equal(error.path, 'args[0].inner');
    assert.match(error.message, new RegExp(`class ${name}`));
  }
});

test('a detached ArrayBuffer, or a view of one, is rejected with its path', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const buffer = new ArrayBuffer(16);
  structuredClone(buffer, { transfer: [buffer] });
  for (const value of [buffer, new Float64Array(new ArrayBuffer(8))]) {
    if (value instanceof Float64Array) structuredClone(value.buffer, { transfer: [value.buffer] });
    const error = await rejection(ex.submit((x: unknown) => x, [value]));
    assert.ok(error instanceof NotTransferableError);
    assert.equal(error.path, 'args[0][0]');
    assert.match(error.message, /detached/);
  }
});

test("a task's own error class named like a shmex error is not turned into the shmex class", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const error = await rejection(
    ex.submit(() => {
      class TimeoutError extends Error {
        override name = 'TimeoutError';
      }
      throw new TimeoutError('mine');
    }),
  );
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'TimeoutError');
  assert.equal((error as { code?: string }).code, undefined);
  assert.equal(error.message, 'mine');
});

test('zeros and from: bigint arrays work, mixed number/bigint sources and bad sizes throw InvalidArgumentError naming the call', () => {
  const z = zeros(BigInt64Array, 3);
  assert.deepEqual([...z], [0n, 0n, 0n]);
  assert.equal(release(z), true);
  const b = from(BigUint64Array, [1n, 2n]);
  assert.deepEqual([...b], [1n, 2n]);
  assert.equal(release(b), true);
  assert.throws(() => from(BigInt64Array, [1, 2]), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^from: BigInt64Array holds bigint values/,
  });
  assert.throws(() => from(Float64Array, [1n]), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^from: Float64Array holds numbers, not bigints/,
  });
  assert.throws(() => from(Float64Array, 5 as never), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^from: source/,
  });
  assert.throws(() => zeros(Float64Array, -1), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^zeros: length/,
  });
  assert.throws(() => from(Array as never, [1]), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^from: expected a TypedArray constructor/,
  });
});
