// The same behaviour from ProcessPoolExecutor and ThreadPoolExecutor where
// their semantics match: tasks of every form, map, errors, value semantics,
// zero-copy and shared() arguments, stopping tasks, crashes, initializers,
// maxTasksPerChild, shutdown; and no segment left behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AbortError,
  empty,
  from,
  inSharedMemory,
  ProcessPoolExecutor,
  release,
  shared,
  TaskTimeoutError,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from 'shmex';
import type * as Tasks from './fixtures/tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection, sumOf } from './helpers/values.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/tasks.js', import.meta.url);

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  const kind = Executor.name;

  test(`${kind}: function, module and { module, name } tasks; map in order; errors keep their class`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    assert.equal(await ex.submit((a: number, b: number) => a * b, 6, 7), 42);
    const tasks = ex.module<typeof Tasks>(TASKS);
    assert.deepEqual([...(await tasks.addOne(new Float64Array([1, 2])))], [2, 3]);
    assert.equal(await ex.submit({ module: TASKS.href, name: 'identity' }, 'x'), 'x');
    const out: number[] = [];
    for await (const v of ex.map((a: number) => a * 10, [1, 2, 3, 4, 5], { chunksize: 2 })) out.push(v);
    assert.deepEqual(out, [10, 20, 30, 40, 50]);
    const error = await rejection(
      ex.submit(() => {
        throw new RangeError('out of range');
      }),
    );
    assert.ok(error instanceof RangeError);
    assert.equal((error as Error).message, 'out of range');
  });

  test(`${kind}: value semantics for large and small arrays; results come back whole`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    for (const n of [10, 1 << 17]) {
      const x = Float64Array.from({ length: n }, (_, i) => i);
      const y = (await ex.submit((a: Float64Array) => {
        a[0] = -1;
        return a.map((v) => v * 2);
      }, x)) as Float64Array;
      assert.equal(x[0], 0, 'the caller array is unchanged');
      assert.equal(y[0], -2);
      assert.equal(y[n - 1], (n - 1) * 2);
      assert.equal(y.length, n);
    }
  });

  test(`${kind}: arrays in shared memory go without a copy; shared() lets the task write into them`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const x = from(
      Float64Array,
      Float64Array.from({ length: 1 << 17 }, (_, i) => i % 7),
    );
    assert.ok(inSharedMemory(x));
    assert.equal(await ex.submit((a: Float64Array) => a.reduce((s, v) => s + v, 0), x), sumOf(x));
    await ex.submit((a: Float64Array) => {
      a[5] = 1234;
    }, shared(x));
    assert.equal(x[5], 1234);
    await ex.submit((a: Float64Array) => {
      a[6] = 99;
    }, x);
    assert.equal(x[6], 6 % 7, 'without shared(), the task writes into its own copy');
    assert.equal(release(x), true);
  });

  test(`${kind}: abort and timeout stop a running task; a crash fails only its task`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const spin = () => {
      for (;;) {
        // until stopped
      }
    };
    assert.ok((await rejection(ex.withOptions({ timeout: 150 }).submit(spin))) instanceof TaskTimeoutError);
    const controller = new AbortController();
    const running = ex.withOptions({ signal: controller.signal }).submit(spin);
    setTimeout(() => controller.abort('stop'), 100);
    const aborted = await rejection(running);
    assert.ok(aborted instanceof AbortError);
    assert.equal(aborted.cause, 'stop');
    const others = [1, 2, 3].map((i) => ex.submit((v: number) => v + 1, i));
    const crash = await rejection(ex.submit(() => process.exit(7)));
    assert.ok(crash instanceof WorkerCrashedError);
    assert.equal(crash.exitCode, 7);
    assert.deepEqual(await Promise.all(others), [2, 3, 4]);
    assert.equal(await ex.submit(() => 'alive'), 'alive');
  });

  test(`${kind}: initializer and maxTasksPerChild`, async () => {
    await using ex = new Executor({
      maxWorkers: 1,
      maxTasksPerChild: 2,
      initializer: (tag: string) => {
        (globalThis as Record<string, unknown>).tag = tag;
      },
      initargs: ['ready'],
    });
    // Each task reads the initializer's tag and counts the tasks its worker has run.
    const visit = () => {
      const g = globalThis as { tag?: string; count?: number };
      g.count = (g.count ?? 0) + 1;
      return [g.tag, g.count];
    };
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await ex.submit(visit));
    assert.deepEqual(seen, [
      ['ready', 1],
      ['ready', 2],
      ['ready', 1],
      ['ready', 2],
    ]);
  });

  test(`${kind}: empty() inside a task, and results over the threshold`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const y = (await ex.submit((n: number) => {
      const a = empty(Float64Array, n);
      a.fill(2.5);
      return a;
    }, 1 << 17)) as Float64Array;
    assert.equal(y.length, 1 << 17);
    assert.equal(y[(1 << 17) - 1], 2.5);
    release(y);
  });
}

test('ThreadPoolExecutor: a thread crash names the thread, not a process', async () => {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  const error = (await rejection(ex.submit(() => process.exit(2)))) as WorkerCrashedError;
  assert.match(error.message, /^the worker thread \d+ running this task exited with code 2/);
  assert.equal(typeof error.threadId, 'number');
  const thrown = (await rejection(
    ex.submit(() => {
      throw new TypeError('in a thread');
    }),
  )) as Error;
  assert.match(thrown.stack ?? '', /\n {4}at <worker thread \d+>$/);
  assert.match((thrown.cause as Error).message, /^stack of the error in worker thread \d+$/);
});

test('ThreadPoolExecutor: Buffers stay Buffers both ways; a program run with V8 options still starts its threads', async () => {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
  assert.equal(await ex.submit((b: Buffer) => b.toString(), Buffer.from('hi')), 'hi');
  const back = await ex.submit(() => Buffer.from('yo'));
  assert.ok(Buffer.isBuffer(back));
  assert.equal(back.toString(), 'yo');
  const script = [
    "import { ThreadPoolExecutor } from 'shmex';",
    'const ex = new ThreadPoolExecutor({ maxWorkers: 1 });',
    'console.log(await ex.submit((a) => a + 1, 41));',
    'await ex.shutdown();',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--max-old-space-size=256', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), '42');
});

test('ThreadPoolExecutor: options worker_threads refuse break the executor with the reason, leaving no segment', async () => {
  const ex = new ThreadPoolExecutor({ maxWorkers: 1, execArgv: ['--max-old-space-size=64'] });
  const error = await rejection(ex.submit(() => 1));
  assert.equal((error as { code?: string }).code, 'ERR_SHMEX_BROKEN');
  assert.match((error as Error).message, /could not start a worker/);
  assert.equal(((error as Error).cause as { code?: string }).code, 'ERR_WORKER_INVALID_EXEC_ARGV');
  await ex.shutdown();
});
