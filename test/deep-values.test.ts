// Values nested deeply: V8's serializer, which carries every value, recurses
// and fails a few thousand levels down with a RangeError. shmex sends values
// nested up to MAX_DEPTH (1000) levels, and rejects deeper ones up front with
// a NotTransferableError that names the value, its depth and the limit; a
// payload forged deeper than that is a MalformedPayloadError, not a crash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MalformedPayloadError, NotTransferableError, ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';
import { SegmentBook } from '../dist/shm/segment-book.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { decode } from '../dist/transfer/decode.js';
import { MAX_DEPTH } from '../dist/transfer/encode.js';
import type * as Tasks from './fixtures/deep-tasks.js';
import { forgeDeepPayload, measure, nested, type Shape } from './fixtures/deep-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const tasksUrl = new URL('./fixtures/deep-tasks.js', import.meta.url);
const shapes: Shape[] = ['array', 'object', 'map'];

async function rejection(future: PromiseLike<unknown>): Promise<Error> {
  try {
    await future;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected the Future to reject');
}

function assertTooDeep(error: Error, path: string, depth: number): void {
  assert.ok(error instanceof NotTransferableError, `expected a NotTransferableError, got ${error}`);
  assert.equal(error.code, 'ERR_SHMEX_NOT_TRANSFERABLE');
  assert.equal(error.path, path);
  assert.match(error.message, new RegExp(`nested ${depth} levels deep`));
  assert.match(error.message, new RegExp(`at most ${MAX_DEPTH} levels`));
  assert.match(error.message, /Flatten it/);
}

test('the limit is 1000 levels, below where V8 fails on the default stack', () => {
  assert.equal(MAX_DEPTH, 1000);
});

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  test(`arguments nested 20,000 levels deep are rejected with a clear NotTransferableError (${Executor.name})`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const t = ex.module<typeof Tasks>(tasksUrl);
    for (const shape of shapes) {
      assertTooDeep(await rejection(t.depthHere(nested(20_000, shape))), 'args[0]', 20_000);
    }
    // In the middle of other arguments, and in map(), whose arguments travel in chunks.
    assertTooDeep(
      await rejection(
        ex.submit((_a: number, b: unknown) => b !== undefined, 1, { deep: nested(19_999, 'array') }),
      ),
      'args[1]',
      20_000,
    );
    const mapped = ex.map((v: unknown) => measure(v).depth, [[1], nested(20_000, 'object')], {
      chunksize: 2,
    });
    await assert.rejects(
      async () => {
        for await (const _ of mapped);
      },
      (error: Error) => {
        assert.ok(error instanceof NotTransferableError, String(error));
        assert.match(error.message, /nested 20000 levels deep/);
        return true;
      },
    );
    assert.equal(await t.depthHere([1]), 1, 'the executor goes on');
  });
}

test('a result nested 20,000 levels deep fails its task with a clear NotTransferableError; the worker goes on', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const t = ex.module<typeof Tasks>(tasksUrl);
  const pid = await t.pid();
  for (const shape of shapes) {
    assertTooDeep(await rejection(t.nested(20_000, shape)), 'result', 20_000);
  }
  assert.equal(await t.pid(), pid, 'the worker was replaced');
});

test('values nested exactly 1000 levels deep round-trip, as arguments and as results; 1001 do not', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const t = ex.module<typeof Tasks>(tasksUrl);
  for (const shape of shapes) {
    // A large array at the bottom: the value goes through shmex's payload format and a segment.
    const bottom = new Float64Array(1 << 15).fill(2);
    const value = nested(MAX_DEPTH, shape, bottom);
    assert.equal(await t.depthHere(value), MAX_DEPTH, shape);
    const { depth, bottom: arrived } = measure(await t.echo(value));
    assert.equal(depth, MAX_DEPTH, shape);
    assert.ok(arrived instanceof Float64Array && arrived.length === 1 << 15 && arrived[7] === 2, shape);
    const made = await t.nested(MAX_DEPTH, shape);
    assert.deepEqual(measure(made), { depth: MAX_DEPTH, bottom: 1 }, shape);
    assertTooDeep(await rejection(t.depthHere(nested(MAX_DEPTH + 1, shape))), 'args[0]', MAX_DEPTH + 1);
    assertTooDeep(await rejection(t.nested(MAX_DEPTH + 1, shape)), 'result', MAX_DEPTH + 1);
  }
});

test('a payload forged 100,000 levels deep is a MalformedPayloadError, not a stack overflow', async () => {
  const book = new SegmentBook(new SegmentStore('/dev/shm'));
  const sender = { pid: process.pid, sendControl: () => {} };
  assert.throws(
    () => decode(forgeDeepPayload(100_000), book, sender, []),
    (error: Error) => {
      assert.ok(error instanceof MalformedPayloadError, String(error));
      assert.equal(error.code, 'ERR_SHMEX_MALFORMED_PAYLOAD');
      assert.match(error.message, /nested too deeply to decode/);
      return true;
    },
  );
  // Forged by a worker as its result: that task fails, the executor goes on.
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const t = ex.module<typeof Tasks>(tasksUrl);
  const error = await rejection(t.forgeDeepResult(1, 100_000)); // the executor's first task: id 1
  assert.ok(error instanceof MalformedPayloadError, String(error));
  assert.equal(await t.depthHere([[1]]), 2);
});
