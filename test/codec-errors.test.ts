// A codec whose decode throws: the Future rejects with CodecError (code
// ERR_SHMEX_CODEC_FAILED, the codec's name in `codec`, what decode threw as
// the cause), whether the worker decoded an argument or the parent a result
// (CPython: test_error_at_task_unpickle,
// test_error_during_result_unpickle_in_result_handler). The executor goes on,
// and the arrays that came in segments are given back. A codec whose encode
// throws gives NotTransferableError, with what encode threw as its cause, and
// so does one whose test throws (with where the value sits).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CodecError,
  NotTransferableError,
  ProcessPoolExecutor,
  RemoteStack,
  ShmexError,
  ThreadPoolExecutor,
} from 'shmex';
import type * as CodecTasks from './fixtures/codec-tasks.js';
import { Box, BoxRefused, Trap } from './fixtures/codec-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

const CODEC_TASKS = new URL('./fixtures/codec-tasks.js', import.meta.url);
const NAME = 'test.refusing-box';
/** Large enough to travel through a shared-memory segment (above the default threshold). */
const LENGTH = 1 << 16;

function assertCodecError(error: unknown, thrownIn: number): CodecError {
  assert.ok(error instanceof CodecError, `not a CodecError: ${String(error)}`);
  assert.ok(error instanceof ShmexError);
  assert.equal(error.name, 'CodecError');
  assert.equal(error.code, 'ERR_SHMEX_CODEC_FAILED');
  assert.equal(error.codec, NAME);
  assert.match(
    error.message,
    new RegExp(`codec '${NAME}' failed to decode a value: decode refused in process ${thrownIn}`),
  );
  return error;
}

for (const [Executor, onWhat] of [
  [ProcessPoolExecutor, ''],
  [ThreadPoolExecutor, ' (threads)'],
] as const) {
  test(`a codec's decode that throws in the worker (an argument) rejects with CodecError${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof CodecTasks>(CODEC_TASKS);
    const worker = await tasks.pid();
    const error = assertCodecError(
      await rejection(tasks.sum(new Box(new Float64Array(LENGTH).fill(1), 'decode'))),
      worker,
    );
    // As every error from a worker: its cause is the worker's stack, whose cause is what decode threw.
    assert.ok(error.cause instanceof RemoteStack);
    const thrown = (error.cause as RemoteStack).cause as Error;
    assert.equal(thrown.name, 'BoxRefused');
    assert.equal(thrown.message, `decode refused in process ${worker}`);
    // The executor goes on, in the same worker.
    assert.equal(await tasks.sum(new Box(new Float64Array(LENGTH).fill(1))), LENGTH);
    assert.equal(await tasks.pid(), worker);
  });

  test(`a codec's decode that throws in the parent (a result) rejects with CodecError${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof CodecTasks>(CODEC_TASKS);
    const worker = await tasks.pid();
    const error = assertCodecError(await rejection(tasks.makeBox(LENGTH, 'decode')), process.pid);
    assert.ok(error.cause instanceof BoxRefused, 'the cause is what decode threw, as it was thrown');
    assert.equal((error.cause as Error).message, `decode refused in process ${process.pid}`);
    const box = await tasks.makeBox(LENGTH, 'none');
    assert.ok(box instanceof Box);
    assert.equal(box.data.length, LENGTH);
    assert.equal(await tasks.pid(), worker);
  });

  test(`a codec's encode that throws rejects with NotTransferableError caused by it${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof CodecTasks>(CODEC_TASKS);
    // In the parent, for an argument.
    const args = await rejection(tasks.sum(new Box(new Float64Array(LENGTH), 'encode')));
    assert.ok(args instanceof NotTransferableError);
    assert.equal(args.path, 'args[0]');
    assert.match(
      args.message,
      new RegExp(`codec '${NAME}' failed to encode it: encode refused in process ${process.pid}`),
    );
    assert.ok(args.cause instanceof BoxRefused);
    // In the worker, for a result.
    const result = await rejection(tasks.makeBox(LENGTH, 'encode'));
    assert.ok(result instanceof NotTransferableError);
    assert.equal(result.path, 'result');
    assert.match(result.message, new RegExp(`codec '${NAME}' failed to encode it`));
    assert.equal(((result.cause as RemoteStack).cause as Error).name, 'BoxRefused');
    assert.equal(await tasks.sum(new Box(new Float64Array(LENGTH).fill(2))), 2 * LENGTH);
  });

  test(`a codec's test that throws rejects with NotTransferableError naming the codec and the path${onWhat}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const tasks = ex.module<typeof CodecTasks>(CODEC_TASKS);
    // In the parent, for an argument deep inside another value.
    const args = await rejection(tasks.sum({ inner: [new Trap(new Float64Array(LENGTH))] } as never));
    assert.ok(args instanceof NotTransferableError, `not a NotTransferableError: ${String(args)}`);
    assert.equal(args.path, 'args[0].inner[0]');
    assert.match(args.message, /the test of codec 'test\.throwing-test' threw: test refused in process \d+/);
    assert.ok(args.cause instanceof BoxRefused);
    // In the worker, for a result.
    const result = await rejection(tasks.makeTrap(LENGTH));
    assert.ok(result instanceof NotTransferableError, `not a NotTransferableError: ${String(result)}`);
    assert.equal(result.path, 'result');
    assert.match(result.message, /the test of codec 'test\.throwing-test' threw/);
    // The executor goes on.
    assert.equal(await tasks.sum(new Box(new Float64Array(LENGTH).fill(1))), LENGTH);
  });
}
