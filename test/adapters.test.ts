// The Arrow and ndarray adapters (shmex/arrow, shmex/ndarray): values of
// those libraries round-trip through real tasks, their arrays through shared
// memory, read back without a copy.
import 'shmex/arrow';
import 'shmex/ndarray';
import 'shmex/stdlib-ndarray';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import stdlibNdarray from '@stdlib/ndarray-base-ctor';
import { makeTable, RecordBatch, Table, Vector, vectorFromArray } from 'apache-arrow';
import ndarray from 'ndarray';
import {
  InvalidArgumentError,
  inSharedMemory,
  ProcessPoolExecutor,
  RecordArray,
  registerArrayCodec,
  release,
} from 'shmex';
import type * as Tasks from './fixtures/adapter-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/adapter-tasks.js', import.meta.url);
const N = 50_000;

test('an Arrow Table goes to a task and back: the worker reads it in place, the result arrives in shared memory', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const table = makeTable({
    x: Float64Array.from({ length: N }, (_, i) => i / 4),
    id: Int32Array.from({ length: N }, (_, i) => -i),
  });
  const { table: back, zeroCopy } = await tasks.doubleX(table);
  assert.equal(zeroCopy, true, 'the worker read the columns as views into the segment');
  assert.ok(back instanceof Table);
  assert.equal(back.numRows, N);
  assert.deepEqual(
    back.schema.fields.map((f) => `${f.name}:${f.type}`),
    ['x:Float64', 'id:Int32'],
  );
  assert.equal(back.getChild('x')!.get(N - 1), ((N - 1) / 4) * 2);
  assert.equal(back.getChild('id')!.get(N - 1), -(N - 1));
  const values = back.getChild('x')!.data[0]!.values as Float64Array;
  assert.ok(inSharedMemory(values), 'the result columns are views into shared memory too');
  assert.equal(table.getChild('x')!.get(1), 0.25, "the caller's table is unchanged");
});

test('RecordBatch and Vector (numbers and strings) travel both ways', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const table = makeTable({ a: Int16Array.from({ length: 1000 }, (_, i) => i) });
  const batch = table.batches[0]!;
  assert.ok(batch instanceof RecordBatch);
  assert.equal(await tasks.batchRows(batch), 1000);
  assert.equal(await tasks.vectorSum(vectorFromArray(Float32Array.from([1.5, 2.5, 3]))), 7);
  const names = await tasks.names(20_000);
  assert.ok(names instanceof Vector);
  assert.equal(names.length, 20_000);
  assert.equal(names.get(19_999), 'name-19999');
  assert.equal(await tasks.isVector(names), true);
  const empty = makeTable({ x: new Float64Array(0), id: new Int32Array(0) });
  const { table: none } = await tasks.doubleX(empty);
  assert.equal(none.numRows, 0);
});

test('ndarray views keep shape, stride and offset: transposed, sliced and stepped views give the same sums', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const rows = 300;
  const cols = 200;
  const a = ndarray(
    Float64Array.from({ length: rows * cols }, (_, i) => i % 97),
    [rows, cols],
  );
  const localSum = (v: ndarray.NdArray) => {
    let s = 0;
    for (let i = 0; i < v.shape[0]!; i++) for (let j = 0; j < v.shape[1]!; j++) s += v.get(i, j);
    return s;
  };
  for (const [what, view] of [
    ['whole', a],
    ['transposed', a.transpose(1, 0)],
    ['sliced', a.hi(250, 150).lo(10, 20)],
    ['stepped backwards', a.step(-2, 3)],
  ] as const) {
    const got = await tasks.ndSum(view);
    assert.equal(got.sum, localSum(view), what);
    assert.deepEqual(got.shape, view.shape, what);
    assert.deepEqual(got.stride, view.stride, what);
    assert.equal(got.offset, view.offset, what);
  }
  const t = await tasks.ndScaledTranspose(a.hi(3, 4), 10);
  assert.deepEqual(t.shape, [4, 3]);
  assert.equal(t.get(3, 2), a.get(2, 3) * 10);
  assert.equal(a.get(2, 3), (2 * cols + 3) % 97, "the caller's array is unchanged");
  const big = await tasks.ndScaledTranspose(a, 1);
  assert.ok(inSharedMemory(big.data as Float64Array), 'a large result arrives in shared memory');
  release(big.data as Float64Array);
});

test('registerArrayCodec checks its argument; a codec that fails to encode rejects the Future with a path', async () => {
  assert.throws(() => registerArrayCodec({ name: '' } as never), InvalidArgumentError);
  assert.throws(
    () =>
      registerArrayCodec({
        name: 'ndarray',
        test: (v): v is object => v === null,
        encode: () => 0,
        decode: () => ({}),
      }),
    InvalidArgumentError,
  );
  class Broken {
    readonly broken = true;
  }
  registerArrayCodec({
    name: 'test.broken',
    test: (v): v is Broken => v instanceof Broken,
    encode: () => {
      throw new Error('nope');
    },
    decode: () => new Broken(),
  });
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  await assert.rejects(
    ex.submit((v: unknown) => v, { inner: new Broken() }),
    {
      code: 'ERR_SHMEX_NOT_TRANSFERABLE',
      message: /args\[0\]\.inner .*codec 'test\.broken' failed to encode it: nope/,
    },
  );
});

test('codec parts may hold records; a codec whose decode throws fails with CodecError', async () => {
  class Table2 {
    constructor(readonly rows: RecordArray) {}
  }
  registerArrayCodec({
    name: 'test.table2',
    test: (v): v is Table2 => v instanceof Table2,
    encode: (t: Table2) => ({ rows: t.rows }),
    decode: (p: { rows: RecordArray }) => new Table2(p.rows),
  });
  class Fails {}
  registerArrayCodec({
    name: 'test.fails',
    test: (v): v is Fails => v instanceof Fails,
    encode: () => ({ n: 1 }),
    decode: () => {
      throw new Error('cannot rebuild');
    },
  });
  const rows = new RecordArray([['x', '<f8']], 3);
  rows.set(2, { x: 7 });
  // Both sides of the round trip are this process here: the parent encodes and decodes.
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const back = await ex.submit((v: unknown) => v, new Table2(rows)).catch((e: unknown) => e);
  // The worker has no codec 'test.table2' (registered only here): it says so.
  assert.equal((back as { code?: string }).code, 'ERR_SHMEX_UNKNOWN_CODEC');
  const { encode } = await import('../dist/transfer/encode.js');
  const { decode } = await import('../dist/transfer/decode.js');
  const { segmentBook } = await import('../dist/shm/books.js');
  const book = segmentBook('/dev/shm');
  const self = { pid: process.pid, sendControl: () => {} };
  const roundTrip = (value: unknown) => {
    const payload = encode(value, { book, threshold: 1 << 20 }, 'value');
    return decode(payload.data, book, self, payload.leases);
  };
  const t = roundTrip({ t: new Table2(rows) }) as { t: Table2 };
  assert.ok(t.t instanceof Table2);
  assert.ok(t.t.rows instanceof RecordArray);
  assert.equal(t.t.rows.getField(2, 'x'), 7);
  assert.throws(() => roundTrip([new Fails()]), {
    name: 'CodecError',
    code: 'ERR_SHMEX_CODEC_FAILED',
    codec: 'test.fails',
    message: /cannot rebuild/,
  });
});

test('stdlib ndarrays keep dtype, shape, strides, offset and order: row-major, column-major and reversed views', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks = ex.module<typeof Tasks>(TASKS);
  const rows = 200;
  const cols = 100;
  const data = Float64Array.from({ length: rows * cols }, (_, i) => i % 89);
  const make = (shape: number[], strides: number[], offset: number, order: string) =>
    new stdlibNdarray('float64', data, shape, strides, offset, order as 'row-major');
  const local = (a: { shape: number[]; get(i: number, j: number): number }) => {
    let s = 0;
    for (let i = 0; i < a.shape[0]!; i++) for (let j = 0; j < a.shape[1]!; j++) s += a.get(i, j);
    return s;
  };
  for (const [what, view] of [
    ['row-major', make([rows, cols], [cols, 1], 0, 'row-major')],
    ['column-major', make([cols, rows], [1, cols], 0, 'column-major')],
    ['reversed rows, every other column', make([rows, cols / 2], [-cols, 2], (rows - 1) * cols, 'row-major')],
  ] as const) {
    const got = await tasks.stdInfo(view);
    assert.equal(got.sum, local(view as never), what);
    assert.deepEqual(
      [got.dtype, got.shape, got.strides, got.offset, got.order],
      [view.dtype, view.shape, view.strides, view.offset, view.order],
      what,
    );
    assert.equal(got.isStdlib, true);
  }
  const scaled = (await tasks.stdScaled(make([3, 4], [cols, 1], 0, 'row-major'), 10)) as {
    get(i: number, j: number): number;
    shape: number[];
  };
  assert.deepEqual(scaled.shape, [3, 4]);
  assert.equal(scaled.get(2, 3), (data[2 * cols + 3]! as number) * 10);
});
