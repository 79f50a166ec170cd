// The table of value kinds (src/transfer/kinds/), in-process: which kind
// each value is, and a round trip of each kind through encode and decode in
// this process, with no worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordArray, registerArrayCodec, registerArrayWrapper, shared } from 'shmex';
import { segmentBook } from '../dist/shm/books.js';
import { decode } from '../dist/transfer/decode.js';
import { encode } from '../dist/transfer/encode.js';
import { kindOf } from '../dist/transfer/kinds/table.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const book = segmentBook('/dev/shm');
const self = { pid: process.pid, sendControl: () => {} };
function roundTrip(value: unknown): unknown {
  const payload = encode(value, { book, threshold: 1 << 20 }, 'value');
  return decode(payload.data, book, self, payload.leases);
}

class Node2 {
  data: Float64Array;
  next: Node2 | undefined;
  constructor(data: Float64Array) {
    this.data = data;
  }
}
registerArrayWrapper(Node2, 'data', { name: 'test.Node2' });

class Pair {
  constructor(
    readonly a: Float64Array,
    readonly b: Float64Array,
  ) {}
}
registerArrayCodec({
  name: 'test.pair',
  test: (v): v is Pair => v instanceof Pair,
  encode: (v: Pair) => [v.a, v.b],
  decode: ([a, b]: Float64Array[]) => new Pair(a!, b!),
});

test('each value is of the first kind in the table that accepts it', () => {
  const cases: Array<[unknown, string]> = [
    [{}, 'plain object'],
    [Object.create(null), 'plain object'],
    [[1], 'array'],
    [new Float64Array(1), 'view'],
    [new DataView(new ArrayBuffer(1)), 'view'],
    [Buffer.alloc(1), 'view'],
    [new ArrayBuffer(1), 'ArrayBuffer'],
    [new SharedArrayBuffer(1), 'SharedArrayBuffer'],
    [new Map(), 'Map'],
    [new Set(), 'Set'],
    [new RecordArray([['x', '<f8']], 1), 'codec value'],
    [new Node2(new Float64Array(1)), 'codec value'],
    [new Pair(new Float64Array(1), new Float64Array(1)), 'codec value'],
    [new Error('e'), 'Error'],
    [new Date(0), 'built-in'],
    [/x/, 'built-in'],
    [new (class Other {})(), 'class instance'],
    [new (class extends Array {})(), 'class instance'],
    [new Proxy({}, {}), 'Proxy'],
  ];
  for (const [value, kind] of cases) assert.equal(kindOf(value as object).name, kind, kind);
});

test('every kind round-trips in process: wrappers that refer to each other, records inside codec parts', () => {
  const a = new Node2(Float64Array.of(1, 2));
  const b = new Node2(Float64Array.of(3));
  a.next = b;
  b.next = a;
  const rows = new RecordArray(
    [
      ['x', '<f8'],
      ['id', '<i4'],
    ],
    2,
  );
  rows.set(1, { x: 2.5, id: 7 });
  const sab = new SharedArrayBuffer(4);
  new Uint8Array(sab)[3] = 9;
  const value = {
    nodes: [a, b],
    rows,
    pair: new Pair(Float64Array.of(4), Float64Array.of(5)),
    sab,
    map: new Map<unknown, unknown>([['k', new Set([1, new Int16Array([2])])]]),
    bytes: new ArrayBuffer(3),
    when: new Date(5),
    error: new Error('e', { cause: new Float32Array([1]) }),
  };
  const back = roundTrip(value) as typeof value;
  const [a2, b2] = back.nodes as [Node2, Node2];
  assert.ok(a2 instanceof Node2 && b2 instanceof Node2);
  assert.equal(a2.next, b2);
  assert.equal(b2.next, a2);
  assert.deepEqual([...a2.data], [1, 2]);
  assert.ok(back.rows instanceof RecordArray);
  assert.deepEqual(back.rows.get(1), { x: 2.5, id: 7 });
  assert.ok(back.pair instanceof Pair);
  assert.deepEqual([back.pair.a[0], back.pair.b[0]], [4, 5]);
  assert.ok(back.sab instanceof SharedArrayBuffer);
  assert.equal(new Uint8Array(back.sab)[3], 9);
  assert.deepEqual(back.map, value.map);
  assert.equal(back.bytes.byteLength, 3);
  assert.equal(back.when.getTime(), 5);
  assert.deepEqual(back.error.cause, new Float32Array([1]));
});

test("a special in an Error's cause is refused with its path; the built-in codecs' names are taken", () => {
  for (const special of [
    new RecordArray([['x', '<f8']], 1),
    new Node2(new Float64Array(1)),
    new SharedArrayBuffer(1),
    shared(new Float64Array(1)),
  ]) {
    assert.throws(
      () => encode([new Error('e', { cause: { s: special } })], { book, threshold: 1 << 20 }, 'args'),
      {
        name: 'NotTransferableError',
        message: /args\[0\]\.cause\.s/,
      },
    );
  }
  assert.throws(
    () =>
      registerArrayCodec({
        name: 'shmex.record',
        test: (_v): _v is object => false,
        encode: () => 0,
        decode: () => ({}),
      }),
    /already registered/,
  );
});
