// The encoder keeps what it meets of a small value in fields and arrays, and
// switches to Maps past a few objects or buffers: values on both sides of
// that switch must arrive the same, with their shared parts still shared.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// 4 KiB: some of the views below travel through segments, the others inline.
const ex = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 4096 });
after(() => ex.shutdown());

/** `count` Float64Arrays of their own buffers, array i of `length` elements worth i + 1 each. */
function arrays(count: number, length: number): Float64Array[] {
  return Array.from({ length: count }, (_, i) => new Float64Array(length).fill(i + 1));
}

for (const count of [1, 2, 8, 9, 12]) {
  for (const length of [10, 1000]) {
    test(`${count} arrays of ${length} elements, and a second view on the first one's buffer, arrive`, async () => {
      const views = arrays(count, length);
      const first = views[0]!;
      const again = new Float64Array(first.buffer, 8, 2);
      const seen = await ex.submit(
        (vs: Float64Array[], v: Float64Array) => ({
          sums: vs.map((a) => a.reduce((s, x) => s + x, 0)),
          shared: v.buffer === vs[0]!.buffer,
          at: v.byteOffset - vs[0]!.byteOffset,
        }),
        views,
        again,
      );
      assert.deepEqual(
        seen.sums,
        views.map((_, i) => (i + 1) * length),
      );
      assert.equal(seen.shared, true);
      assert.equal(seen.at, 8);
    });
  }
}

test('the same array passed twice arrives as one array', async () => {
  const v = new Float64Array([1, 2, 3]);
  assert.equal(await ex.submit((a: Float64Array, b: Float64Array) => a === b, v, v), true);
});

test('an array passed twice, or a DataView, has a buffer of its own in the task, its covering range', async () => {
  // Such arguments travel in a V8 body, whose views share the body's memory or Node's pool.
  const v = new Float64Array([1, 2, 3]);
  const whole = (x: ArrayBufferView) => [x.byteOffset, x.byteLength, x.buffer.byteLength];
  assert.deepEqual(
    await ex.submit(
      (a: Float64Array, b: Float64Array) => [a.byteOffset, a.byteLength, a.buffer.byteLength, a === b],
      v,
      v,
    ),
    [0, 24, 24, true],
  );
  assert.deepEqual(
    await ex.submit(
      (d: DataView) => [d.byteOffset, d.byteLength, d.buffer.byteLength],
      new DataView(new ArrayBuffer(16)),
    ),
    whole(new DataView(new ArrayBuffer(16))),
  );
});

test('an object met a third and fourth time, and a cycle, keep their identity', async () => {
  const o: { n: number; self?: unknown } = { n: 1 };
  o.self = o;
  const seen = await ex.submit(
    (x: typeof o, ys: (typeof o)[], z: { o: typeof o }) =>
      x.self === x && ys[0] === x && ys[1] === x && z.o === x && x.n === 1,
    o,
    [o, o],
    { o },
  );
  assert.equal(seen, true);
});

test("a small typed array's bytes arrive exactly, NaN payloads and an offset view included", async () => {
  const bytes = new Uint8Array(64);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
  // Signalling and payload-carrying NaNs: a numeric copy could canonicalize them.
  new DataView(bytes.buffer).setUint32(4, 0x7ff00001, true);
  new DataView(bytes.buffer).setUint32(12, 0xfff80002, true);
  const whole = new Float64Array(bytes.buffer);
  const part = new Float64Array(bytes.buffer, 16, 4);
  const view = new DataView(bytes.buffer, 8, 16);
  const seen = await ex.submit(
    (a: Float64Array, b: Float64Array, c: DataView) =>
      [a, b, c].map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))),
    whole,
    part,
    view,
  );
  assert.deepEqual(seen, [
    Array.from(bytes),
    Array.from(bytes.subarray(16, 48)),
    Array.from(bytes.subarray(8, 24)),
  ]);
});

test('arguments copied at submit: a change made to a small array afterwards does not reach the task', async () => {
  const v = new Int32Array([1, 2, 3]);
  const future = ex.submit((a: Int32Array) => Array.from(a), v);
  v[0] = 99;
  assert.deepEqual(await future, [1, 2, 3]);
});

test('an inline argument of each view kind arrives in a buffer of its own, with its class and bytes', async () => {
  const source = new Uint8Array(48);
  for (let i = 0; i < source.length; i++) source[i] = (i * 29 + 7) & 0xff;
  // Views at an offset of a larger buffer: the task gets their bytes alone.
  const at = (Kind: new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView, size: number) =>
    new Kind(source.slice().buffer, 8, 32 / size);
  const views: ArrayBufferView[] = [
    at(Int8Array, 1),
    at(Uint8Array, 1),
    at(Uint8ClampedArray, 1),
    at(Int16Array, 2),
    at(Uint16Array, 2),
    at(Int32Array, 4),
    at(Uint32Array, 4),
    at(Float32Array, 4),
    at(Float64Array, 8),
    at(BigInt64Array, 8),
    at(BigUint64Array, 8),
    new DataView(source.slice().buffer, 8, 32),
    Buffer.from(source.slice().buffer, 8, 32),
  ];
  for (const view of views) {
    // One argument at a time, awaited: the path of a caller that waits for each task.
    const seen = await ex.submit(
      (v: ArrayBufferView) => [
        v.constructor.name,
        v.byteOffset,
        v.byteLength,
        v.buffer.byteLength,
        Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)),
      ],
      view,
    );
    assert.deepEqual(seen, [view.constructor.name, 0, 32, 32, Array.from(source.subarray(8, 40))]);
  }
});
