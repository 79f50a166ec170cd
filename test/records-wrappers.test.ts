// RecordArrays (structured records) and registered array wrappers travelling
// to and from workers. The transfer-tasks fixture is imported for its types
// only: its wrapper classes are registered in workers, not here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ModuleTasks, ProcessPoolExecutor, RecordArray, registerArrayWrapper, ShmexError } from 'shmex';
import * as Tasks from './fixtures/tasks.js';
import type * as Fixture from './fixtures/transfer-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const FIXTURE = new URL('./fixtures/transfer-tasks.js', import.meta.url);
const TASKS = new URL('./fixtures/tasks.js', import.meta.url);
const identity = (value: unknown): unknown => value;

const PADDED = {
  names: ['x', 'id', 'flag'],
  formats: ['<f8', '<i4', '|b1'],
  offsets: [0, 8, 16],
  itemsize: 24,
};
const BIG_N = 20_000; // 480 000 bytes of records: above the default threshold

/** Records as the fixture's makeRecords() makes them; with `markPadding`, padding bytes hold 0xee. */
function padded(n: number, markPadding = true): RecordArray {
  const r = new RecordArray(PADDED, n);
  for (let i = 0; i < n; i++) r.set(i, { x: i * 1.5, id: -i, flag: i % 2 === 0 });
  const bytes = r.bytes();
  if (markPadding) for (let i = 0; i < n; i++) bytes.fill(0xee, i * 24 + 17, i * 24 + 24);
  return r;
}

function assertSameRecords(actual: unknown, expected: RecordArray): void {
  assert.ok(actual instanceof RecordArray, 'arrives as a RecordArray');
  assert.deepEqual(actual.layout.fields, expected.layout.fields);
  assert.equal(actual.layout.itemsize, expected.layout.itemsize);
  assert.equal(actual.length, expected.length);
  assert.equal(actual.byteOffset, expected.byteOffset);
  assert.ok(Buffer.from(actual.bytes()).equals(Buffer.from(expected.bytes())), 'record bytes differ');
  for (const i of [0, expected.length >> 1, expected.length - 1]) {
    if (i >= 0 && i < expected.length) assert.deepEqual(actual.get(i), expected.get(i));
  }
}

const MODES = [
  { name: 'segments (threshold: 1)', threshold: 1 },
  { name: 'inline (threshold: Infinity)', threshold: Number.POSITIVE_INFINITY },
  { name: 'default threshold', threshold: undefined },
];

for (const mode of MODES) {
  describe(`RecordArray, ${mode.name}`, () => {
    let ex: ProcessPoolExecutor;
    let fx: ModuleTasks<typeof Fixture>;
    before(() => {
      ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: mode.threshold });
      fx = ex.module<typeof Fixture>(FIXTURE);
    });
    after(() => ex.shutdown());

    test('a padded layout round-trips with offsets, itemsize, padding and values', async () => {
      for (const n of [5, BIG_N]) {
        const records = padded(n);
        assertSameRecords(await ex.submit(identity, records), records);
        const seen = await fx.recordInfo(records);
        assert.equal(seen.isRecordArray, true);
        assert.equal(seen.length, n);
        assert.deepEqual(seen.spec, { ...PADDED, formats: ['<f8', '<i4', '|b1'] });
        assert.deepEqual(seen.first, { x: 0, id: 0, flag: true });
        assert.deepEqual(seen.last, { x: (n - 1) * 1.5, id: -(n - 1), flag: (n - 1) % 2 === 0 });
      }
    });

    test('the list form packs fields in order and round-trips', async () => {
      const records = new RecordArray(
        [
          ['x', '<f8'],
          ['id', '<i4'],
        ],
        3,
      );
      records.set(1, { x: Math.PI, id: 2 ** 31 - 1 });
      const back = (await ex.submit(identity, records)) as RecordArray;
      assertSameRecords(back, records);
      assert.deepEqual(
        back.layout.fields.map((f) => [f.name, f.offset]),
        [
          ['x', 0],
          ['id', 8],
        ],
      );
      assert.equal(back.layout.itemsize, 12);
    });

    test('every field type and byte order keeps its values', async () => {
      const layout: Array<[string, string]> = [
        ['a', '>i4'],
        ['b', '<u2'],
        ['c', '>f8'],
        ['d', '<i8'],
        ['e', '>u8'],
        ['f', '|i1'],
        ['g', 'uint8'],
        ['h', '<f4'],
        ['i', '?'],
        ['j', '>i2'],
        ['k', '<u4'],
      ];
      const records = new RecordArray(layout, 2);
      const values = {
        a: -123456,
        b: 65535,
        c: -1.25e-300,
        d: -(2n ** 63n),
        e: 2n ** 64n - 1n,
        f: -128,
        g: 255,
        h: 0.5,
        i: true,
        j: -2,
        k: 4_000_000_000,
      };
      records.set(1, values);
      const back = (await ex.submit(identity, records)) as RecordArray;
      assertSameRecords(back, records);
      assert.deepEqual(back.get(1), values);
      assert.deepEqual(await ex.submit((r: RecordArray) => r.get(1), records), values);
    });

    test("a task that changes records returns them changed and leaves the caller's alone", async () => {
      for (const n of [4, BIG_N]) {
        const records = padded(n);
        const before = Buffer.from(records.bytes());
        const back = await fx.bumpField(records, 'id', 100);
        assert.equal(back.getField(n - 1, 'id'), -(n - 1) + 100);
        assert.equal(back.getField(n - 1, 'x'), (n - 1) * 1.5);
        assert.ok(Buffer.from(records.bytes()).equals(before), "the caller's records changed");
      }
    });

    test('records made in the worker come back with their layout', async () => {
      for (const n of [3, BIG_N]) {
        const made = await fx.makeRecords(n);
        assertSameRecords(made, padded(n, false));
        assert.deepEqual(made.layout.toSpec(), PADDED);
        assert.deepEqual(made.get(n - 1), { x: (n - 1) * 1.5, id: -(n - 1), flag: (n - 1) % 2 === 0 });
      }
    });

    test('records at an offset in a shared buffer, empty records, and one RecordArray twice', async () => {
      const buffer = new ArrayBuffer(8 + 24 * 3 + 16);
      const floats = new Float64Array(buffer);
      const inner = new RecordArray(PADDED, buffer, 8, 3);
      inner.set(2, { x: -2.5, id: 7, flag: true });
      const empty = new RecordArray(PADDED, 0);
      const sab = new RecordArray([['v', '<i4']], new SharedArrayBuffer(8));
      sab.set(1, { v: 42 });
      const back = (await ex.submit(identity, { inner, floats, empty, sab, again: inner })) as {
        inner: RecordArray;
        floats: Float64Array;
        empty: RecordArray;
        sab: RecordArray;
        again: RecordArray;
      };
      assertSameRecords(back.inner, inner);
      assert.equal(back.inner.byteOffset, 8);
      assert.equal(back.inner.buffer, back.floats.buffer, 'the records and the floats share one buffer');
      assert.equal(back.again, back.inner);
      assertSameRecords(back.empty, empty);
      assert.equal(back.empty.length, 0);
      assertSameRecords(back.sab, sab);
      assert.ok(back.sab.buffer instanceof SharedArrayBuffer);
    });
  });
}

describe('array wrappers', () => {
  let ex: ProcessPoolExecutor;
  let tasks: ModuleTasks<typeof Tasks>;
  before(() => {
    ex = new ProcessPoolExecutor({ maxWorkers: 2 });
    tasks = ex.module<typeof Tasks>(TASKS);
  });
  after(() => ex.shutdown());

  test("a registered Tile arrives as a Tile, and the caller's Tile is untouched", async () => {
    for (const n of [12, 120_000]) {
      const data = Float32Array.from({ length: n }, (_, i) => i);
      const tile = new Tasks.Tile(data, 4);
      const back = await tasks.brighten(tile, 1);
      assert.ok(back instanceof Tasks.Tile);
      assert.ok(back.data instanceof Float32Array);
      assert.equal(back.width, 4);
      assert.equal(back.height, n / 4);
      assert.equal(back.data[n - 1], n);
      assert.notEqual(back.data, data);
      assert.equal(tile.data, data, "the caller's Tile still holds the very same array");
      assert.equal(data[n - 1], n - 1, "the caller's array is unchanged");
      assert.deepEqual(Object.keys(tile), ['data', 'width']);
    }
  });

  test('Tiles inside structures, twice, in cycles and sharing arrays with other values', async () => {
    const t1 = new Tasks.Tile(new Float32Array(8).fill(1), 2);
    const t2 = new Tasks.Tile(new Float32Array(100_000).fill(2), 1000);
    (t2 as unknown as { peer: unknown }).peer = t1;
    (t1 as unknown as { self: unknown }).self = t1;
    const value = { tiles: [t1, t2, t1], byName: new Map([['t2', t2]]), data: t2.data };
    const back = (await tasks.identity(value)) as typeof value;
    const [b1, b2, b1again] = back.tiles as [Tasks.Tile, Tasks.Tile, Tasks.Tile];
    assert.ok(b1 instanceof Tasks.Tile && b2 instanceof Tasks.Tile);
    assert.equal(b1again, b1);
    assert.equal(back.byName.get('t2'), b2);
    assert.equal((b2 as unknown as { peer: unknown }).peer, b1);
    assert.equal((b1 as unknown as { self: unknown }).self, b1);
    assert.equal(back.data, b2.data, 'an array held by a Tile and by the root arrives as one object');
    assert.deepEqual(b2.data, t2.data);
    assert.equal(b2.height, 100);
    // The worker sees the same graph.
    const fx = ex.module<typeof Fixture>(FIXTURE);
    assert.deepEqual(await fx.tileGraph(value), [true, true, true, true, 100]);
  });

  test('a wrapper class not registered in the worker: ERR_SHMEX_UNKNOWN_WRAPPER', async () => {
    class Unshared {
      values: Float64Array;
      constructor(values: Float64Array) {
        this.values = values;
      }
    }
    registerArrayWrapper(Unshared, 'values');
    for (const n of [4, 100_000]) {
      await assert.rejects(
        ex.submit(identity, { u: new Unshared(new Float64Array(n)) }),
        (error: unknown) => {
          // Raised in the worker, rebuilt here as the same class.
          assert.ok(error instanceof ShmexError, `not a ShmexError: ${String(error)}`);
          assert.equal(error.code, 'ERR_SHMEX_UNKNOWN_WRAPPER');
          assert.match(error.message, /Unshared/);
          return true;
        },
      );
    }
    assert.equal(await ex.submit((x: number) => x + 1, 1), 2, 'the executor goes on');
  });

  test('a wrapper class registered in the worker only: the result rejects with ERR_SHMEX_UNKNOWN_WRAPPER', async () => {
    const fx = ex.module<typeof Fixture>(FIXTURE);
    for (const side of [2, 300]) {
      await assert.rejects(fx.makeGrid(side), (error: unknown) => {
        assert.ok(error instanceof ShmexError, `not a ShmexError: ${String(error)}`);
        assert.equal(error.code, 'ERR_SHMEX_UNKNOWN_WRAPPER');
        assert.match(error.message, /Grid/);
        return true;
      });
    }
  });

  test('classes are matched by registered name: another class of that name rebuilds the value', async () => {
    class ParentSamples {
      values: Int16Array;
      rate: number;
      constructor(values: Int16Array, rate: number) {
        this.values = values;
        this.rate = rate;
      }
    }
    registerArrayWrapper(ParentSamples, 'values', { name: 'test.samples' });
    const fx = ex.module<typeof Fixture>(FIXTURE);
    const samples = new ParentSamples(Int16Array.of(1, -2, 300), 44_100);
    const r = (await fx.doubleSamples(samples as unknown as Fixture.Samples)) as unknown as {
      arrivedAs: string;
      rate: number;
      back: ParentSamples;
    };
    assert.equal(r.arrivedAs, 'Samples');
    assert.equal(r.rate, 44_100);
    assert.ok(r.back instanceof ParentSamples);
    assert.deepEqual(r.back.values, Int16Array.of(2, -4, 600));
    assert.deepEqual(samples.values, Int16Array.of(1, -2, 300));
  });

  test("a wrapper's own fields are defined, not assigned, on the rebuilt instance", async () => {
    const tile = new Tasks.Tile(new Float32Array(6), 3);
    // An own 'height' shadows the getter-only accessor of Tile.prototype; an own '__proto__' is just a key.
    Object.defineProperty(tile, 'height', {
      value: 99,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    Object.defineProperty(tile, '__proto__', {
      value: { not: 'a prototype' },
      writable: true,
      enumerable: true,
    });
    const back = await tasks.identity(tile);
    assert.ok(back instanceof Tasks.Tile);
    assert.equal(back.height, 99);
    assert.deepEqual(Object.keys(back), ['data', 'width', 'height', '__proto__']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { not: 'a prototype' });
  });

  test('a wrapper without its registered field, or a subclass of a wrapper, cannot travel', async () => {
    const hollow = new Tasks.Tile(new Float32Array(4), 2);
    delete (hollow as Partial<Tasks.Tile>).data;
    await assert.rejects(tasks.identity([hollow]), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'ERR_SHMEX_NOT_TRANSFERABLE');
      assert.equal((error as { path?: string }).path, 'args[0][0]');
      assert.match((error as Error).message, /'data'/);
      return true;
    });
    class SubTile extends Tasks.Tile {}
    await assert.rejects(tasks.identity({ t: new SubTile(new Float32Array(4), 2) }), {
      code: 'ERR_SHMEX_NOT_TRANSFERABLE',
      path: 'args[0].t',
    });
  });
});
