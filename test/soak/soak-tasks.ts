// The soak's task module (run in workers through executor.module(url)) and
// the value generator both sides share: every input is a deterministic
// function of (kind, seed, index), so the parent checks a result element by
// element against values it computes itself, whatever happened to the arrays
// that travelled.
import type { TypedArray, TypedArrayConstructor } from 'shmex';
import { empty } from 'shmex';

export const KINDS = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  BigInt64Array,
  BigUint64Array,
} as const satisfies Record<string, TypedArrayConstructor>;

export type Kind = keyof typeof KINDS;

export function isBigKind(kind: Kind): boolean {
  return kind === 'BigInt64Array' || kind === 'BigUint64Array';
}

/** The generated value at index `i` (a float with a fractional part; integer kinds truncate or wrap it). */
export function gen(seed: number, i: number): number {
  return ((Math.imul(i ^ seed, 0x9e3779b1) >>> 19) & 0x1fff) - 4096 + 0.25;
}

type NumberArray = Exclude<TypedArray, BigInt64Array | BigUint64Array>;
type BigArray = BigInt64Array | BigUint64Array;

function isBigArray(x: TypedArray): x is BigArray {
  return x instanceof BigInt64Array || x instanceof BigUint64Array;
}

// Number arrays are made and checked in chunks through small float64 scratch arrays: set()
// converts as element writes do, and works at memcpy-like speed; no temporary as large as an
// array (a 64 MiB Int8Array would need 512 MiB of float64).
const CHUNK = 1 << 14;
const scratch = new Float64Array(CHUNK);
const scratch2 = new Float64Array(CHUNK);
const kindScratch = new Map<Kind, NumberArray>();

/** gen(seed, start + k) for k < count, in a view of a scratch array (valid until the next call). */
function genChunk(seed: number, start: number, count: number): Float64Array {
  for (let k = 0; k < count; k++) scratch[k] = gen(seed, start + k);
  return scratch.subarray(0, count);
}

/** Fills `x` with gen(seed, i), as the array's kind converts it. */
export function fillGen(x: TypedArray, seed: number): void {
  if (isBigArray(x)) {
    for (let i = 0; i < x.length; i++) x[i] = BigInt(Math.trunc(gen(seed, i)));
    return;
  }
  for (let start = 0; start < x.length; start += CHUNK) {
    x.set(genChunk(seed, start, Math.min(CHUNK, x.length - start)), start);
  }
}

/** x * a + b, element by element as `out[i] = x[i] * a + b` would store it, into `out` (same kind and length). */
export function affineInto(x: TypedArray, a: number, b: number, out: TypedArray): void {
  if (isBigArray(x)) {
    const o = out as BigArray;
    const ba = BigInt(a);
    const bb = BigInt(b);
    for (let i = 0; i < x.length; i++) o[i] = x[i]! * ba + bb;
    return;
  }
  const o = out as NumberArray;
  for (let start = 0; start < x.length; start += CHUNK) {
    const count = Math.min(CHUNK, x.length - start);
    const t = scratch2.subarray(0, count);
    t.set(x.subarray(start, start + count));
    for (let k = 0; k < count; k++) t[k] = t[k]! * a + b;
    o.set(t, start);
  }
}

/** Affine maps applied in turn to the generated values: [[a, b], ...] means (gen * a + b) * a2 + b2 ..., each stored as the kind stores it. */
export type Steps = readonly (readonly [number, number])[];

/** Elements [start, start + count) of what an array of `kind` holding gen(seed, i) transformed by `steps` holds. */
function expectedChunk(kind: Kind, seed: number, start: number, count: number, steps: Steps): NumberArray {
  let typed = kindScratch.get(kind);
  if (typed === undefined) {
    typed = new KINDS[kind as 'Float64Array'](CHUNK);
    kindScratch.set(kind, typed);
  }
  const x = typed.subarray(0, count);
  x.set(genChunk(seed, start, count));
  for (const [a, b] of steps) {
    const t = scratch2.subarray(0, count);
    t.set(x);
    for (let k = 0; k < count; k++) t[k] = t[k]! * a + b;
    x.set(t);
  }
  return x;
}

function bytesOf(x: ArrayBufferView): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/**
 * -1 if `y` is an array of `kind` holding exactly (bit for bit) gen(seed, i) transformed by
 * `steps`, as `kind` stores it; else -2 (another kind), -3 (another length) or the first index
 * that differs.
 */
export function firstMismatch(y: TypedArray, kind: Kind, n: number, seed: number, steps: Steps): number {
  if (y.constructor !== KINDS[kind]) return -2;
  if (y.length !== n) return -3;
  if (isBigKind(kind)) {
    const want = new KINDS[kind as 'BigInt64Array'](n);
    fillGen(want, seed);
    for (const [a, b] of steps) affineInto(want, a, b, want);
    for (let i = 0; i < n; i++) if (y[i] !== want[i]) return i;
    return -1;
  }
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    const want = expectedChunk(kind, seed, start, count, steps);
    const got = y.subarray(start, start + count) as NumberArray;
    if (bytesOf(got).equals(bytesOf(want))) continue;
    for (let k = 0; k < count; k++) if (!Object.is(got[k], want[k])) return start + k;
    return -4; // the bytes differ, not the values (a NaN payload?)
  }
  return -1;
}

/** The sum of the elements of a number array, in index order. */
export function sumOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

// ---- Tasks (run in worker processes) ----

/** x * a + b in a new heap array of x's kind (copied into a segment of the worker when big). */
export function affine(x: TypedArray, a: number, b: number): TypedArray {
  const out = new (x.constructor as TypedArrayConstructor)(x.length);
  affineInto(x, a, b, out);
  return out;
}

/**
 * x * a + b in an array made with empty() (comes back without a copy); then
 * overwrites its own input, which the caller must never see (value semantics).
 */
export function affineShm(x: TypedArray, a: number, b: number): TypedArray {
  const out = empty(x.constructor as TypedArrayConstructor, x.length);
  affineInto(x, a, b, out);
  if (x instanceof BigInt64Array || x instanceof BigUint64Array) x.fill(7n);
  else x.fill(7);
  return out;
}

/** gen(seed, i) in an array of `kind` made with empty() in the worker. */
export function generate(kind: Kind, n: number, seed: number): TypedArray {
  const out = empty(KINDS[kind], n);
  fillGen(out, seed);
  return out;
}

export interface Bundle {
  a: Float64Array;
  b: Int32Array;
  c: Uint8Array;
  /** Two views of one buffer. */
  left: Float32Array;
  right: Float32Array;
  tag: string;
  seed: number;
  extra: Map<string, Uint16Array>;
}

export interface BundleResult {
  tag: string;
  sumA: number;
  b: Int32Array;
  cReversed: Uint8Array;
  sameBuffer: boolean;
  leftSum: number;
  rightSum: number;
  extra: Map<string, number>;
  scaled: { deep: [Float64Array] };
}

/** An object holding several arrays in, another out. */
export function bundle(input: Bundle): BundleResult {
  const b = new Int32Array(input.b.length);
  affineInto(input.b, 2, 1, b);
  const scaled =
    input.seed % 2 === 0 ? empty(Float64Array, input.a.length) : new Float64Array(input.a.length);
  affineInto(input.a, 3, -1, scaled);
  return {
    tag: input.tag,
    sumA: sumOf(input.a),
    b,
    cReversed: input.c.slice().reverse(),
    sameBuffer: input.left.buffer === input.right.buffer,
    leftSum: sumOf(input.left),
    rightSum: sumOf(input.right),
    extra: new Map([...input.extra].map(([k, v]) => [k, sumOf(v)])),
    scaled: { deep: [scaled] },
  };
}

/** x * a + b in place (for shared() arguments); returns the length. */
export function affineInPlace(x: TypedArray, a: number, b: number): number {
  affineInto(x, a, b, x);
  return x.length;
}

/** Adds 1 to every element of a shared() array, in place. */
export function addOneInPlace(x: Float64Array): number {
  for (let i = 0; i < x.length; i++) x[i]! += 1;
  return x.length;
}

/** Busy for `ms` milliseconds (stopped earlier only by a timeout, an abort or a kill). */
export function spin(ms: number): string {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spinning
  }
  return 'spun';
}

/** Resolves with `ms` after `ms` milliseconds. */
export function sleep(ms: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(ms), ms));
}

export function pid(): number {
  return process.pid;
}
