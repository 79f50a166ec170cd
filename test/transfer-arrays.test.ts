// Typed arrays, DataViews, ArrayBuffers, SharedArrayBuffers and Node Buffers
// travelling to and from workers, through segments and inline.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ModuleTasks, ProcessPoolExecutor, type TypedArray, type TypedArrayConstructor } from 'shmex';
import type * as Fixture from './fixtures/transfer-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const FIXTURE = new URL('./fixtures/transfer-tasks.js', import.meta.url);
const BIG = 300 * 1024; // above the default threshold (64 KiB)

const KINDS: TypedArrayConstructor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

/** `bytes` bytes worth of `Ctor`, with extreme and awkward values first, then a pattern. */
function sample(Ctor: TypedArrayConstructor, bytes: number): TypedArray {
  const n = Math.ceil(bytes / Ctor.BYTES_PER_ELEMENT);
  if (Ctor === BigInt64Array || Ctor === BigUint64Array) {
    const a = new Ctor(n);
    const special =
      Ctor === BigInt64Array ? [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n] : [2n ** 64n - 1n, 0n, 1n];
    for (let i = 0; i < n; i++) a[i] = special[i] ?? BigInt(i * 7919);
    return a;
  }
  const a = new (Ctor as Float64ArrayConstructor)(n);
  const special =
    Ctor === Float32Array || Ctor === Float64Array
      ? [Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-300, -3.5]
      : [-1, 255, 1e9, -2e9];
  for (let i = 0; i < n; i++) a[i] = special[i] ?? (i * 31) % 251;
  return a as unknown as TypedArray;
}

/** Same type, offset, length and every element (Object.is: NaN equals NaN, -0 differs from 0). */
function assertSameArray(actual: unknown, expected: ArrayBufferView): void {
  assert.ok(ArrayBuffer.isView(actual), `expected a view, got ${Object.prototype.toString.call(actual)}`);
  assert.equal(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected));
  // byteOffset is relative to the bytes that travel: the covering range of the views sent (view-ranges.test.ts).
  assert.equal(actual.byteLength, expected.byteLength, 'byteLength');
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.ok(Buffer.from(a).equals(Buffer.from(e)), 'bytes differ');
  if (!(actual instanceof DataView)) {
    const av = actual as unknown as ArrayLike<unknown>;
    const ev = expected as unknown as ArrayLike<unknown>;
    for (let i = 0; i < ev.length; i++) {
      if (!Object.is(av[i], ev[i])) assert.fail(`element ${i}: ${String(av[i])} !== ${String(ev[i])}`);
    }
  }
}

const identity = (value: unknown): unknown => value;

const MODES = [
  { name: 'through segments (threshold: 1)', threshold: 1, sizes: [64] },
  { name: 'inline (threshold: Infinity)', threshold: Number.POSITIVE_INFINITY, sizes: [64, BIG] },
  { name: 'default threshold, small and big', threshold: undefined, sizes: [64, BIG] },
];

for (const mode of MODES) {
  describe(mode.name, () => {
    let ex: ProcessPoolExecutor;
    let tasks: ModuleTasks<typeof Fixture>;
    before(() => {
      ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: mode.threshold });
      tasks = ex.module<typeof Fixture>(FIXTURE);
    });
    after(() => ex.shutdown());

    for (const bytes of mode.sizes) {
      test(`every TypedArray kind round-trips element for element (${bytes} bytes)`, async () => {
        const inputs = KINDS.map((Ctor) => sample(Ctor, bytes));
        const back = (await ex.submit(identity, inputs)) as unknown[];
        assert.equal(back.length, KINDS.length);
        for (const [i, input] of inputs.entries()) assertSameArray(back[i], input);
        const seen = await tasks.describe(...inputs);
        assert.deepEqual(
          seen.map((s) => (typeof s === 'string' ? s : s.type)),
          KINDS.map((k) => k.name),
        );
      });

      test(`DataView, ArrayBuffer, SharedArrayBuffer and Buffer round-trip (${bytes} bytes)`, async () => {
        const source = sample(Uint8Array, bytes) as Uint8Array;
        const ab = source.slice().buffer;
        const sab = new SharedArrayBuffer(bytes);
        new Uint8Array(sab).set(source);
        const dv = new DataView(source.slice().buffer);
        const buf = Buffer.alloc(bytes, 0xab);
        const [ab2, sab2, dv2, buf2] = (await ex.submit(identity, [ab, sab, dv, buf])) as [
          ArrayBuffer,
          SharedArrayBuffer,
          DataView,
          Buffer,
        ];
        assert.ok(ab2 instanceof ArrayBuffer && !(ab2 instanceof SharedArrayBuffer));
        assert.deepEqual(new Uint8Array(ab2), source);
        assert.ok(sab2 instanceof SharedArrayBuffer, 'a SharedArrayBuffer arrives as one');
        assert.notEqual(sab2, sab);
        assert.deepEqual(new Uint8Array(sab2), source);
        assertSameArray(dv2, dv);
        assert.ok(Buffer.isBuffer(buf2));
        assertSameArray(buf2, buf);
        assert.deepEqual(await tasks.describe(ab, sab), ['ArrayBuffer', 'SharedArrayBuffer']);
      });

      test(`a view keeps its type and byteLength; only its bytes travel (${bytes} bytes)`, async () => {
        const whole = sample(Float64Array, bytes + 64) as Float64Array;
        const view = new Float64Array(whole.buffer, 24, 3);
        const back = (await ex.submit(identity, view)) as Float64Array;
        assertSameArray(back, view);
        assert.equal(back.byteOffset, 0);
        assert.equal(back.buffer.byteLength, 24, 'its buffer holds the view alone');
        const [seen] = await tasks.describe(view);
        assert.deepEqual(seen, {
          type: 'Float64Array',
          byteOffset: 0,
          byteLength: 24,
          bufferByteLength: 24,
          shared: false,
        });
      });

      test(`two views of one buffer arrive sharing one buffer (${bytes} bytes)`, async () => {
        const buffer = new ArrayBuffer(bytes + 16);
        const bytesView = new Uint8Array(buffer);
        const floats = new Float32Array(buffer, 8, 2);
        assert.equal(await tasks.sameBuffer(bytesView, floats), true);
        const back = (await ex.submit(identity, { bytesView, floats, again: floats })) as {
          bytesView: Uint8Array;
          floats: Float32Array;
          again: Float32Array;
        };
        assert.equal(back.bytesView.buffer, back.floats.buffer);
        assert.equal(back.again, back.floats, 'one view twice arrives as one object');
        back.floats[0] = 1;
        assert.deepEqual([...back.bytesView.subarray(8, 12)], [...new Uint8Array(Float32Array.of(1).buffer)]);
        // Views of one SharedArrayBuffer share one SharedArrayBuffer copy.
        const sab = new SharedArrayBuffer(bytes);
        const s = (await ex.submit(identity, [sab, new Int32Array(sab), new Uint8Array(sab, 4)])) as [
          SharedArrayBuffer,
          Int32Array,
          Uint8Array,
        ];
        assert.ok(s[0] instanceof SharedArrayBuffer);
        assert.equal(s[1].buffer, s[0]);
        assert.equal(s[2].buffer, s[0]);
        assert.equal(s[2].byteOffset, 4);
      });

      test(`a task that writes into its argument leaves the caller's array alone (${bytes} bytes)`, async () => {
        const x = sample(Int32Array, bytes) as Int32Array;
        const copy = x.slice();
        const sab = new SharedArrayBuffer(bytes);
        const back = (await tasks.scribble(x, 9)) as Int32Array;
        assert.ok(back.every((v) => v === 0x09090909));
        assert.notEqual(back, x);
        assertSameArray(x, copy);
        const sabView = new Uint8Array(sab);
        const sabBack = (await tasks.scribble(sabView, 3)) as Uint8Array;
        assert.ok(sabBack.every((v) => v === 3));
        assert.ok(
          sabView.every((v) => v === 0),
          "the caller's SharedArrayBuffer is not shared with the task",
        );
      });
    }

    test('empty arrays of every kind, empty buffers and zero-length views', async () => {
      const empties: unknown[] = [
        ...KINDS.map((Ctor) => new Ctor(0)),
        new DataView(new ArrayBuffer(0)),
        new ArrayBuffer(0),
        new SharedArrayBuffer(0),
        Buffer.alloc(0),
        new Float64Array(new ArrayBuffer(64), 16, 0),
      ];
      const back = (await ex.submit(identity, empties)) as unknown[];
      KINDS.forEach((Ctor, i) => {
        assert.ok(back[i] instanceof Ctor);
        assert.equal((back[i] as TypedArray).length, 0);
      });
      assertSameArray(back[KINDS.length], empties[KINDS.length] as DataView);
      assert.ok(back[KINDS.length + 1] instanceof ArrayBuffer);
      assert.equal((back[KINDS.length + 1] as ArrayBuffer).byteLength, 0);
      assert.ok(back[KINDS.length + 2] instanceof SharedArrayBuffer);
      assert.equal((back[KINDS.length + 2] as SharedArrayBuffer).byteLength, 0);
      assert.ok(Buffer.isBuffer(back[KINDS.length + 3]));
      assert.equal((back[KINDS.length + 3] as Buffer).length, 0);
      const zero = back[KINDS.length + 4] as Float64Array;
      assertSameArray(zero, empties[KINDS.length + 4] as Float64Array);
      assert.equal(zero.buffer.byteLength, 0, 'a zero-length view covers no bytes');
    });

    test('DataViews at odd offsets and lengths', async () => {
      const buffer = new ArrayBuffer(37);
      new Uint8Array(buffer).forEach((_, i, a) => {
        a[i] = i * 3;
      });
      const views = [new DataView(buffer, 3, 5), new DataView(buffer, 1), new DataView(buffer, 36, 1)];
      views[0]!.setFloat32(1, 1.5, true); // unaligned inside the view
      const back = (await ex.submit(identity, views)) as DataView[];
      for (const [i, v] of views.entries()) assertSameArray(back[i], v);
      assert.equal(back[0]!.getFloat32(1, true), 1.5);
      assert.equal(back[0]!.buffer, back[2]!.buffer);
      // A task that reads through an odd view sees the same bytes.
      const read = await ex.submit((dv: DataView) => [dv.getUint8(0), dv.getFloat32(1, true)], views[0]!);
      assert.deepEqual(read, [views[0]!.getUint8(0), 1.5]);
    });

    test('results created in the worker come back as the same types', async () => {
      const names = KINDS.map((k) => k.name);
      const made = (await ex.submit(
        (kinds: string[], n: number) => {
          const g = globalThis as unknown as Record<string, new (n: number) => ArrayBufferView>;
          const out: unknown[] = kinds.map((name) => new g[name]!(n));
          out.push(new DataView(new ArrayBuffer(n), 1), Buffer.alloc(n, 1), new SharedArrayBuffer(n));
          return out;
        },
        names,
        2048,
      )) as unknown[];
      KINDS.forEach((Ctor, i) => {
        assert.ok(made[i] instanceof Ctor, `${Ctor.name}`);
        assert.equal((made[i] as TypedArray).length, 2048);
      });
      assert.ok(made[KINDS.length] instanceof DataView);
      assert.equal((made[KINDS.length] as DataView).byteOffset, 1);
      assert.ok(Buffer.isBuffer(made[KINDS.length + 1]));
      assert.ok(made[KINDS.length + 2] instanceof SharedArrayBuffer);
    });
  });
}

describe('Node Buffers and the threshold', () => {
  test('a small pooled Buffer below the threshold travels as its own bytes, at byteOffset 0', async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const tasks = ex.module<typeof Fixture>(FIXTURE);
    const small = Buffer.from('hello');
    assert.ok(small.buffer.byteLength > small.length, 'precondition: a pooled Buffer');
    const [seen] = await tasks.describe(small);
    assert.deepEqual(seen, {
      type: 'Buffer',
      byteOffset: 0,
      byteLength: 5,
      bufferByteLength: 5,
      shared: false,
    });
    const [back, again, other] = (await ex.submit(identity, [
      small,
      small,
      Buffer.from('world'),
    ])) as Buffer[];
    assert.ok(Buffer.isBuffer(back));
    assert.equal(back.toString(), 'hello');
    assert.equal(back.byteOffset, 0);
    assert.equal(back.buffer.byteLength, 5);
    assert.equal(again, back, 'one Buffer twice arrives as one object');
    assert.equal(other!.toString(), 'world');
    assert.notEqual(other!.buffer, back.buffer);
  });

  test('a Buffer at or above the threshold arrives with its bytes, its buffer their covering range', async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const big = Buffer.alloc(BIG + 1000, 5).subarray(100, BIG + 100);
    big[0] = 42;
    const back = (await ex.submit(identity, big)) as Buffer;
    assertSameArray(back, big);
    // From byte 96 (100 aligned down to 8) to the Buffer's end.
    assert.equal(back.byteOffset, 4);
    assert.equal(back.buffer.byteLength, BIG + 4);
  });

  test('a Buffer over a buffer shared with a big typed array arrives sharing it', async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const floats = new Float64Array(BIG / 8);
    const bytes = Buffer.from(floats.buffer, 8, 8);
    const back = (await ex.submit(identity, [floats, bytes])) as [Float64Array, Buffer];
    assert.equal(back[1].buffer, back[0].buffer);
    back[0][1] = 2;
    assert.deepEqual([...back[1]], [...new Uint8Array(Float64Array.of(2).buffer)]);
  });

  test('buffers of at least `threshold` bytes need shared memory, smaller ones do not', async () => {
    // A shared-memory directory that does not exist: only the inline path can work.
    await using ex = new ProcessPoolExecutor({
      maxWorkers: 1,
      threshold: 1024,
      shmDir: '/nonexistent/shmex',
    });
    const ok = (await ex.submit(identity, new Uint8Array(1023).fill(1))) as Uint8Array;
    assert.equal(ok.length, 1023);
    // What counts is the bytes that travel: a small view of a big buffer goes inline.
    const small = (await ex.submit(identity, new Uint8Array(new ArrayBuffer(4096), 0, 1))) as Uint8Array;
    assert.equal(small.buffer.byteLength, 1);
    for (const value of [
      new Uint8Array(1024),
      new Uint8Array(new ArrayBuffer(4096), 0, 1024),
      new ArrayBuffer(2048),
    ]) {
      const future = ex.submit(identity, value);
      await assert.rejects(future, { code: 'ERR_SHMEX_SHARED_MEMORY' });
    }
    // The same holds for results, made in the worker.
    await assert.rejects(
      ex.submit((n: number) => new Uint8Array(n), 1024),
      { code: 'ERR_SHMEX_SHARED_MEMORY' },
    );
    assert.equal(((await ex.submit((n: number) => new Uint8Array(n), 1023)) as Uint8Array).length, 1023);
  });

  test('threshold: Infinity never needs shared memory, in either direction; threshold: 0 sends empty buffers inline', async () => {
    const shmDir = '/nonexistent/shmex';
    {
      await using ex = new ProcessPoolExecutor({
        maxWorkers: 1,
        threshold: Number.POSITIVE_INFINITY,
        shmDir,
      });
      const back = (await ex.submit(
        (a: Float64Array) => a.map((v) => v + 1),
        new Float64Array(BIG),
      )) as Float64Array;
      assert.equal(back.length, BIG);
      assert.equal(back[BIG - 1], 1);
    }
    {
      await using ex = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 0, shmDir });
      assert.equal(((await ex.submit(identity, new Float32Array(0))) as Float32Array).length, 0);
      assert.equal(((await ex.submit(identity, new ArrayBuffer(0))) as ArrayBuffer).byteLength, 0);
      await assert.rejects(ex.submit(identity, new Uint8Array(1)), { code: 'ERR_SHMEX_SHARED_MEMORY' });
    }
  });
});

test('arguments are copied at submit time: changes made afterwards do not reach the task', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const length of [16, BIG]) {
    const x = new Float64Array(length).fill(1);
    const future = ex.submit((a: Float64Array) => [a[0], a[a.length - 1]], x);
    x.fill(2);
    assert.deepEqual(await future, [1, 1]);
  }
});

test('a list of views and primitives through segments: every primitive kind, views of one buffer aliased, one view twice one object', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const big = new Float64Array(BIG).map((_, i) => i);
  const primitives = ['text', 7n, undefined, null, true, -0, Number.NaN, 2 ** 53 + 2];
  const head = big.subarray(0, 100);
  const tail = big.subarray(BIG - 100);
  const echo = (...items: unknown[]) => items;
  // Read back in the worker: the two subarrays share one buffer there.
  const shared = (a: Float64Array, b: Float64Array) => [
    a.buffer === b.buffer,
    b[b.length - 1],
    a.length,
    b.length,
  ];
  const back = (await ex.submit(echo, head, ...primitives, tail)) as unknown[];
  assert.equal(back.length, primitives.length + 2);
  assert.deepEqual(back.slice(1, -1), primitives);
  assert.ok(Object.is(back[6], -0));
  assert.deepEqual(Array.from(back[0] as Float64Array).slice(0, 3), [0, 1, 2]);
  assert.equal((back[back.length - 1] as Float64Array)[99], BIG - 1);
  assert.equal((back[0] as Float64Array).buffer, (back[back.length - 1] as Float64Array).buffer);
  assert.deepEqual(await ex.submit(shared, head, tail), [true, BIG - 1, 100, 100]);
  assert.equal(big[0], 0, 'the caller keeps its values');
  const [once, twice] = (await ex.submit(echo, big, big)) as Float64Array[];
  assert.equal(once, twice, 'one view twice arrives as one object');
  assert.equal(once![BIG - 1], BIG - 1);
  // A hole and a named property (their count matches the list's length): both kept.
  const list: unknown[] & { tag?: string } = [head, undefined, tail];
  delete list[1];
  list.tag = 'kept';
  const same = (v: unknown) => v;
  const kept = (await ex.submit(same, list)) as unknown[] & { tag?: string };
  assert.equal(kept.length, 3);
  assert.ok(!(1 in kept), 'the hole stays a hole');
  assert.equal(kept.tag, 'kept');
  assert.equal((kept[2] as Float64Array)[99], BIG - 1);
});
