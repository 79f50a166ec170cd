// registerErrorClass: a task's error of a registered class arrives as an
// instance of that class, on both executors, with its fields, name, message
// and cause; the constructor is not called again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  InvalidArgumentError,
  ProcessPoolExecutor,
  RemoteStack,
  registerErrorClass,
  ThreadPoolExecutor,
} from 'shmex';
import * as Classes from './fixtures/error-classes.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const FIXTURE = new URL('./fixtures/error-classes.js', import.meta.url);

const rejection = (p: PromiseLike<unknown>): Promise<Error> =>
  Promise.resolve(p).then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as Error,
  );

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  const on = Executor === ThreadPoolExecutor ? ' (threads)' : '';

  test(`an error of a registered class arrives as that class, fields, message and cause intact${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof Classes>(FIXTURE);
    const error = await rejection(tasks.validate(12));
    assert.ok(error instanceof Classes.ValidationError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ValidationError');
    assert.equal(error.message, 'x must lie in [0, 10]');
    assert.equal(error.field, 'x');
    assert.deepEqual(error.limits, { min: 0, max: 10 });
    assert.equal(error.describe(), 'x: x must lie in [0, 10]', 'its methods work');
    assert.ok(error.stack?.includes('at validate'), "the worker's stack");
    assert.ok(error.cause instanceof RemoteStack);
    assert.deepEqual(error.cause.cause, { got: 12 }, 'its own cause, under the remote stack');
    assert.equal(Object.prototype.propertyIsEnumerable.call(error, 'message'), false);
  });

  test(`a subclass of a registered class arrives as the registered class${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const error = await rejection(ex.module<typeof Classes>(FIXTURE).validateRange(5));
    assert.ok(error instanceof Classes.ValidationError);
    assert.equal(error instanceof Classes.RangeValidationError, false, 'not registered itself');
    assert.equal(error.name, 'ValidationError', 'the name its constructor set');
    assert.deepEqual(error.limits, { min: 0, max: 5 });
  });

  test(`an unregistered class arrives as an Error of that name, as before${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const error = await rejection(ex.module<typeof Classes>(FIXTURE).overQuota());
    assert.equal(error instanceof Classes.QuotaError, false);
    assert.equal(Object.getPrototypeOf(error), Error.prototype);
    assert.equal(error.name, 'Error');
    assert.equal(error.message, 'over quota');
    assert.equal((error as Error & { quota?: number }).quota, 3);
  });

  test(`a class registered under another name, and an AggregateError subclass${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof Classes>(FIXTURE);
    const conflict = await rejection(tasks.conflict());
    assert.ok(conflict instanceof Classes.Conflict);
    assert.equal(conflict.message, 'version 3 is not the latest');
    const batch = await rejection(tasks.batch());
    assert.ok(batch instanceof Classes.BatchError);
    assert.ok(batch instanceof AggregateError);
    assert.equal(batch.errors.length, 2);
    assert.ok(batch.errors[0] instanceof Classes.ValidationError);
    assert.ok(batch.errors[1] instanceof TypeError);
  });

  test(`a function task's error keeps its class when registered in the parent only${on}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    // The worker has no registration: the class's own name travels, and the parent has it.
    const error = await rejection(
      ex.submit(() => {
        class ValidationError extends Error {
          readonly code = 7;
        }
        throw new ValidationError('from a closure-free class of the same name');
      }),
    );
    assert.ok(error instanceof Classes.ValidationError);
    assert.equal((error as Error & { code?: number }).code, 7);
    assert.equal(error.message, 'from a closure-free class of the same name');
  });
}

test('a name registered twice is refused; the same class again is accepted', () => {
  class ValidationError extends Error {}
  assert.throws(
    () => registerErrorClass(ValidationError),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.code === 'ERR_SHMEX_INVALID_ARGUMENT' &&
      /another class is already registered as 'ValidationError'/.test(e.message),
  );
  registerErrorClass(ValidationError, { name: 'other.ValidationError' });
  registerErrorClass(Classes.ValidationError);
  assert.throws(
    () => registerErrorClass(Classes.ValidationError, { name: 'again' }),
    /already registered as 'ValidationError', not 'again'/,
  );
});

test('registerErrorClass refuses what is not an Error class', () => {
  for (const bad of [Error, class NotAnError {}, () => undefined, 'ValidationError', null]) {
    assert.throws(
      () => registerErrorClass(bad as never),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /must be a class that extends Error/.test(e.message),
    );
  }
  assert.throws(
    () => registerErrorClass((() => class extends Error {})()),
    /an anonymous class needs options.name/,
  );
});
