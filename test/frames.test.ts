// The frames of a worker process's channel (src/pool/frames.ts), in
// process: every message comes out as it went in, however the pipe cuts the
// bytes into chunks, in the hand-written layouts and in V8 bodies alike, read
// into a buffer read into again (FrameInput).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { FrameInput } from '../dist/pool/frame-input.js';
import { encodeFrame, FrameOutput } from '../dist/pool/frames.js';
import type { FromWorker, ToWorker } from '../dist/pool/protocol.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const URL_ = 'file:///tasks.js';
const f64 = Float64Array.from({ length: 1000 }, (_, i) => i / 3);

const messages: (ToWorker | FromWorker)[] = [
  {
    type: 'run',
    tasks: [
      // The layout: a list of primitives and views of each kind it knows.
      {
        id: 1,
        task: { kind: 'module', url: URL_, name: 'sum' },
        args: { raw: [f64, 'héllo ✓', -0, Number.NaN, true, false, null, undefined, Buffer.from('abc')] },
        leases: [],
        chunk: false,
      },
      {
        id: 2,
        task: { kind: 'source', id: 7, name: 'f', source: 'function f(x) { return x }' },
        args: { raw: new DataView(new ArrayBuffer(12)) },
        leases: ['shmex.1.2.aaaaaaaaaaaaaaaaaaaaaaaa'],
        chunk: true,
        giveBack: 'now',
      },
      {
        id: 3,
        task: { kind: 'source', id: 7, name: 'f' },
        args: new Uint8Array([1, 2, 3]),
        leases: [],
        chunk: false,
        giveBack: 'after',
      },
      // V8 bodies: what the layout does not carry.
      {
        id: 4,
        task: { kind: 'module', url: URL_, name: 'g' },
        args: { raw: [10n] },
        leases: [],
        chunk: false,
      },
      {
        id: 5,
        task: { kind: 'module', url: URL_, name: 'g' },
        args: { raw: ['\ud800'] },
        leases: [],
        chunk: false,
      },
    ],
  },
  {
    type: 'results',
    outcomes: [
      { id: 1, ok: true, result: { raw: 249750 }, leases: [] },
      {
        id: 2,
        ok: true,
        result: { raw: new BigInt64Array([1n, -2n]) },
        leases: ['shmex.1.2.bbbbbbbbbbbbbbbbbbbbbbbb'],
      },
      {
        id: 3,
        ok: false,
        error: {
          isError: true,
          name: 'TypeError',
          message: 'no',
          stack: 'TypeError: no',
          props: { n: 1 },
          pid: 1,
        },
      },
    ],
  },
  { type: 'segments', control: { type: 'free', names: ['shmex.1.2.cccccccccccccccccccccccc'] } },
  { type: 'ready' },
  { type: 'exit' },
];

/** The frames of `list`, cut into reads of `size` bytes, read back (see readInPlace). */
function roundTrip(list: readonly (ToWorker | FromWorker)[], size: number): unknown[] {
  return readInPlace(list, size);
}

test('every message comes out as it went in, whole frames in one chunk', () => {
  assert.deepEqual(roundTrip(messages, 1 << 20), messages);
});

test('frames cut at every byte, and in chunks of every small size, are put back together', () => {
  for (const size of [1, 2, 3, 5, 7, 8, 13, 64, 4095]) {
    assert.deepEqual(roundTrip(messages, size), messages, `chunks of ${size} bytes`);
  }
});

test('one view twice in an argument list arrives as one object', () => {
  const view = new Float32Array([1, 2]);
  const [run] = roundTrip(
    [
      {
        type: 'run',
        tasks: [
          {
            id: 1,
            task: { kind: 'module', url: URL_, name: 'f' },
            args: { raw: [view, view] },
            leases: [],
            chunk: false,
          },
        ],
      },
    ],
    3,
  ) as [ToWorker & { type: 'run' }];
  const raw = (run.tasks[0]!.args as { raw: Float32Array[] }).raw;
  assert.deepEqual(raw[0], view);
  assert.equal(raw[0], raw[1]);
});

test('in a long list too, one view twice arrives as one object', () => {
  const views = Array.from({ length: 20 }, (_, i) => new Int32Array([i]));
  const raw = [...views, views[3]!];
  const task = {
    id: 1,
    task: { kind: 'module', url: URL_, name: 'f' },
    args: { raw },
    leases: [],
    chunk: false,
  };
  const [run] = roundTrip([{ type: 'run', tasks: [task] } as ToWorker], 7) as [ToWorker & { type: 'run' }];
  const got = (run.tasks[0]!.args as { raw: Int32Array[] }).raw;
  assert.deepEqual(got, raw);
  assert.equal(got[20], got[3]);
});

test('views read from a chunk are aligned for their kind, with or without a copy', () => {
  for (const size of [1, 9, 1 << 16]) {
    const [run] = roundTrip([messages[0]!], size) as [ToWorker & { type: 'run' }];
    const first = (run.tasks[0]!.args as { raw: unknown[] }).raw[0] as Float64Array;
    assert.ok(first instanceof Float64Array);
    assert.equal(first.byteOffset % 8, 0);
    assert.deepEqual(first, f64);
  }
});

test('a frame is a multiple of 8 bytes, its length and format in front', () => {
  for (const m of messages) {
    const { frame } = encodeFrame(m);
    assert.equal(frame.length % 8, 0);
    assert.equal(frame.readUInt32LE(0), frame.length - 8);
  }
});

test('FrameOutput writes one frame per message, reusing memory only once a frame is written', () => {
  const written: Buffer[] = [];
  let pending = 0;
  // A stand-in for a socket: the first write is queued (not yet written), the next ones are taken at once.
  const socket = {
    writable: true,
    get writableLength() {
      return pending;
    },
    write(frame: Buffer, done?: () => void) {
      written.push(frame);
      pending = written.length === 1 ? frame.length : 0;
      done?.();
      return true;
    },
  };
  const out = new FrameOutput(socket as never);
  const copies: Buffer[] = [];
  for (const m of messages) {
    out.write(m);
    copies.push(Buffer.from(written.at(-1)!));
  }
  // Every frame still holds its own bytes: the queued one was not reused, the others were taken whole.
  assert.deepEqual(Buffer.from(written[0]!), copies[0]);
  const got: unknown[] = [];
  feed(new FrameInput((m) => got.push(m)), Buffer.concat(copies));
  assert.deepEqual(got, messages);
});

/**
 * `bytes` read by `input` as the socket's onread would drive it: each read
 * fills at most `size` bytes of the room it offers.
 */
function feed(input: FrameInput, bytes: Buffer, size = 1 << 20): void {
  const { buffer, callback } = input.onread;
  let at = 0;
  while (at < bytes.length) {
    const room = (buffer as () => Uint8Array)();
    const n = Math.min(size, room.length, bytes.length - at);
    room.set(bytes.subarray(at, at + n));
    at += n;
    callback(n, room);
  }
}

/** The frames of `list` read by a FrameInput, in reads of at most `size` bytes. */
function readInPlace(list: readonly (ToWorker | FromWorker)[], size: number): unknown[] {
  const got: unknown[] = [];
  feed(new FrameInput((m) => got.push(m)), Buffer.concat(list.map((m) => encodeFrame(m).frame)), size);
  return got;
}

test('FrameInput: every message comes out as it went in, however the reads cut the frames', () => {
  for (const size of [1, 7, 8, 4095, 1 << 16, 1 << 20]) {
    assert.deepEqual(readInPlace(messages, size), messages, `reads of ${size} bytes`);
  }
});

test('FrameInput.push (a socket whose handle cannot be moved): chunks of every size come out as the messages', () => {
  const bytes = Buffer.concat(messages.map((m) => encodeFrame(m).frame));
  for (const size of [1, 7, 4095, 1 << 20]) {
    const got: unknown[] = [];
    const input = new FrameInput((m) => got.push(m));
    for (let at = 0; at < bytes.length; at += size) input.push(bytes.subarray(at, at + size));
    assert.deepEqual(got, messages, `chunks of ${size} bytes`);
  }
});

test('FrameInput: a buffer grown for a large frame goes back to its first size once that frame is read', () => {
  const input = new FrameInput(() => {});
  const first = input.capacity;
  const large = { type: 'segments', control: { kind: 'x'.repeat(8 << 20) } } as unknown as FromWorker;
  feed(input, encodeFrame(large).frame, 1 << 16);
  assert.equal(input.capacity, first, 'not kept at 8 MiB once the frame was read');
  feed(input, Buffer.concat(messages.map((m) => encodeFrame(m).frame)));
  assert.equal(input.capacity, first);
});

test('FrameInput: views own their buffers, and reads into its buffer later do not reach them', () => {
  // 40 frames of 100 kB: more than its first buffer, read into again and grown.
  const list: ToWorker[] = Array.from({ length: 40 }, (_, k) => ({
    type: 'run',
    tasks: [
      {
        id: k,
        task: { kind: 'module', url: URL_, name: 'f' },
        args: { raw: [new Float64Array(12_500).fill(k), new Uint8Array(3).fill(k)] },
        leases: [],
        chunk: false,
      },
    ],
  }));
  const got = readInPlace(list, 50_000) as (ToWorker & { type: 'run' })[];
  assert.equal(got.length, 40);
  got.forEach((run, k) => {
    const [x, y] = (run.tasks[0]!.args as { raw: [Float64Array, Uint8Array] }).raw;
    assert.equal(x.byteOffset, 0);
    assert.equal(x.buffer.byteLength, x.byteLength);
    assert.equal(y.buffer.byteLength, 3);
    assert.ok(x.every((v) => v === k) && y.every((v) => v === k), `task ${k} kept its own bytes`);
  });
});

test('a numbered module task goes with its URL once per channel, then as its id alone', () => {
  const ref = { kind: 'module', url: URL_, name: 'sum', id: 3 } as const;
  const other = { kind: 'module', url: URL_, name: 'other', id: 4 } as const;
  const run = (task: typeof ref | typeof other, id: number): ToWorker => ({
    type: 'run',
    tasks: [{ id, task, args: { raw: id }, leases: [], chunk: false }],
  });
  const sent = new Set<number>();
  const frames = [run(ref, 1), run(ref, 2), run(other, 3), run(ref, 4)].map(
    (m) => encodeFrame(m, undefined, sent).frame,
  );
  assert.ok(frames[1]!.length < frames[0]!.length, 'the second frame carries no URL');
  const got: (ToWorker & { type: 'run' })[] = [];
  const reader = new FrameInput((m) => got.push(m as ToWorker & { type: 'run' }));
  for (const f of frames) feed(reader, f);
  const tasks = got.map((m) => m.tasks[0]!);
  assert.deepEqual(
    tasks.map((t) => [t.id, t.task]),
    [
      [1, ref],
      [2, ref],
      [3, other],
      [4, ref],
    ],
  );
  // One ref object per id on the reading side.
  assert.equal(tasks[0]!.task, tasks[3]!.task);
  // A reader that never read the frame naming the id refuses the id alone.
  const alone = new FrameInput((m) => got.push(m as ToWorker & { type: 'run' }));
  assert.throws(() => feed(alone, frames[1]!), /never named/);
});

test('FrameOutput on a real pipe: views written from where they lie arrive as they were when write() returned, also when the pipe is full', async () => {
  // A child that reads nothing until told to: the pipe fills, a frame goes in part, and the
  // socket queues the rest. The views each frame was written from are overwritten right after.
  const child = spawn(
    process.execPath,
    ['-e', "process.once('message', () => { process.stdin.pipe(process.stdout); process.disconnect(); })"],
    { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] },
  );
  // child_process makes a Socket of the pipe, as for a worker's channel.
  const out = new FrameOutput(child.stdin as unknown as Socket);
  const expected: ToWorker[] = [];
  const sent = (k: number, n: number): ToWorker & { type: 'run' } => ({
    type: 'run',
    tasks: Array.from({ length: n }, (_, i) => ({
      id: k * 100 + i,
      task: { kind: 'source', id: 1, name: 'f' },
      args: { raw: [new Float64Array(1000 + i).fill(k + i / 8), k, new Uint8Array(2049).fill(i)] },
      leases: [],
      chunk: false,
    })),
  });
  for (let k = 0; child.stdin!.writableLength === 0; k++) {
    assert.ok(k < 2000, 'the pipe never filled');
    const message = sent(k, 1 + (k % 16));
    expected.push(sent(k, 1 + (k % 16)));
    out.write(message);
    for (const task of message.tasks) {
      for (const v of (task.args as { raw: unknown[] }).raw)
        if (ArrayBuffer.isView(v)) (v as Uint8Array).fill(7);
    }
  }
  const got: unknown[] = [];
  const input = new FrameInput((m) => got.push(m));
  child.stdout!.on('data', (chunk: Buffer) => input.push(chunk));
  const closed = new Promise((resolve) => child.stdout!.once('end', resolve));
  child.send('go');
  child.stdin!.end();
  await closed;
  assert.equal(got.length, expected.length);
  assert.deepEqual(got, expected);
});
