// Property-based round trips (fast-check, fixed seed): random nested values
// of everything that travels -- primitives (bigint, NaN, -0, undefined,
// lone surrogates), plain objects (with '__proto__' keys), arrays, Maps,
// Sets, every TypedArray kind, DataViews at odd offsets, Node Buffers (pooled
// and not), bare ArrayBuffers and SharedArrayBuffers, arrays made in shared
// memory, views sharing one buffer, shared references and cycles,
// RecordArrays and instances of a registered wrapper class -- sent to a
// worker and back.
//
// A value is generated as a plan (plain data, which fast-check shrinks and
// prints), and built from the plan as often as needed: one build is sent, a
// second, independent one is what the result must equal. Properties:
//   1. identity: the result equals the value -- same classes, bytes,
//      aliasing of buffers and of objects (a bijection, checked both ways),
//      and the caller's value is untouched. A buffer arrives as the covering
//      range of its views (from the lowest start, rounded down to 8 bytes,
//      to the highest end; whole if the buffer itself or a SharedArrayBuffer
//      is in the value), its views at the same places relative to that
//      range. (A Node Buffer below the threshold may arrive as its own bytes,
//      at offset 0 in a buffer of its own.);
//   2. mutate in place: the worker XORs every byte of every buffer it got;
//      the caller's value is unchanged (value semantics), the result shows
//      every byte changed.
// The comparison itself is tested first: it must catch a zero-filled array,
// a lost byteOffset, lost aliasing, a lost class, -0 turned into 0, ...
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_THRESHOLD,
  empty,
  inSharedMemory,
  type ModuleTasks,
  type PoolExecutor,
  ProcessPoolExecutor,
  RecordArray,
  type RecordLayoutSpec,
  release,
  ThreadPoolExecutor,
} from 'shmex';
import * as Fixture from './fixtures/property-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const { Vec, FLIP, buffersIn, mutate } = Fixture;
const FIXTURE = new URL('./fixtures/property-tasks.js', import.meta.url);
// Fixed, so a run is reproducible; SHMEX_PROPERTY_SEED and SHMEX_PROPERTY_RUNS (a factor) explore further.
const SEED = Number(process.env.SHMEX_PROPERTY_SEED ?? 0x5eed);
const RUNS = Number(process.env.SHMEX_PROPERTY_RUNS ?? 1);
const SMALL_THRESHOLD = 64;

// --- plans ---

type Primitive = number | bigint | string | boolean | undefined | null;
type Home = 'heap' | 'sab' | 'shm';
interface SlotPlan {
  home: Home;
  size: number;
  seed: number;
}
/** A view: into a buffer of its own (at an offset), into a slot, made in shared memory, or a pooled Buffer. */
interface ViewPlan {
  t: 'view';
  kind: number;
  at: 'own' | 'slot' | 'shm' | 'pool';
  slot: number;
  off: number;
  len: number;
  extra: number;
  seed: number;
  special: boolean;
}
interface FieldPlan {
  name: string;
  dtype: string;
  gap: number;
}
type Plan =
  | { t: 'prim'; v: Primitive }
  | { t: 'arr'; items: Plan[] }
  | { t: 'obj'; entries: Array<[string, Plan]> }
  | { t: 'map'; entries: Array<[Plan, Plan]> }
  | { t: 'set'; items: Plan[] }
  | ViewPlan
  | { t: 'ab'; slot: number | null; size: number; seed: number }
  | {
      t: 'rec';
      fields: FieldPlan[];
      dict: boolean;
      pad: number;
      len: number;
      slot: number | null;
      off: number;
      seed: number;
    }
  | { t: 'vec'; data: ViewPlan; label: string; meta: Plan }
  /** The k-th object built so far (maybe an ancestor: a cycle), or null if none yet. */
  | { t: 'ref'; k: number };
interface TopPlan {
  slots: SlotPlan[];
  root: Plan;
}

type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;
interface Kind {
  name: string;
  bpe: number;
  make: (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;
  typed?: ViewCtor & { BYTES_PER_ELEMENT: number };
  special: unknown[];
}

const FLOATS = [
  Number.NaN,
  -0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  5e-324,
  -Number.MAX_VALUE,
];
function typedKind(ctor: unknown, special: unknown[]): Kind {
  const typed = ctor as ViewCtor & { BYTES_PER_ELEMENT: number; name: string };
  return {
    name: typed.name,
    bpe: typed.BYTES_PER_ELEMENT,
    make: (buffer, byteOffset, length) => new typed(buffer, byteOffset, length),
    typed,
    special,
  };
}
const Float16 = (globalThis as { Float16Array?: unknown }).Float16Array;
const KINDS: Kind[] = [
  typedKind(Int8Array, [-128, 127, -1]),
  typedKind(Uint8Array, [255, 0, 128]),
  typedKind(Uint8ClampedArray, [255, 0, 1]),
  typedKind(Int16Array, [-32768, 32767]),
  typedKind(Uint16Array, [65535, 0]),
  typedKind(Int32Array, [-(2 ** 31), 2 ** 31 - 1]),
  typedKind(Uint32Array, [2 ** 32 - 1, 0]),
  typedKind(Float32Array, FLOATS),
  typedKind(Float64Array, FLOATS),
  typedKind(BigInt64Array, [-(2n ** 63n), 2n ** 63n - 1n, -1n]),
  typedKind(BigUint64Array, [2n ** 64n - 1n, 0n]),
  // Only where the runtime has it (not in Node.js 20).
  ...(typeof Float16 === 'function' ? [typedKind(Float16, FLOATS)] : []),
  { name: 'DataView', bpe: 1, make: (b, o, n) => new DataView(b as ArrayBuffer, o, n), special: [] },
  { name: 'Buffer', bpe: 1, make: (b, o, n) => Buffer.from(b as ArrayBuffer, o, n), special: [] },
];
const BUFFER_KIND = KINDS.length - 1;

const DTYPES = [
  '<f8',
  '>f8',
  '<f4',
  '>i4',
  '<i4',
  '|b1',
  '|i1',
  '|u1',
  '<i2',
  '>u2',
  '<u4',
  '<i8',
  '>u8',
  '?',
];
const DTYPE_SIZE: Record<string, number> = {
  f8: 8,
  f4: 4,
  i4: 4,
  b1: 1,
  i1: 1,
  u1: 1,
  i2: 2,
  u2: 2,
  u4: 4,
  i8: 8,
  u8: 8,
  '?': 1,
};
const FIELD_NAMES = ['x', 'id', "it's", 'back\\slash', 'ħ', '中', 'new\nline', '(a, b)', '"q"', '__proto__'];

interface Sizes {
  slot: fc.Arbitrary<number>;
  len: fc.Arbitrary<number>;
}
const SMALL_SIZES: Sizes = { slot: fc.nat({ max: 400 }), len: fc.nat({ max: 40 }) };
const BIG_SIZES: Sizes = {
  slot: fc.oneof(fc.nat({ max: 200 }), fc.integer({ min: 90 * 1024, max: 110 * 1024 })),
  len: fc.oneof(fc.nat({ max: 20 }), fc.integer({ min: 12 * 1024, max: 14 * 1024 })),
};

const primitive: fc.Arbitrary<Primitive> = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, -0, 0, Number.POSITIVE_INFINITY),
  fc.integer(),
  fc.bigInt(),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.boolean(),
  fc.constantFrom(undefined, null),
);

function plans(sizes: Sizes): fc.Arbitrary<TopPlan> {
  const view: fc.Arbitrary<ViewPlan> = fc
    .record({
      t: fc.constant('view' as const),
      kind: fc.nat({ max: KINDS.length - 1 }),
      at: fc.constantFrom('own' as const, 'slot' as const, 'slot' as const, 'shm' as const, 'pool' as const),
      slot: fc.nat({ max: 3 }),
      off: fc.nat({ max: 3 }),
      len: sizes.len,
      extra: fc.nat({ max: 3 }),
      seed: fc.nat(),
      special: fc.boolean(),
    })
    .map((v) => {
      // Only what can be: a pooled Buffer is small, only typed arrays are made in shared memory.
      const kind = KINDS[v.kind]!;
      if (v.at === 'pool' && !(v.kind === BUFFER_KIND && v.len < SMALL_THRESHOLD)) return { ...v, at: 'own' };
      if (v.at === 'shm' && !(kind.typed !== undefined && v.off + v.len + v.extra > 0))
        return { ...v, at: 'own' };
      return v;
    });
  const field = fc.record({
    name: fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ minLength: 1, maxLength: 4 })),
    dtype: fc.constantFrom(...DTYPES),
    gap: fc.nat({ max: 3 }),
  });
  const record = fc.record({
    t: fc.constant('rec' as const),
    fields: fc.uniqueArray(field, { minLength: 1, maxLength: 4, selector: (f) => f.name }),
    dict: fc.boolean(),
    pad: fc.nat({ max: 5 }),
    len: fc.nat({ max: 12 }),
    slot: fc.option(fc.nat({ max: 3 })),
    off: fc.nat({ max: 9 }),
    seed: fc.nat(),
  });
  const bare = fc.record({
    t: fc.constant('ab' as const),
    slot: fc.option(fc.nat({ max: 3 })),
    size: sizes.slot,
    seed: fc.nat(),
  });
  const key = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', '0', '10', 'length'),
  );
  const depthIdentifier = fc.createDepthIdentifier();
  const { node } = fc.letrec<{ node: Plan; vec: Plan }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', maxDepth: 4, withCrossShrink: true, depthIdentifier },
      fc.oneof(
        { arbitrary: primitive.map((v) => ({ t: 'prim' as const, v })), weight: 3 },
        { arbitrary: view, weight: 4 },
        { arbitrary: bare, weight: 1 },
        { arbitrary: record, weight: 1 },
        { arbitrary: fc.record({ t: fc.constant('ref' as const), k: fc.nat({ max: 20 }) }), weight: 1 },
      ),
      fc.record({
        t: fc.constant('arr' as const),
        items: fc.array(tie('node'), { maxLength: 5, depthIdentifier }),
      }),
      fc.record({
        t: fc.constant('obj' as const),
        entries: fc.array(fc.tuple(key, tie('node')), { maxLength: 5, depthIdentifier }),
      }),
      fc.record({
        t: fc.constant('map' as const),
        entries: fc.array(fc.tuple(tie('node'), tie('node')), { maxLength: 4, depthIdentifier }),
      }),
      fc.record({
        t: fc.constant('set' as const),
        items: fc.array(tie('node'), { maxLength: 4, depthIdentifier }),
      }),
      tie('vec'),
    ),
    vec: fc.record({
      t: fc.constant('vec' as const),
      data: view,
      label: fc.string({ maxLength: 5 }),
      meta: tie('node'),
    }),
  }));
  const slot = fc.record({
    home: fc.constantFrom('heap' as const, 'heap' as const, 'sab' as const, 'shm' as const),
    size: sizes.slot,
    seed: fc.nat(),
  });
  // Mostly several values side by side (more chances to alias), sometimes one alone (the channel's fast path).
  const root = fc.oneof(
    {
      arbitrary: fc.record({
        t: fc.constant('arr' as const),
        items: fc.array(node, { minLength: 2, maxLength: 6 }),
      }),
      weight: 3,
    },
    { arbitrary: node, weight: 1 },
  );
  return fc.record({ slots: fc.array(slot, { maxLength: 3 }), root });
}

// --- building a value from a plan ---

/** Deterministic bytes (mulberry32). */
function fill(bytes: Uint8Array, seed: number): void {
  let a = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    bytes[i] = (t ^ (t >>> 14)) & 0xff;
  }
}

function layoutOf(plan: Extract<Plan, { t: 'rec' }>): RecordLayoutSpec | Array<[string, string]> {
  if (!plan.dict) return plan.fields.map((f) => [f.name, f.dtype]);
  let at = 0;
  const offsets = plan.fields.map((f) => {
    const offset = at + f.gap;
    at = offset + DTYPE_SIZE[f.dtype.replace(/^[<>|]/, '')]!;
    return offset;
  });
  return {
    names: plan.fields.map((f) => f.name),
    formats: plan.fields.map((f) => f.dtype),
    offsets,
    itemsize: at + plan.pad,
  };
}

/** Buffers made in Node's shared pool: only their own bytes mean anything (the pool differs between builds). */
const POOLED = new WeakSet<ArrayBufferView>();

/** Builds one value from a plan (once: make a new Builder for another, independent copy). */
class Builder {
  readonly #built: object[] = [];
  /** Objects being built (their fields not done yet): a ref to one of them makes a cycle. */
  readonly #building = new Set<object>();
  /** How many refs this build resolved to an object, and how many of those closed a cycle. */
  refs = 0;
  cycles = 0;
  readonly #slots: ArrayBufferLike[];
  /** Arrays this build made in shared memory, released by release(). */
  readonly #shm: ArrayBufferLike[] = [];
  readonly #pool: boolean;

  /** `pool`: whether small Buffers may come from Node's pool (not for values mutated in this process). */
  constructor(
    readonly plan: TopPlan,
    { pool = true } = {},
  ) {
    this.#pool = pool;
    this.#slots = plan.slots.map((s) => this.#slot(s));
  }

  build(): unknown {
    assert.equal(this.#built.length, 0, 'a Builder builds once');
    return this.#node(this.plan.root);
  }

  release(): void {
    for (const buffer of this.#shm) release(buffer as ArrayBuffer);
  }

  #slot(s: SlotPlan): ArrayBufferLike {
    if (s.home === 'shm' && s.size > 0) {
      const a = empty(Uint8Array, s.size);
      fill(a, s.seed);
      this.#shm.push(a.buffer);
      return a.buffer;
    }
    const buffer = s.home === 'sab' ? new SharedArrayBuffer(s.size) : new ArrayBuffer(s.size);
    fill(new Uint8Array(buffer), s.seed);
    return buffer;
  }

  #keep<T extends object>(value: T): T {
    this.#built.push(value);
    return value;
  }

  #view(p: ViewPlan): ArrayBufferView {
    const kind = KINDS[p.kind]!;
    let view: ArrayBufferView;
    if (p.at === 'slot' && this.#slots.length > 0) {
      const buffer = this.#slots[p.slot % this.#slots.length]!;
      const max = Math.floor(buffer.byteLength / kind.bpe);
      const off = p.off % (max + 1);
      view = kind.make(buffer, off * kind.bpe, p.len % (max - off + 1));
    } else if (p.at === 'shm') {
      const whole = empty(kind.typed as unknown as Float64ArrayConstructor, p.off + p.len + p.extra);
      assert.ok(inSharedMemory(whole));
      fill(new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength), p.seed);
      this.#shm.push(whole.buffer);
      view = kind.make(whole.buffer, whole.byteOffset + p.off * kind.bpe, p.len);
    } else if (p.at === 'pool' && this.#pool) {
      // Node's 8 KiB pool: at some offset in a buffer shared with other Buffers.
      const bytes = new Uint8Array(p.len);
      fill(bytes, p.seed);
      view = Buffer.from(bytes);
      POOLED.add(view);
    } else {
      const buffer = new ArrayBuffer((p.off + p.len + p.extra) * kind.bpe);
      fill(new Uint8Array(buffer), p.seed);
      view = kind.make(buffer, p.off * kind.bpe, p.len);
    }
    if (p.special && kind.typed !== undefined) {
      const elements = view as unknown as { [i: number]: unknown; length: number };
      kind.special.forEach((v, i) => {
        if (i < elements.length) elements[i] = v;
      });
    }
    return this.#keep(view);
  }

  #node(p: Plan): unknown {
    switch (p.t) {
      case 'prim':
        return p.v;
      case 'ref': {
        const target = this.#built.length === 0 ? null : this.#built[p.k % this.#built.length]!;
        if (target !== null) this.refs++;
        if (target !== null && this.#building.has(target)) this.cycles++;
        return target;
      }
      case 'view':
        this.#view(p);
        return;
      case 'ab': {
        if (p.slot !== null && this.#slots.length > 0) {
          return this.#keep(this.#slots[p.slot % this.#slots.length]!);
        }
        const buffer = new ArrayBuffer(p.size);
        fill(new Uint8Array(buffer), p.seed);
        return this.#keep(buffer);
      }
      case 'rec': {
        const layout = layoutOf(p);
        const itemsize = new RecordArray(layout, 0).layout.itemsize;
        const slot =
          p.slot === null || this.#slots.length === 0 ? undefined : this.#slots[p.slot % this.#slots.length];
        if (slot !== undefined) {
          const max = Math.floor(slot.byteLength / itemsize);
          const length = max === 0 ? 0 : p.len % (max + 1);
          const off = Math.min(p.off, slot.byteLength - length * itemsize);
          return this.#keep(new RecordArray(layout, slot, off, length));
        }
        const buffer = new ArrayBuffer(p.off + p.len * itemsize);
        fill(new Uint8Array(buffer), p.seed);
        return this.#keep(new RecordArray(layout, buffer, p.off, p.len));
      }
      case 'vec': {
        // Kept before its fields are built, so its meta may refer back to it.
        const vec = this.#keep(Object.create(Vec.prototype) as InstanceType<typeof Vec>);
        this.#building.add(vec);
        vec.data = this.#view(p.data);
        vec.label = p.label;
        vec.meta = this.#node(p.meta);
        this.#building.delete(vec);
        return vec;
      }
      case 'arr': {
        const out = this.#keep([] as unknown[]);
        this.#building.add(out);
        for (const item of p.items) out.push(this.#node(item));
        this.#building.delete(out);
        return out;
      }
      case 'obj': {
        const out = this.#keep({} as Record<string, unknown>);
        this.#building.add(out);
        for (const [k, v] of p.entries) {
          // Defined, not assigned: '__proto__' stays an own property.
          Object.defineProperty(out, k, {
            value: this.#node(v),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        this.#building.delete(out);
        return out;
      }
      case 'map': {
        const out = this.#keep(new Map<unknown, unknown>());
        this.#building.add(out);
        for (const [k, v] of p.entries) {
          const key = this.#node(k);
          out.set(key, this.#node(v));
        }
        this.#building.delete(out);
        return out;
      }
      case 'set': {
        const out = this.#keep(new Set<unknown>());
        this.#building.add(out);
        for (const item of p.items) out.add(this.#node(item));
        this.#building.delete(out);
        return out;
      }
    }
  }
}

// --- comparing ---

interface CompareOptions {
  /**
   * `actual` went to a worker (and back) through an executor with this
   * threshold: Node Buffers below it travel as their own bytes (byteOffset 0,
   * a buffer of their own). Undefined: both values are the caller's.
   */
  threshold?: number;
  /** Every byte of `actual` must be the byte of `expected` XOR this (0: equal). */
  flip: number;
}

function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'object' && v !== null) return Object.prototype.toString.call(v);
  if (Object.is(v, -0)) return '-0';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Where the actual buffer of an expected one starts in it, and the range its views cover. */
interface BufferMatch {
  actual: ArrayBufferLike;
  /** The actual buffer is the bytes [delta, delta + actual.byteLength) of the expected one. */
  delta: number;
  /** Something needs the whole buffer (the buffer itself is in the value). */
  whole: boolean;
  start: number;
  end: number;
  path: string;
}

/**
 * Walks `actual` and `expected` together. Objects must correspond one to one
 * (a shared reference stays shared, two objects stay two), and so must
 * buffers. In-process (no threshold), buffers and byteOffsets are compared
 * whole; after a round trip, a buffer is the covering range of its views
 * (checked by finish()), and the bytes of each view are compared.
 */
class Comparison {
  readonly #objects = new Map<object, object>();
  readonly #reverse = new Map<object, object>();
  readonly #buffers = new Map<ArrayBufferLike, BufferMatch>();
  readonly #reverseBuffers = new Map<ArrayBufferLike, ArrayBufferLike>();
  readonly #smallBuffers: { a: ArrayBufferView; e: ArrayBufferView; path: string }[] = [];

  constructor(readonly options: CompareOptions) {}

  fail(path: string, what: string): never {
    assert.fail(`at ${path}: ${what}`);
  }

  same(actual: unknown, expected: unknown, path: string): void {
    if (typeof actual !== typeof expected || (actual === null) !== (expected === null)) {
      this.fail(path, `got ${describeValue(actual)}, expected ${describeValue(expected)}`);
    }
    if (typeof expected !== 'object' || expected === null) {
      if (!Object.is(actual, expected)) {
        this.fail(path, `got ${describeValue(actual)}, expected ${describeValue(expected)}`);
      }
      return;
    }
    const a = actual as object;
    const known = this.#objects.get(expected);
    if (known !== undefined) {
      if (known !== a) this.fail(path, 'a shared reference (or cycle) arrived as a separate object');
      return;
    }
    if (this.#reverse.has(a)) this.fail(path, 'two distinct objects arrived as one');
    this.#objects.set(expected, a);
    this.#reverse.set(a, expected);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(expected)) {
      this.fail(
        path,
        `got an instance of ${describeValue(a)}/${a.constructor?.name}, expected ${expected.constructor?.name}`,
      );
    }
    if (ArrayBuffer.isView(expected)) {
      this.#view(a as ArrayBufferView, expected, path);
      return;
    }
    if (expected instanceof ArrayBuffer || expected instanceof SharedArrayBuffer) {
      this.#buffer(a as ArrayBufferLike, expected, path);
      return;
    }
    if (expected instanceof RecordArray) {
      const r = a as RecordArray;
      assert.deepEqual(r.layout.toSpec(), expected.layout.toSpec(), `at ${path}: record layout`);
      if (r.length !== expected.length)
        this.fail(path, `records: length ${r.length}, expected ${expected.length}`);
      this.#place(
        r.buffer,
        r.byteOffset,
        expected.buffer,
        expected.byteOffset,
        r.byteLength,
        `${path}.buffer`,
      );
      return;
    }
    if (expected instanceof Map) {
      const m = a as Map<unknown, unknown>;
      if (m.size !== expected.size) this.fail(path, `Map of ${m.size} entries, expected ${expected.size}`);
      const got = [...m];
      [...expected].forEach(([k, v], i) => {
        this.same(got[i]![0], k, `${path}.keys()[${i}]`);
        this.same(got[i]![1], v, `${path}.values()[${i}]`);
      });
      return;
    }
    if (expected instanceof Set) {
      const s = a as Set<unknown>;
      if (s.size !== expected.size) this.fail(path, `Set of ${s.size} items, expected ${expected.size}`);
      const got = [...s];
      for (const [i, v] of [...expected].entries()) this.same(got[i], v, `${path}.values()[${i}]`);
      return;
    }
    const keys = Object.keys(expected);
    assert.deepEqual(Object.keys(a), keys, `at ${path}: own keys`);
    if (Array.isArray(expected) && (a as unknown[]).length !== expected.length)
      this.fail(path, 'array length');
    for (const key of keys) {
      const descriptor = Object.getOwnPropertyDescriptor(a, key);
      if (descriptor === undefined || !('value' in descriptor))
        this.fail(path, `${key} is not an own data property`);
      this.same(
        descriptor.value,
        (expected as Record<string, unknown>)[key],
        `${path}[${JSON.stringify(key)}]`,
      );
    }
  }

  #view(a: ArrayBufferView, e: ArrayBufferView, path: string): void {
    if (a.byteLength !== e.byteLength)
      this.fail(path, `byteLength ${a.byteLength}, expected ${e.byteLength}`);
    const length = (v: ArrayBufferView) => (v as unknown as { length?: number }).length;
    if (length(a) !== length(e)) this.fail(path, `length ${length(a)}, expected ${length(e)}`);
    const { threshold } = this.options;
    // In shared memory, only a Buffer over part of its buffer: one over all of it goes by its segment.
    const small =
      threshold !== undefined &&
      Buffer.isBuffer(e) &&
      e.byteLength < threshold &&
      (!inSharedMemory(e) || e.byteLength < e.buffer.byteLength);
    if (small || POOLED.has(e)) {
      // A small Node Buffer travels as its own bytes (a buffer of its own, at offset 0), unless its
      // buffer travels anyway, for other views of it, over a range that covers it: then it keeps its
      // place in that range. Which of the two is known once every view was seen (finish()).
      if (small) this.#smallBuffers.push({ a, e, path });
      this.#bytes(
        new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
        new Uint8Array(e.buffer, e.byteOffset, e.byteLength),
        path,
      );
      return;
    }
    this.#place(a.buffer, a.byteOffset, e.buffer, e.byteOffset, a.byteLength, `${path}.buffer`);
  }

  /** A view (or records) of `length` bytes at `aOffset` of `a`, expected at `eOffset` of `e`. */
  #place(
    a: ArrayBufferLike,
    aOffset: number,
    e: ArrayBufferLike,
    eOffset: number,
    length: number,
    path: string,
  ) {
    const delta = eOffset - aOffset;
    const match = this.#match(a, e, delta, path);
    if (match.delta !== delta) {
      this.fail(path, `byteOffset ${aOffset}, expected ${eOffset - match.delta} (views moved apart)`);
    }
    match.start = Math.min(match.start, eOffset);
    match.end = Math.max(match.end, eOffset + length);
    this.#bytes(new Uint8Array(a, aOffset, length), new Uint8Array(e, eOffset, length), path);
  }

  /** A bare buffer: it travels whole. */
  #buffer(a: ArrayBufferLike, e: ArrayBufferLike, path: string): void {
    const match = this.#match(a, e, 0, path);
    match.whole = true;
    match.start = 0;
    match.end = e.byteLength;
    this.#bytes(new Uint8Array(a), new Uint8Array(e), path);
  }

  #match(a: ArrayBufferLike, e: ArrayBufferLike, delta: number, path: string): BufferMatch {
    const known = this.#buffers.get(e);
    if (known !== undefined) {
      if (known.actual !== a) this.fail(path, 'views of one buffer arrived over different buffers');
      return known;
    }
    if (this.#reverseBuffers.has(a)) this.fail(path, 'views of different buffers arrived over one buffer');
    if (a instanceof SharedArrayBuffer !== e instanceof SharedArrayBuffer) {
      this.fail(path, `got a ${describeValue(a)}, expected a ${describeValue(e)}`);
    }
    const match = { actual: a, delta, whole: false, start: Infinity, end: -Infinity, path };
    this.#buffers.set(e, match);
    this.#reverseBuffers.set(a, e);
    return match;
  }

  /**
   * Each buffer is what should have travelled of it: in-process, the whole
   * buffer, byteOffsets unchanged; after a round trip, the covering range of
   * its views (the whole buffer if it is itself in the value, or shared).
   */
  finish(): void {
    for (const { a, e, path } of this.#smallBuffers) {
      const match = this.#buffers.get(e.buffer);
      if (match !== undefined && match.actual === a.buffer) {
        if (e.byteOffset - a.byteOffset !== match.delta)
          this.fail(path, 'a small Buffer moved in its buffer');
        match.start = Math.min(match.start, e.byteOffset);
        match.end = Math.max(match.end, e.byteOffset + e.byteLength);
        continue;
      }
      const own =
        a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && a.buffer instanceof ArrayBuffer;
      if (!own || this.#reverseBuffers.has(a.buffer)) {
        this.fail(path, 'a small Buffer arrived neither over a buffer of its own nor in place');
      }
    }
    for (const [e, m] of this.#buffers) {
      const whole = m.whole || this.options.threshold === undefined || e instanceof SharedArrayBuffer;
      const start = whole ? 0 : m.start - (m.start % 8);
      const end = whole ? e.byteLength : m.end;
      if (m.delta !== start || m.actual.byteLength !== end - start) {
        this.fail(
          m.path,
          `a buffer of ${m.actual.byteLength} bytes from byte ${m.delta}, expected bytes [${start}, ${end}) of ${e.byteLength}`,
        );
      }
      const flip = this.options.flip;
      const a = new Uint8Array(m.actual);
      const x = new Uint8Array(e, start, end - start);
      for (let i = 0; i < x.length; i++) {
        if (a[i] !== (x[i]! ^ flip)) this.fail(m.path, `byte ${start + i} of its buffer is ${a[i]}`);
      }
    }
  }

  #bytes(a: Uint8Array, e: Uint8Array, path: string): void {
    const flip = this.options.flip;
    for (let i = 0; i < e.length; i++) {
      if (a[i] !== (e[i]! ^ flip)) {
        this.fail(
          path,
          `byte ${i} of ${e.length} is ${a[i]}, expected ${e[i]! ^ flip}${flip ? ` (${e[i]} ^ ${flip})` : ''}`,
        );
      }
    }
  }
}

function assertSame(actual: unknown, expected: unknown, options: CompareOptions): void {
  const comparison = new Comparison(options);
  comparison.same(actual, expected, 'value');
  comparison.finish();
}

/** Gives back the shared memory of every array in a value (results are mapped from workers' segments). */
function releaseAll(value: unknown): void {
  for (const buffer of buffersIn(value)) if (buffer instanceof ArrayBuffer) release(buffer);
}

// --- the comparison catches what a broken round trip would do ---

describe('the comparison itself', () => {
  const options = { threshold: SMALL_THRESHOLD, flip: 0 };
  const fails = (actual: unknown, expected: unknown, flip = 0, over: Partial<CompareOptions> = options) =>
    assert.throws(() => assertSame(actual, expected, { ...over, flip }), assert.AssertionError);

  test('catches zero-filled, shifted, unaliased, reclassed and -0 values', () => {
    const data = Float64Array.of(1.5, -0, Number.NaN, 4);
    fails(new Float64Array(4), data); // a decoder that returns zeros
    assertSame(Float64Array.of(1.5, -0, Number.NaN, 4), data, options); // NaN equals NaN
    fails(Float64Array.of(1.5, 0, Number.NaN, 4), data); // -0 became 0
    const wide = new Float64Array(6).fill(2);
    const inner = new Float64Array(wide.buffer, 8, 4);
    fails(new Float64Array(new Float64Array(6).fill(2).buffer, 16, 4), inner); // byteOffset lost
    fails(Float64Array.of(2, 2, 2, 2), inner, 0, {}); // in-process: the rest of its buffer lost
    assertSame(Float64Array.of(2, 2, 2, 2), inner, options); // a round trip: the range it covers
    const spread = [new Uint8Array(wide.buffer, 8, 4), new Uint8Array(wide.buffer, 24, 4)];
    const near = wide.buffer.slice(8, 32);
    fails([new Uint8Array(near, 0, 4), new Uint8Array(near, 16, 4)], spread); // bytes past the range
    const range = wide.buffer.slice(8, 28);
    assertSame([new Uint8Array(range, 0, 4), new Uint8Array(range, 16, 4)], spread, options);
    fails(Uint8ClampedArray.of(1, 2), Uint8Array.of(1, 2)); // class lost
    fails(new Uint8Array(Buffer.from([1, 2])), Buffer.from([1, 2]));
    const shared = new ArrayBuffer(8);
    const pair = [new Uint8Array(shared, 0, 4), new Uint8Array(shared, 4, 4)];
    const apart = [new Uint8Array(new ArrayBuffer(8), 0, 4), new Uint8Array(new ArrayBuffer(8), 4, 4)];
    fails(apart, pair); // aliasing lost
    fails(pair, apart); // aliasing invented
    const o = { x: 1 };
    fails([{ x: 1 }, { x: 1 }], [o, o]); // a shared reference lost
    fails(-0, 0);
    fails(1n, 1);
    fails(undefined, null);
    fails(new SharedArrayBuffer(4), new ArrayBuffer(4));
    fails(new Map([[1, 2]]), new Map([[2, 1]]));
    fails(new Set([1, 2]), new Set([2, 1]));
    fails({ data: new Float32Array(2), label: 'a', meta: 0 }, new Vec(new Float32Array(2), 'a', 0)); // class lost
    const records = new RecordArray([['x', '<f8']], 2);
    fails(new RecordArray([['y', '<f8']], 2), records);
    fails(new RecordArray([['x', '>f8']], 2), records);
    // Mutation: the result must show every byte flipped.
    fails(Uint8Array.of(1, 2), Uint8Array.of(1, 2), FLIP);
    assertSame(Uint8Array.of(1 ^ FLIP, 2 ^ FLIP), Uint8Array.of(1, 2), { ...options, flip: FLIP });
  });

  test('mutate() matches the XOR model, and any zero-filled buffer is caught (random values, in-process)', () => {
    fc.assert(
      fc.property(plans(SMALL_SIZES), fc.nat(), (plan, pick) => {
        const builders = [0, 1, 2, 3].map(() => new Builder(plan, { pool: false }));
        const [original, expected, broken, intact] = builders as [Builder, Builder, Builder, Builder];
        try {
          assertSame(mutate(original.build()), expected.build(), { flip: FLIP });
          const value = broken.build();
          const candidates = buffersIn(value).filter((b) => new Uint8Array(b).some((x) => x !== 0));
          if (candidates.length > 0) {
            new Uint8Array(candidates[pick % candidates.length]!).fill(0);
            assert.throws(() => assertSame(value, intact.build(), { flip: 0 }), assert.AssertionError);
          }
        } finally {
          for (const builder of builders) builder.release();
        }
      }),
      { seed: SEED, numRuns: 200, includeErrorInReport: true },
    );
  });
});

// --- what the generated values hold ---

const SETUPS = [
  {
    name: `threshold ${SMALL_THRESHOLD} B, small values`,
    threshold: SMALL_THRESHOLD,
    sizes: SMALL_SIZES,
    runs: 150,
  },
  { name: 'default threshold, values up to ~110 KiB', threshold: undefined, sizes: BIG_SIZES, runs: 25 },
];

/** The features a plan exercises, e.g. 'view:Float64Array@slot', 'slot:sab', 'rec', 'vec', 'cycle'. */
function featuresOf(plan: TopPlan): Set<string> {
  const out = new Set<string>(plan.slots.map((s) => `slot:${s.home}`));
  if (plan.slots.length > 1) out.add('slots:several');
  const walk = (p: Plan, depth: number): void => {
    out.add(p.t);
    if (depth >= 3) out.add('deep');
    switch (p.t) {
      case 'view':
        out.add(`view:${KINDS[p.kind]!.name}@${p.at === 'slot' && plan.slots.length === 0 ? 'own' : p.at}`);
        if (p.len === 0) out.add('view:empty');
        break;
      case 'prim':
        out.add(
          `prim:${Object.is(p.v, -0) ? '-0' : Number.isNaN(p.v) ? 'NaN' : p.v === null ? 'null' : typeof p.v}`,
        );
        break;
      case 'arr':
      case 'set':
        if (p.items.length === 0) out.add(`${p.t}:empty`);
        for (const item of p.items) walk(item, depth + 1);
        break;
      case 'obj':
        if (p.entries.some(([k]) => k === '__proto__')) out.add('obj:__proto__');
        for (const [, v] of p.entries) walk(v, depth + 1);
        break;
      case 'map':
        for (const [k, v] of p.entries) {
          walk(k, depth + 1);
          walk(v, depth + 1);
        }
        break;
      case 'vec':
        walk(p.data, depth + 1);
        walk(p.meta, depth + 1);
        break;
      case 'rec':
        out.add(p.dict ? 'rec:padded' : 'rec:packed');
        if (p.slot !== null) out.add('rec:slot');
        break;
      case 'ab':
        out.add(p.slot === null ? 'ab:own' : 'ab:slot');
        break;
    }
  };
  walk(plan.root, 0);
  return out;
}

test('the generated values cover every kind of thing that travels', () => {
  const seen = new Map<string, number>();
  const count = (f: string) => seen.set(f, (seen.get(f) ?? 0) + 1);
  for (const plan of fc.sample(plans(SMALL_SIZES), { seed: SEED, numRuns: SETUPS[0]!.runs })) {
    for (const f of featuresOf(plan)) count(f);
    const builder = new Builder(plan, { pool: false });
    builder.build();
    builder.release();
    if (builder.refs > 0) count('shared reference');
    if (builder.cycles > 0) count('cycle');
  }
  const wanted = [
    ...KINDS.flatMap((k) => [`view:${k.name}@own`, `view:${k.name}@slot`]),
    ...KINDS.filter((k) => k.typed !== undefined).map((k) => `view:${k.name}@shm`),
    'view:Buffer@pool',
    'view:empty',
    ...['slot:heap', 'slot:sab', 'slot:shm', 'slots:several'],
    ...['prim:number', 'prim:-0', 'prim:NaN', 'prim:bigint', 'prim:string', 'prim:undefined', 'prim:null'],
    ...['arr', 'arr:empty', 'obj', 'obj:__proto__', 'map', 'set', 'set:empty', 'deep'],
    ...['rec:packed', 'rec:padded', 'rec:slot', 'vec', 'shared reference', 'cycle', 'ab:own', 'ab:slot'],
  ];
  assert.deepEqual(
    wanted.filter((f) => !seen.has(f)),
    [],
    `features never generated in ${SETUPS[0]!.runs} runs`,
  );
});

// --- round trips through workers ---

for (const [Executor, share] of [
  [ProcessPoolExecutor, 1],
  [ThreadPoolExecutor, 1 / 3],
] as const)
  for (const setup of SETUPS) {
    describe(`round trips, ${Executor.name}, ${setup.name}`, () => {
      let ex: PoolExecutor;
      let tasks: ModuleTasks<typeof Fixture>;
      const threshold = setup.threshold ?? DEFAULT_THRESHOLD;
      before(() => {
        ex = new Executor({ maxWorkers: 2, threshold: setup.threshold });
        tasks = ex.module<typeof Fixture>(FIXTURE);
      });
      after(() => ex.shutdown());

      test('identity: the value comes back equal, with its classes, offsets and aliasing', async () => {
        await fc.assert(
          fc.asyncProperty(plans(setup.sizes), async (plan) => {
            const builders = [0, 1, 2].map(() => new Builder(plan));
            const [input, expected, intact] = builders as [Builder, Builder, Builder];
            const value = input.build();
            const back = await tasks.identity(value);
            try {
              assertSame(back, expected.build(), { threshold, flip: 0 });
              assertSame(value, intact.build(), { flip: 0 });
              if (typeof value === 'object' && value !== null) assert.notEqual(back, value);
            } finally {
              releaseAll(back);
              for (const builder of builders) builder.release();
            }
          }),
          { seed: SEED, numRuns: Math.ceil(setup.runs * RUNS * share), includeErrorInReport: true },
        );
      });

      test('mutate in place: the caller keeps its value, the result shows every byte changed', async () => {
        await fc.assert(
          fc.asyncProperty(plans(setup.sizes), async (plan) => {
            const builders = [0, 1, 2].map(() => new Builder(plan));
            const [input, expected, intact] = builders as [Builder, Builder, Builder];
            const value = input.build();
            const back = await tasks.mutate(value);
            try {
              // Value semantics: the worker's writes never reach the caller's arrays.
              assertSame(value, intact.build(), { flip: 0 });
              assertSame(back, expected.build(), { threshold, flip: FLIP });
            } finally {
              releaseAll(back);
              for (const builder of builders) builder.release();
            }
          }),
          { seed: SEED + 1, numRuns: Math.ceil(setup.runs * RUNS * share), includeErrorInReport: true },
        );
      });
    });
  }
