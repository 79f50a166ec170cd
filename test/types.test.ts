// Type tests: the typed module proxy, submit, map and withOptions are checked
// by the compiler (npm test compiles this file; each @ts-expect-error line
// must be an error, or the build fails). The runtime part checks the values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ExecutorStats,
  type Future,
  type MapIterator,
  type ModuleTasks,
  ProcessPoolExecutor,
  type TaskRunner,
} from 'shmex';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_proof?: T): void {}

test('the module proxy keeps each export signature, returning a Future of the awaited result', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks: ModuleTasks<typeof Tasks> = ex.module<typeof Tasks>(TASKS);
  expectType<Equal<ReturnType<typeof tasks.addOne>, Future<Float64Array>>>(true);
  expectType<Equal<Parameters<typeof tasks.addOne>, [x: Float64Array]>>(true);
  // async functions: the Future holds the awaited value, not a Promise.
  expectType<Equal<ReturnType<typeof tasks.sleep>, Future<number>>>(true);
  expectType<Equal<ReturnType<typeof tasks.fail>, Future<never>>>(true);
  // Classes are not tasks: the proxy has no such key.
  expectType<Equal<'Tile' extends keyof typeof tasks ? true : false, false>>(true);

  // @ts-expect-error: a number is not a Float64Array
  const wrongArgument = () => tasks.addOne(1);
  // @ts-expect-error: too many arguments
  const tooMany = () => tasks.pid(1);
  // @ts-expect-error: not an export of the module
  const missing = () => tasks.notThere();
  void [wrongArgument, tooMany, missing];

  const y = await tasks.addOne(new Float64Array([1, 2]));
  assert.deepEqual([...y], [2, 3]);
  assert.equal(await tasks.sleep(1), await tasks.pid(), 'sleep resolves with the worker pid');
});

test('submit and map infer argument and result types from a function task', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const f = ex.submit((a: number, b: string) => `${b}${a}`, 1, 'x');
  expectType<Equal<typeof f, Future<string>>>(true);
  // @ts-expect-error: the second argument must be a string
  const bad = () => ex.submit((a: number, b: string) => `${b}${a}`, 1, 2);
  void bad;
  const asyncTask = ex.submit(async (n: number) => [n], 3);
  expectType<Equal<typeof asyncTask, Future<number[]>>>(true);
  const mapped = ex.map((a: number, b: number) => a * b, [1, 2], [3, 4]);
  expectType<Equal<typeof mapped, MapIterator<number>>>(true);
  expectType<Equal<ReturnType<typeof mapped.toArray>, Promise<number[]>>>(true);
  const out: number[] = [];
  for await (const v of mapped) out.push(v);
  assert.deepEqual(out, [3, 8]);
  assert.equal(await f, 'x1');
  assert.deepEqual(await asyncTask, [3]);
});

test('withOptions returns a TaskRunner with the same typed methods', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const runner: TaskRunner = ex.withOptions({ timeout: 60_000 });
  const tasks = runner.module<typeof Tasks>(TASKS);
  expectType<Equal<ReturnType<typeof tasks.addOne>, Future<Float64Array>>>(true);
  const f = runner.submit((x: number) => x > 0, 1);
  expectType<Equal<typeof f, Future<boolean>>>(true);
  const mapped = runner.map((x: number) => `${x}`, [1, 2]);
  expectType<Equal<typeof mapped, MapIterator<string>>>(true);
  assert.deepEqual(await mapped.toArray(), ['1', '2']);
  // @ts-expect-error: timeout is a number of milliseconds
  const badOptions = () => ex.withOptions({ timeout: '1s' });
  void badOptions;
  assert.equal(await f, true);
  expectType<Equal<ReturnType<typeof ex.stats>, ExecutorStats>>(true);
});
