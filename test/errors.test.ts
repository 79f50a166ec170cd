// What a failing task looks like in the parent: thrown errors keep their name,
// message and own fields with the worker's stack as `cause`; thrown non-Error
// values arrive as they are; tasks that cannot run fail with shmex codes; and
// every function form (arrow, function, async, method shorthand) runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  InvalidTaskError,
  ProcessPoolExecutor,
  RemoteStack,
  TaskClosureError,
  TaskNotFoundError,
} from 'shmex';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

test("a module task's error arrives with its name, message, own fields and the worker's stack as cause", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const error = (await rejection(tasks.fail('out of range'))) as RangeError & {
    code: string;
    detail: { n: number };
  };
  assert.ok(error instanceof RangeError);
  assert.equal(error.name, 'RangeError');
  assert.equal(error.message, 'out of range');
  assert.equal(error.code, 'E_TASK');
  assert.deepEqual(error.detail, { n: 1 });
  assert.ok(error.cause instanceof RemoteStack);
  const cause = error.cause as RemoteStack;
  assert.match(cause.stack!, /\bfail\b/, 'the worker stack names the task function');
  assert.match(cause.stack!, /fixtures\/tasks\.js/);
  assert.match(error.stack!, /\bfail\b/);
});

test("a function task's error keeps own fields, including nested objects, and names the function in its stack", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const error = (await rejection(
    ex.submit(function explodeWithDetail(limit: number) {
      throw Object.assign(new RangeError(`over ${limit}`), {
        code: 'E_LIMIT',
        detail: { limit, nested: { list: [1, 2], when: new Date(0) } },
      });
    }, 10),
  )) as RangeError & { code: string; detail: unknown };
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, 'over 10');
  assert.equal(error.code, 'E_LIMIT');
  assert.deepEqual(error.detail, { limit: 10, nested: { list: [1, 2], when: new Date(0) } });
  assert.ok(error.cause instanceof RemoteStack);
  assert.match((error.cause as Error).stack!, /explodeWithDetail/);
});

test('built-in error classes keep their class; a custom class arrives with its name', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const typeError = await rejection(
    ex.submit(() => {
      throw new TypeError('bad type');
    }),
  );
  assert.ok(typeError instanceof TypeError);
  assert.equal((typeError as Error).message, 'bad type');

  const custom = (await rejection(
    ex.submit(function throwsCustom() {
      class MyError extends Error {
        readonly retryable = true;
        constructor(message: string) {
          super(message);
          this.name = 'MyError';
        }
      }
      throw new MyError('custom failure');
    }),
  )) as Error & { retryable: boolean };
  assert.ok(custom instanceof Error);
  assert.equal(custom.name, 'MyError');
  assert.equal(custom.message, 'custom failure');
  assert.equal(custom.retryable, true);
  assert.match((custom.cause as Error).stack!, /throwsCustom/);
  assert.match(String(custom), /^MyError: custom failure/);

  // The name may also come from the prototype rather than an own property.
  const protoNamed = (await rejection(
    ex.submit(() => {
      class ProtoError extends Error {}
      ProtoError.prototype.name = 'ProtoError';
      throw new ProtoError('via prototype');
    }),
  )) as Error;
  assert.equal(protoNamed.name, 'ProtoError');
  assert.equal(protoNamed.message, 'via prototype');
});

test('throwing a non-Error value rejects with that value', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  assert.equal(
    await rejection(
      ex.submit(() => {
        throw 'just a string';
      }),
    ),
    'just a string',
  );
  assert.deepEqual(
    await rejection(
      ex.submit(() => {
        throw { reason: 'plain object', items: [1, 2, 3] };
      }),
    ),
    { reason: 'plain object', items: [1, 2, 3] },
  );
  assert.equal(
    await rejection(
      ex.submit(() => {
        throw 404;
      }),
    ),
    404,
  );
  assert.equal(await rejection(ex.submit(() => Promise.reject('async string'))), 'async string');
});

test('a function task that uses an outer variable rejects with ERR_SHMEX_TASK_CLOSURE', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const outerFactor = 3;
  const error = await rejection(
    ex.submit(function scale(x: number) {
      return x * outerFactor;
    }, 2),
  );
  assert.ok(error instanceof TaskClosureError);
  const closure = error as TaskClosureError;
  assert.equal(closure.code, 'ERR_SHMEX_TASK_CLOSURE');
  assert.equal(closure.name, 'TaskClosureError');
  assert.match(closure.message, /'outerFactor'/);
  assert.match(closure.message, /\bscale\b/);
  assert.match(closure.message, /executor\.module/);
  // The worker keeps working afterwards.
  assert.equal(await ex.submit((x: number) => x * 3, 2), 6);
});

test('a task that is not a function throws ERR_SHMEX_INVALID_TASK synchronously', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const bad of [42, 'x => x', null, undefined, { name: 'only a name' }]) {
    assert.throws(
      () => ex.submit(bad as any),
      (error: unknown) => {
        assert.ok(error instanceof InvalidTaskError, `submit(${String(bad)})`);
        assert.equal((error as InvalidTaskError).code, 'ERR_SHMEX_INVALID_TASK');
        return true;
      },
    );
  }
  assert.throws(() => ex.map(42 as any, [1, 2]), { code: 'ERR_SHMEX_INVALID_TASK' });
});

test('native, bound and class "functions" throw ERR_SHMEX_INVALID_TASK synchronously', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  assert.throws(() => ex.submit(Math.sqrt, 4), { name: 'InvalidTaskError', code: 'ERR_SHMEX_INVALID_TASK' });
  assert.throws(() => ex.submit(Math.sqrt, 4), /native or bound/);
  const bound = ((x: number) => x).bind(null);
  assert.throws(() => ex.submit(bound, 1), { code: 'ERR_SHMEX_INVALID_TASK' });
  class NotATask {}
  assert.throws(() => ex.submit(NotATask as any), { code: 'ERR_SHMEX_INVALID_TASK' });
  // The executor is still usable.
  assert.equal(await ex.submit((x: number) => Math.sqrt(x), 9), 3);
});

test('a task name the module lacks rejects with ERR_SHMEX_TASK_NOT_FOUND listing the exports', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const error = await rejection((tasks as any).nope(1));
  assert.ok(error instanceof TaskNotFoundError);
  const notFound = error as TaskNotFoundError;
  assert.equal(notFound.code, 'ERR_SHMEX_TASK_NOT_FOUND');
  assert.match(notFound.message, /'nope'/);
  for (const name of ['addOne', 'identity', 'sleep', 'pid', 'fail', 'brighten']) {
    assert.match(notFound.message, new RegExp(`\\b${name}\\b`));
  }
  // Through submit({ module, name }) as well.
  await assert.rejects(ex.submit({ module: TASKS, name: 'alsoMissing' }), {
    code: 'ERR_SHMEX_TASK_NOT_FOUND',
  });
  assert.equal(await tasks.identity('still fine'), 'still fine');
});

test('arrow, function, async function and method-shorthand tasks all run', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const o = {
    double(x: number) {
      return 2 * x;
    },
    async triple(x: number) {
      return 3 * x;
    },
    'quoted name'(x: number) {
      return x + 0.5;
    },
  };
  const results = await Promise.all([
    ex.submit((x: number) => x + 1, 1),
    ex.submit((x: number) => {
      return x + 2;
    }, 1),
    ex.submit(async (x: number) => x + 3, 1),
    ex.submit(function named(x: number) {
      return x + 4;
    }, 1),
    ex.submit(async function asyncNamed(x: number) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return x + 5;
    }, 1),
    ex.submit(o.double, 2),
    ex.submit(o.triple, 2),
    ex.submit(o['quoted name'], 2),
    ex.submit(() => 'no arguments'),
  ]);
  assert.deepEqual(results, [2, 3, 4, 5, 6, 4, 6, 2.5, 'no arguments']);
});
