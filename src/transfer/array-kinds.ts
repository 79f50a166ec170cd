// The views that travel through shared memory, each with a stable index for
// the wire format and its numpy dtype for segment headers.
import { InvalidArgumentError } from '../errors.js';

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

interface ViewKind {
  /** How a view of this kind is rebuilt over a buffer. */
  make(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): ArrayBufferView;
  dtype: string;
  bytesPerElement: number;
}

function typed(ctor: TypedArrayConstructor, dtype: string): ViewKind {
  return {
    make: (buffer, byteOffset, byteLength) =>
      new ctor(buffer as ArrayBuffer, byteOffset, byteLength / ctor.BYTES_PER_ELEMENT),
    dtype,
    bytesPerElement: ctor.BYTES_PER_ELEMENT,
  };
}

const TYPED: ReadonlyArray<readonly [TypedArrayConstructor, string]> = [
  [Int8Array, '|i1'],
  [Uint8Array, '|u1'],
  [Uint8ClampedArray, '|u1'],
  [Int16Array, '<i2'],
  [Uint16Array, '<u2'],
  [Int32Array, '<i4'],
  [Uint32Array, '<u4'],
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [BigInt64Array, '<i8'],
  [BigUint64Array, '<u8'],
];

/** Every TypedArray constructor that travels with its numpy dtype, in wire order. */
export const TYPED_ARRAY_DTYPES = TYPED;

/** Every TypedArray constructor that travels, in wire order. */
export const TYPED_ARRAY_CONSTRUCTORS: readonly TypedArrayConstructor[] = TYPED.map(([ctor]) => ctor);

/** Index in this table = the kind's number on the wire. */
export const VIEW_KINDS: readonly ViewKind[] = [
  ...TYPED.map(([ctor, dtype]) => typed(ctor, dtype)),
  {
    make: (buffer, byteOffset, byteLength) => new DataView(buffer as ArrayBuffer, byteOffset, byteLength),
    dtype: '|u1',
    bytesPerElement: 1,
  },
  {
    make: (buffer, byteOffset, byteLength) => Buffer.from(buffer as ArrayBuffer, byteOffset, byteLength),
    dtype: '|u1',
    bytesPerElement: 1,
  },
];

export const DATA_VIEW_KIND = TYPED.length;
export const BUFFER_KIND = TYPED.length + 1;

const KIND_BY_CONSTRUCTOR = new Map<unknown, number>([
  ...TYPED.map(([ctor], i) => [ctor, i] as const),
  [DataView, DATA_VIEW_KIND],
  [Buffer, BUFFER_KIND],
]);

/**
 * `alias` stands for the constructor `original` (a worker's replacement of a
 * global, see worker/shared-arrays.ts): empty(alias, n) and the like take it.
 */
export function aliasTypedArrayConstructor(alias: unknown, original: TypedArrayConstructor): void {
  KIND_BY_CONSTRUCTOR.set(alias, KIND_BY_CONSTRUCTOR.get(original)!);
}

/** The wire kind of a view, or undefined for a subclass shmex cannot rebuild. */
export function viewKindOf(view: ArrayBufferView): number | undefined {
  return KIND_BY_CONSTRUCTOR.get(view.constructor);
}

export function isTypedArrayConstructor(value: unknown): value is TypedArrayConstructor {
  const kind = KIND_BY_CONSTRUCTOR.get(value);
  return kind !== undefined && kind < TYPED.length;
}

export function requireTypedArrayConstructor(value: unknown, where: string): TypedArrayConstructor {
  if (!isTypedArrayConstructor(value)) {
    throw new InvalidArgumentError(`${where}: expected a TypedArray constructor such as Float64Array`);
  }
  return value;
}
