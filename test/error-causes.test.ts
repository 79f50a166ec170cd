import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessPoolExecutor, RemoteStack } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const rejection = (p: PromiseLike<unknown>) =>
  p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as Error & { cause?: Error & { cause?: unknown } },
  );

test("a task error's own cause arrives under the worker's stack; an AggregateError keeps its errors", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const chained = await rejection(
    ex.submit(() => {
      throw new Error('outer', { cause: new TypeError('inner') });
    }),
  );
  assert.equal(chained.message, 'outer');
  assert.ok(chained.cause instanceof RemoteStack);
  const inner = chained.cause.cause as Error;
  assert.ok(inner instanceof TypeError);
  assert.equal(inner.message, 'inner');

  const aggregate = await rejection(
    ex.submit(() => {
      throw new AggregateError([new RangeError('a'), new Error('b')], 'both failed');
    }),
  );
  assert.ok(aggregate instanceof AggregateError);
  assert.equal(aggregate.message, 'both failed');
  assert.deepEqual(
    aggregate.errors.map((e: Error) => [e.name, e.message]),
    [
      ['RangeError', 'a'],
      ['Error', 'b'],
    ],
  );
});
