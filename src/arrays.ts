// Arrays that live in shared memory from the start. Passed to a task they
// travel without a copy (the worker maps them copy-on-write, so value
// semantics hold); made inside a task and returned, they come back without a
// copy. release() hands an array's memory back at once instead of at GC.
import { InvalidArgumentError } from './errors.js';
import { releaseLoaded } from './load.js';
import { describeValue, rejectUnknownKeys } from './options.js';
import { getPoolOptions, helperBook, segmentBooks, setHelperDirectory, setPoolOptions } from './shm/books.js';
import { quoteDescr } from './shm/npy-header.js';
import {
  requireTypedArrayConstructor,
  type TypedArray,
  type TypedArrayConstructor,
  VIEW_KINDS,
  viewKindOf,
} from './transfer/array-kinds.js';
import {
  RecordArray,
  type RecordFieldList,
  RecordLayout,
  type RecordLayoutSpec,
} from './transfer/records.js';
import { SharedReference } from './transfer/shared-reference.js';

function length(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${where}: length must be a non-negative integer, got ${describeValue(value)}`,
    );
  }
  return value;
}

type LayoutArgument = RecordLayout | RecordFieldList | RecordLayoutSpec;

/** A constructor is a function; a record layout is an object (a RecordLayout, a field list or numpy's dict form). */
function isLayout(value: unknown): value is LayoutArgument {
  return typeof value === 'object' && value !== null;
}

/**
 * A typed array of `n` elements in shared memory, or, given a record layout,
 * a RecordArray of `n` records (its segment's .npy header names the fields).
 * Its contents are unspecified (recycled memory): fill it.
 */
export function empty<C extends TypedArrayConstructor>(ctor: C, n: number): InstanceType<C>;
export function empty(layout: LayoutArgument, n: number): RecordArray;
export function empty(kind: TypedArrayConstructor | LayoutArgument, n: number): TypedArray | RecordArray {
  if (isLayout(kind)) return allocateRecords(kind, n, 'empty');
  return allocate(kind, n, 'empty');
}

function allocateRecords(spec: LayoutArgument, n: number, where: string): RecordArray {
  const layout = spec instanceof RecordLayout ? spec : new RecordLayout(spec);
  const count = length(n, where);
  if (count === 0) return new RecordArray(layout, count);
  const buffer = helperBook().allocate(count * layout.itemsize, {
    descr: layout.npyDescr(),
    shape: [count],
  });
  return new RecordArray(layout, buffer);
}

function allocate<C extends TypedArrayConstructor>(ctor: C, n: number, where: string): InstanceType<C> {
  const Ctor = requireTypedArrayConstructor(ctor, where);
  const count = length(n, where);
  if (count === 0) return new Ctor(count) as InstanceType<C>;
  const kind = VIEW_KINDS[viewKindOf(new Ctor(0))!]!;
  const buffer = helperBook().allocate(count * Ctor.BYTES_PER_ELEMENT, {
    descr: quoteDescr(kind.dtype),
    shape: [count],
  });
  return new Ctor(buffer) as InstanceType<C>;
}

/** A typed array of `n` zeros in shared memory, or, given a record layout, `n` records of zeros. */
export function zeros<C extends TypedArrayConstructor>(ctor: C, n: number): InstanceType<C>;
export function zeros(layout: LayoutArgument, n: number): RecordArray;
export function zeros(kind: TypedArrayConstructor | LayoutArgument, n: number): TypedArray | RecordArray {
  if (isLayout(kind)) {
    const records = allocateRecords(kind, n, 'zeros');
    records.bytes().fill(0);
    return records;
  }
  const array = allocate(kind, n, 'zeros');
  array.fill((isBigIntArray(array) ? 0n : 0) as never);
  return array;
}

/** A typed array in shared memory holding a copy of `source` (an array-like or iterable of numbers or bigints). */
export function from<C extends TypedArrayConstructor>(
  ctor: C,
  source: ArrayLike<number> | ArrayLike<bigint> | Iterable<number> | Iterable<bigint>,
): InstanceType<C> {
  requireTypedArrayConstructor(ctor, 'from');
  if (source === null || (typeof source !== 'object' && typeof source !== 'string')) {
    throw new InvalidArgumentError(
      `from: source must be an array-like or iterable, got ${describeValue(source)}`,
    );
  }
  const items =
    typeof (source as ArrayLike<unknown>).length === 'number'
      ? (source as ArrayLike<number>)
      : Array.from(source as Iterable<number>);
  const array = allocate(ctor, items.length, 'from');
  try {
    (array as unknown as { set(items: ArrayLike<unknown>): void }).set(items);
  } catch (error) {
    release(array as unknown as Releasable);
    const wants = isBigIntArray(array) ? 'bigint values' : 'numbers, not bigints';
    throw new InvalidArgumentError(`from: ${ctor.name} holds ${wants}: ${(error as Error).message}`);
  }
  return array;
}

type Releasable = ArrayBufferView | ArrayBuffer | RecordArray;

function isBigIntArray(array: unknown): boolean {
  return array instanceof BigInt64Array || array instanceof BigUint64Array;
}

function bufferOf(array: Releasable): ArrayBufferLike {
  return array instanceof RecordArray || ArrayBuffer.isView(array) ? array.buffer : array;
}

/**
 * Gives an array's shared memory back now (to its owner's pool) instead of
 * when the array is garbage-collected, and makes the array unusable: its
 * buffer is detached, so it reads as empty rather than dangling. Every view of
 * the same buffer is released with it. An array loadNpy() mapped is unmapped
 * the same way. Returns false for an array that does not live in shared
 * memory and was not loaded (nothing happens to it).
 */
export function release(array: Releasable): boolean {
  const buffer = bufferOf(array);
  if (!(buffer instanceof ArrayBuffer)) return false;
  if (releaseLoaded(buffer)) return true;
  for (const book of segmentBooks()) if (book.release(buffer)) return true;
  return false;
}

export interface SharedMemoryOptions {
  /**
   * Where empty(), zeros() and from() make arrays in this process.
   * @default $SHMEX_SHM_DIR (else '/dev/shm'), or the directory of the latest executor made with another shmDir (or fallbackDir)
   */
  dir?: string;
  /** Free pooled segments idle this long (ms) are unlinked. @default 2000 */
  idleTrimMs?: number;
  /** Free pooled segments beyond this many bytes are unlinked at once, oldest first. @default 2147483648 (2 GiB) */
  maxIdleBytes?: number;
}

/**
 * Sets how long this process keeps free segments for reuse, how many bytes
 * of them at most, and where empty()/zeros()/from() make arrays. Applies to
 * this process only (workers keep the defaults, and use their executor's
 * directory).
 */
export function configureSharedMemory(options: SharedMemoryOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `configureSharedMemory(options): options must be an object such as { idleTrimMs, maxIdleBytes, dir }, got ${describeValue(options)}`,
    );
  }
  rejectUnknownKeys(options, ['idleTrimMs', 'maxIdleBytes', 'dir'], 'configureSharedMemory');
  if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir === '')) {
    throw new InvalidArgumentError(
      `configureSharedMemory: dir must be a directory path, got ${describeValue(options.dir)}`,
    );
  }
  const current = getPoolOptions();
  const idleMs = options.idleTrimMs ?? current.idleMs;
  const maxIdleBytes = options.maxIdleBytes ?? current.maxIdleBytes;
  if (
    typeof idleMs !== 'number' ||
    !(idleMs >= 0) ||
    typeof maxIdleBytes !== 'number' ||
    !(maxIdleBytes >= 0)
  ) {
    throw new InvalidArgumentError(
      `configureSharedMemory: idleTrimMs and maxIdleBytes must be non-negative numbers (milliseconds, bytes), got ${describeValue(idleMs)} and ${describeValue(maxIdleBytes)}`,
    );
  }
  setPoolOptions({ idleMs, maxIdleBytes });
  if (options.dir !== undefined) setHelperDirectory(options.dir);
}

/**
 * Gives the idle segments of this process's pool back to the OS now, instead
 * of after they have been idle for a while (2 s). Returns the names removed.
 */
export function trimSharedMemory(): string[] {
  return [...segmentBooks()].flatMap((book) => book.pool.trim(0));
}

/** Whether an array lives in shared memory (and so travels to tasks without a copy). */
export function inSharedMemory(array: Releasable): boolean {
  const buffer = bufferOf(array);
  return [...segmentBooks()].some((book) => book.infoOf(buffer) !== undefined);
}

/**
 * The path of the segment an array lives in: a `.npy` file (header, then the
 * data 64-byte aligned) that numpy reads with `np.load(path, mmap_mode='r')`.
 * Undefined for an array not in shared memory, or one mapped copy-on-write
 * (a task's zero-copy input), whose writes are this process's own. The file
 * holds the array's whole buffer; it is valid while the array is alive.
 */
export function segmentPath(array: Releasable): string | undefined {
  const buffer = bufferOf(array);
  for (const book of segmentBooks()) {
    const info = book.infoOf(buffer);
    if (info === undefined) continue;
    if (info.privateCopy) return undefined;
    return book.store.path(info.cached?.name ?? info.name);
  }
  return undefined;
}

/**
 * Passes an array by reference: the task maps it shared, so its writes reach
 * the caller's array. The array must live in shared memory (made with
 * empty/zeros/from, or returned by a task). Use it as an argument of submit,
 * map or a module task; the task sees a plain typed array.
 */
export function shared<T extends ArrayBufferView>(array: T): T {
  if (!ArrayBuffer.isView(array))
    throw new InvalidArgumentError('shared(array): expected a typed array or DataView');
  return new SharedReference(array) as unknown as T;
}
