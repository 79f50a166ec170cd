// Arrays inside objects, arrays, Maps and Sets; cycles and shared references;
// values that cannot travel, in arguments and in results.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ModuleTasks, NotTransferableError, ProcessPoolExecutor, RecordArray } from 'shmex';
import type * as Fixture from './fixtures/transfer-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const FIXTURE = new URL('./fixtures/transfer-tasks.js', import.meta.url);
const BIG = 300 * 1024;

const identity = (value: unknown): unknown => value;

/** A structure with arrays at every depth, in every kind of container. */
function nested(n: number) {
  const floats = Float64Array.from({ length: n / 8 }, (_, i) => i * 0.25);
  return {
    level1: {
      level2: { level3: [new Float32Array([1, 2.5, -3]), { deep: new BigUint64Array([2n ** 64n - 1n]) }] },
    },
    list: [[[new Int16Array([-1, 2, 300])]], floats],
    map: new Map<unknown, unknown>([
      ['a', new Uint8Array([1, 2])],
      [7, { inner: new Map([['b', new Set([new Float64Array([0.5]), 'x'])]]) }],
      [new Int32Array([9]), 'a typed array as a key'],
    ]),
    set: new Set<unknown>([new Int8Array([-5]), 'text', 42, new Map([[1, new Uint16Array([65535])]])]),
    buffers: { ab: new Uint8Array([4, 5, 6]).buffer, dv: new DataView(new ArrayBuffer(8), 2, 4) },
    plain: [1, 'two', null, undefined, true, 3n, -0, Number.NaN, new Date(86_400_000), /re+/gi, ''],
  };
}

const MODES = [
  { name: 'segments (threshold: 1)', threshold: 1 },
  { name: 'inline (threshold: Infinity)', threshold: Number.POSITIVE_INFINITY },
  { name: 'default threshold', threshold: undefined },
];

for (const mode of MODES) {
  describe(`structures, ${mode.name}`, () => {
    let ex: ProcessPoolExecutor;
    let tasks: ModuleTasks<typeof Fixture>;
    before(() => {
      ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: mode.threshold });
      tasks = ex.module<typeof Fixture>(FIXTURE);
    });
    after(() => ex.shutdown());

    test('arrays inside objects, arrays, Maps and Sets at any depth round-trip', async () => {
      for (const n of [64, BIG]) {
        const value = nested(n);
        const back = await ex.submit(identity, value);
        assert.deepEqual(back, value);
        const b = back as ReturnType<typeof nested>;
        assert.ok(b.list[1] instanceof Float64Array);
        assert.equal((b.list[1] as Float64Array)[n / 8 - 1], (n / 8 - 1) * 0.25);
        assert.ok(b.buffers.ab instanceof ArrayBuffer);
        assert.equal(b.buffers.dv.byteOffset, 2);
        assert.ok(Object.is(b.plain[6], -0));
      }
    });

    test('the worker sees the same structure', async () => {
      const value = nested(64);
      const summary = await ex.submit(
        (v: ReturnType<typeof nested>) => [
          v.level1.level2.level3[0] instanceof Float32Array,
          (v.map.get(7) as { inner: Map<string, Set<unknown>> }).inner.get('b')!.size,
          [...v.map.keys()].some((k) => k instanceof Int32Array && k[0] === 9),
          [...v.set].filter((x) => ArrayBuffer.isView(x)).length,
          v.plain[8] instanceof Date && v.plain[9] instanceof RegExp,
        ],
        value,
      );
      assert.deepEqual(summary, [true, 2, true, 1, true]);
    });

    test('a dict of arrays comes back as a dict of arrays', async () => {
      for (const n of [10, BIG / 8]) {
        const r = await tasks.dictOfArrays(n);
        assert.ok(r.a instanceof Float64Array && r.b instanceof Int32Array);
        assert.equal(r.a.length, n);
        assert.equal(r.b.length, n);
        assert.equal(r.a[n - 1], (n - 1) / 2);
        assert.equal(r.b[n - 1], -(n - 1));
        assert.ok(r.m instanceof Map);
        assert.deepEqual(r.m.get('bytes'), new Uint8Array([1, 2, 3]));
        assert.deepEqual(r.m.get('big'), BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n));
        assert.equal(r.n, n);
      }
    });

    // A SharedArrayBuffer or RecordArray makes the encoder copy the value first: cycles must survive that too.
    for (const extra of ['nothing', 'a SharedArrayBuffer', 'a RecordArray']) {
      test(`cycles and shared references survive (alongside ${extra})`, async () => {
        const shared = new Float64Array(BIG / 8).fill(3);
        const common = { name: 'common', data: shared };
        const obj: Record<string, unknown> = { a: common, b: common, arrays: [shared, shared] };
        obj.self = obj;
        const list: unknown[] = [1, common];
        list.push(list);
        const map = new Map<string, unknown>([['common', common]]);
        map.set('map', map);
        const set = new Set<unknown>([common]);
        set.add(set);
        obj.list = list;
        obj.map = map;
        obj.set = set;
        if (extra === 'a SharedArrayBuffer') obj.extra = [new SharedArrayBuffer(8), common];
        if (extra === 'a RecordArray') obj.extra = [new RecordArray([['x', '<f8']], 2), common];

        const check = (o: Record<string, any>): boolean[] => [
          o.self === o,
          o.a === o.b,
          o.arrays[0] === o.arrays[1] && o.arrays[0] === o.a.data,
          o.list[2] === o.list && o.list[1] === o.a,
          o.map.get('map') === o.map && o.map.get('common') === o.a,
          o.set.has(o.set) && o.set.has(o.a),
          o.extra === undefined || o.extra[1] === o.a,
        ];
        const inWorker = await ex.submit((o: Record<string, any>) => {
          return [
            o.self === o,
            o.a === o.b,
            o.arrays[0] === o.arrays[1] && o.arrays[0] === o.a.data,
            o.list[2] === o.list && o.list[1] === o.a,
            o.map.get('map') === o.map && o.map.get('common') === o.a,
            o.set.has(o.set) && o.set.has(o.a),
            o.extra === undefined || o.extra[1] === o.a,
          ];
        }, obj);
        assert.deepEqual(
          inWorker,
          check(obj).map(() => true),
        );
        const back = (await ex.submit(identity, obj)) as Record<string, any>;
        assert.deepEqual(
          check(back),
          check(obj).map(() => true),
        );
        assert.equal(back.a.data[0], 3);
        assert.notEqual(back.a.data, shared);
      });
    }
  });
}

test("an own '__proto__' key stays a plain property, whether or not the value is copied first", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const facts = (o: Record<string, unknown>) => [
    Object.keys(o),
    Object.getPrototypeOf(o) === Object.prototype,
    JSON.stringify(Object.getOwnPropertyDescriptor(o, '__proto__')?.value),
  ];
  for (const extra of [undefined, new SharedArrayBuffer(4), new RecordArray([['v', '<i4']], 1)]) {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "b": 2}') as Record<string, unknown>;
    if (extra !== undefined) value.extra = extra;
    const expected = facts(value);
    assert.deepEqual(expected[2], '{"polluted":true}');
    assert.deepEqual(facts((await ex.submit(identity, value)) as Record<string, unknown>), expected);
    assert.deepEqual(await ex.submit(facts, value), expected);
  }
});

test('other plain values travel as they are', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const holey: number[] = [1];
  holey[2] = 3;
  const values = [
    undefined,
    null,
    0,
    -0,
    Number.NaN,
    Number.MAX_VALUE,
    2n ** 100n,
    'ünïcødé 🚀',
    new Date(0),
    /a(b)?/m,
    new RangeError('as a value'),
    new String('boxed'),
    Object.create(null) as object,
    holey, // [1, <hole>, 3]
    {},
    [],
  ];
  const back = (await ex.submit((...v: unknown[]) => v, ...values)) as unknown[];
  assert.equal(back.length, values.length);
  assert.deepEqual(back.slice(0, 10), values.slice(0, 10));
  assert.ok(back[10] instanceof RangeError);
  assert.equal((back[10] as Error).message, 'as a value');
  assert.equal(String(back[11]), 'boxed');
  assert.deepEqual({ ...(back[12] as object) }, {});
  assert.equal((back[13] as unknown[]).length, 3);
  assert.equal((back[13] as unknown[])[2], 3);
  assert.deepEqual(back.slice(14), [{}, []]);
});

describe('values that cannot travel, in arguments', () => {
  let ex: ProcessPoolExecutor;
  before(() => {
    ex = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 1 });
  });
  after(() => ex.shutdown());

  class Point {
    x = 1;
  }
  class FloatsPlus extends Float64Array {}
  class MyView extends DataView<ArrayBuffer> {}
  const big = new Float64Array(BIG / 8);

  const CASES: Array<{ what: string; args: unknown[]; path: string; says: RegExp }> = [
    { what: 'a function', args: [() => 1], path: 'args[0]', says: /function/ },
    { what: 'a nested function', args: [big, { a: function named() {} }], path: 'args[1].a', says: /named/ },
    { what: 'a symbol', args: [{ s: Symbol('s') }], path: 'args[0].s', says: /symbol/ },
    { what: 'a function deep in arrays', args: [1, [0, 0, [Math.max]]], path: 'args[1][2][0]', says: /max/ },
    { what: 'a Map value', args: [new Map([['k', () => 0]])], path: 'args[0].get("k")', says: /function/ },
    {
      what: 'a Map key',
      args: [new Map([[Symbol.iterator, 1]])],
      path: 'args[0].keys() entry <symbol>',
      says: /symbol/,
    },
    {
      what: 'a Set member',
      args: [new Set([big, () => 0])],
      path: 'args[0].has(<function>)',
      says: /function/,
    },
    { what: 'an odd key', args: [{ 'my key': [() => 0] }], path: 'args[0]["my key"][0]', says: /function/ },
    { what: 'an unregistered class instance', args: [{ p: new Point() }], path: 'args[0].p', says: /Point/ },
    {
      what: 'a typed array subclass',
      args: [[big, new FloatsPlus(2)]],
      path: 'args[0][1]',
      says: /FloatsPlus/,
    },
    { what: 'a DataView subclass', args: [new MyView(new ArrayBuffer(4))], path: 'args[0]', says: /MyView/ },
    {
      what: 'a view without a prototype',
      args: [Object.setPrototypeOf(new Uint8Array(2), null)],
      path: 'args[0]',
      says: /unknown class/,
    },
    { what: 'a Promise', args: [{ p: Promise.resolve(1) }], path: 'args[0].p', says: /Promise/ },
    { what: 'a WeakMap', args: [[new WeakMap()]], path: 'args[0][0]', says: /WeakMap/ },
  ];

  for (const c of CASES) {
    test(`${c.what}: the Future rejects with ERR_SHMEX_NOT_TRANSFERABLE naming ${c.path}`, async () => {
      let future: PromiseLike<unknown> | undefined;
      assert.doesNotThrow(() => {
        future = ex.submit((...args: unknown[]) => args.length, ...c.args);
      }, 'submit() returns a Future rather than throwing');
      await assert.rejects(Promise.resolve(future), (error: unknown) => {
        assert.ok(error instanceof NotTransferableError);
        assert.equal(error.code, 'ERR_SHMEX_NOT_TRANSFERABLE');
        assert.equal(error.path, c.path);
        assert.ok(error.message.startsWith(`${c.path} cannot be sent`), error.message);
        assert.match(error.message, c.says);
        return true;
      });
    });
  }

  test('module tasks reject the same way, and the executor keeps working', async () => {
    const tasks = ex.module<typeof Fixture>(FIXTURE);
    await assert.rejects(tasks.describe(big, { f: () => 0 }), {
      code: 'ERR_SHMEX_NOT_TRANSFERABLE',
      path: 'args[1].f',
    });
    assert.deepEqual(await tasks.describe('ok'), ['string']);
  });
});

describe('values that cannot travel, in results', () => {
  let ex: ProcessPoolExecutor;
  let tasks: ModuleTasks<typeof Fixture>;
  before(() => {
    ex = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 1 });
    tasks = ex.module<typeof Fixture>(FIXTURE);
  });
  after(() => ex.shutdown());

  const CASES = [
    { what: 'a function', run: () => tasks.returnFunction(), path: 'result', says: /notData/ },
    { what: 'a symbol', run: () => tasks.returnSymbol(), path: 'result', says: /symbol/ },
    {
      what: 'a function beside a big array',
      run: () => tasks.returnNested(BIG / 8),
      path: 'result.list[1].deep',
    },
    {
      what: 'a class instance',
      run: () => tasks.returnClassInstance(),
      path: 'result.x',
      says: /WorkerOnly/,
    },
    { what: 'a typed array subclass', run: () => tasks.returnTypedArraySubclass(), path: 'result[0]' },
  ];

  for (const c of CASES) {
    test(`${c.what}: the Future rejects with ERR_SHMEX_NOT_TRANSFERABLE naming ${c.path}`, async () => {
      await assert.rejects(c.run(), (error: unknown) => {
        assert.ok(error instanceof NotTransferableError, `got ${String(error)}`);
        assert.equal(error.code, 'ERR_SHMEX_NOT_TRANSFERABLE');
        assert.equal(error.path, c.path);
        assert.ok(error.message.startsWith(`${c.path} cannot be sent`), error.message);
        if (c.says) assert.match(error.message, c.says);
        return true;
      });
    });
  }

  test('a function task returning a function rejects too, and the worker goes on', async () => {
    await assert.rejects(
      ex.submit(() => ({ ok: [1, 2], bad: [() => 3] })),
      {
        code: 'ERR_SHMEX_NOT_TRANSFERABLE',
        path: 'result.bad[0]',
      },
    );
    assert.deepEqual(await ex.submit(() => ({ ok: new Int8Array([1]) })), { ok: new Int8Array([1]) });
  });
});
