// How 'run' and 'results' messages cross a worker thread's port
// (pool/thread-wire.ts): flat, and back to the messages of protocol.ts, with
// every field; a task's reference whole the first time, then as a number; a
// write that was never posted forgets the numbers it gave. In this process,
// through a real MessageChannel (the structured clone a thread's port makes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { FromWorker, TaskMessage, ToWorker } from '../dist/pool/protocol.js';
import { RunReader, RunWriter, readFromWorker, writeFromWorker } from '../dist/pool/thread-wire.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

function across<T>(value: T): T {
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(value);
    return receiveMessageOnPort(port2)?.message as T;
  } finally {
    port1.close();
  }
}

const sum = { kind: 'module', url: 'file:///tasks.js', name: 'sum' } as const;
const source = { kind: 'source', id: 3, name: 'f', source: '(x) => x' } as const;

function task(id: number, over: Partial<TaskMessage> = {}): TaskMessage {
  const args = { raw: [new Float64Array([id])] };
  return { id, task: sum, args, leases: [], chunk: false, giveBack: undefined, ...over };
}

test('run messages cross flat and come back whole; a reference goes whole once, then as a number', () => {
  const writer = new RunWriter();
  const reader = new RunReader();
  const first: ToWorker = {
    type: 'run',
    tasks: [
      task(1, { giveBack: 'after' }),
      task(2, {
        task: source,
        args: new Uint8Array([1, 2]),
        leases: ['shmex.a'],
        chunk: true,
        giveBack: 'now',
      }),
      task(3),
    ],
  };
  const flat = writer.write(first);
  assert.ok(Array.isArray(flat));
  assert.deepEqual(reader.read(across(flat)), first);
  const second: ToWorker = { type: 'run', tasks: [task(4), task(5, { task: source })] };
  const again = writer.write(second) as unknown[];
  assert.ok(!JSON.stringify(again, (_k, v) => (ArrayBuffer.isView(v) ? 0 : v)).includes('tasks.js'));
  assert.deepEqual(reader.read(across(again)), second);
  const other: ToWorker = { type: 'segments', control: { type: 'free', names: ['shmex.b'] } };
  assert.equal(writer.write(other), other, 'other messages cross as they are');
  assert.deepEqual(reader.read(across(other)), other);
});

test('a write never posted forgets the numbers it gave, so the next one sends the reference whole', () => {
  const writer = new RunWriter();
  const reader = new RunReader();
  writer.write({ type: 'run', tasks: [task(1)] });
  writer.undo();
  const message: ToWorker = { type: 'run', tasks: [task(2)] };
  assert.deepEqual(reader.read(across(writer.write(message))), message);
  assert.throws(
    () => new RunReader().read([0, 9, 7, 0, [], 0, false, undefined]),
    /unknown task reference 7/,
  );
});

test('results cross flat and come back whole: results, errors, leases, bytes', () => {
  const results: FromWorker = {
    type: 'results',
    outcomes: [
      { id: 1, ok: true, result: { raw: 42 }, leases: [] },
      {
        id: 2,
        ok: false,
        error: {
          isError: true,
          name: 'TypeError',
          message: 'bad',
          stack: 'at x',
          props: { code: 1 },
          pid: 9,
        },
      },
      { id: 3, ok: true, result: new Uint8Array([7]), leases: ['shmex.c'] },
      { id: 4, ok: true, result: { raw: undefined }, leases: [] },
    ],
  };
  const flat = writeFromWorker(results);
  assert.ok(Array.isArray(flat));
  assert.deepEqual(readFromWorker(across(flat)), results);
  const ready: FromWorker = { type: 'ready' };
  assert.deepEqual(readFromWorker(across(writeFromWorker(ready))), ready);
});
