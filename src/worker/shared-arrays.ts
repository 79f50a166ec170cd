// workerAllocator: 'shared', the default (in a thread, the thread's own
// globals are replaced, never its process's main thread's). A task that returns
// `new Float64Array(n)` would make its result on the heap, and the worker
// would then copy it into a segment (23 ms for 160 MB here, a fifth of the
// task), holding the array, its copy and the argument's copy at once. V8
// lets JavaScript neither choose where an ArrayBuffer's memory comes from nor
// hook its allocator, so the only way to make such an array in shared memory
// is to change what the name `Float64Array` means in the worker: each global
// typed-array constructor is replaced by a function that makes large arrays
// (`new X(length)` of at least SHARED_ARRAY_MIN_BYTES) over a zeroed pooled
// segment (zeroed as it came back to the pool, between tasks:
// segment-pool.ts) and passes every other call on to the original. Its
// results are plain instances of the original (their prototype is the
// original's), so `instanceof`, `ArrayBuffer.isView` and shmex's own
// encoding see nothing new; the prototypes' `constructor` is the replacement,
// so `x.constructor === Float64Array` holds as before.
//
// Costs. Setting a prototype's `constructor` turns off V8's fast path for the
// methods that make a new array of the same kind (subarray, slice, map,
// filter: they look the constructor up): about 40 ns more a call. A dead
// array's segment goes back only after a collection and a turn of the event
// loop (the finalizer runs then), so a synchronous loop making many large
// temporaries would pile up segments: past SHARED_ARRAY_TURN_BYTES made in
// one turn (or a quarter of the directory's size, for a small /dev/shm), and
// whenever a segment cannot be made, arrays are made on the heap as before.
import { statfsSync } from 'node:fs';
import type { SegmentBook } from '../shm/segment-book.js';
import { aliasTypedArrayConstructor, TYPED_ARRAY_DTYPES } from '../transfer/array-kinds.js';
import { SHARED_ARRAY_DIR_SHARE, SHARED_ARRAY_MIN_BYTES, SHARED_ARRAY_TURN_BYTES } from '../tuning.js';

type Constructor = abstract new (...args: never[]) => unknown;

/** Bytes of arrays made in segments in this turn of the event loop. */
let turnBytes = 0;
let resetScheduled = false;

function countTurn(bytes: number): void {
  turnBytes += bytes;
  if (resetScheduled) return;
  resetScheduled = true;
  setImmediate(() => {
    resetScheduled = false;
    turnBytes = 0;
  });
}

/** Bytes of arrays this worker may make in segments in one turn (installSharedArrays). */
let turnLimit = SHARED_ARRAY_TURN_BYTES;

/** A zeroed ArrayBuffer of `bytes` in a segment of `book`, or undefined where the heap must do. */
function sharedBuffer(
  book: SegmentBook,
  bytes: number,
  dtype: string,
  length: number,
): ArrayBuffer | undefined {
  if (turnBytes + bytes > turnLimit) return undefined;
  let buffer: ArrayBuffer;
  try {
    // A recycled segment holds an earlier array's bytes; `new X(n)` promises zeros.
    buffer = book.allocate(bytes, { descr: `'${dtype}'`, shape: [length] }, true);
  } catch {
    // A full directory, no mappings left, a length no segment can hold: the heap does as before
    // (and the built-in throws its own RangeError for a length no array can have).
    return undefined;
  }
  countTurn(bytes);
  return buffer;
}

function sharedConstructor(Original: Constructor, dtype: string, book: SegmentBook): Constructor {
  const bytesPerElement = (Original as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const Shared = function (this: unknown, ...args: unknown[]): unknown {
    // Called without `new`: the original throws its own TypeError.
    if (new.target === undefined) return Reflect.apply(Original as never, this, args);
    const length = args[0];
    if (
      new.target === Shared &&
      args.length === 1 &&
      typeof length === 'number' &&
      Number.isSafeInteger(length) &&
      length * bytesPerElement >= SHARED_ARRAY_MIN_BYTES
    ) {
      const buffer = sharedBuffer(book, length * bytesPerElement, dtype, length);
      if (buffer !== undefined) return Reflect.construct(Original, [buffer]);
    }
    // A class that extends the global one (new.target) gets instances of itself, as before.
    return Reflect.construct(Original, args, new.target === Shared ? Original : new.target);
  };
  // Statics (from, of, BYTES_PER_ELEMENT through %TypedArray%), instanceof and the prototype chain as the original's.
  Object.setPrototypeOf(Shared, Object.getPrototypeOf(Original));
  for (const key of ['prototype', 'BYTES_PER_ELEMENT', 'name', 'length'] as const) {
    Object.defineProperty(Shared, key, Object.getOwnPropertyDescriptor(Original, key)!);
  }
  return Shared as unknown as Constructor;
}

/** Replaces this process's global typed-array constructors (a worker process's, once). */
export function installSharedArrays(book: SegmentBook): void {
  try {
    const fs = statfsSync(book.store.dir);
    turnLimit = Math.min(SHARED_ARRAY_TURN_BYTES, fs.blocks * fs.bsize * SHARED_ARRAY_DIR_SHARE);
  } catch {
    // The directory cannot be read: segments cannot be made either, and the heap does.
  }
  const globals = globalThis as unknown as Record<string, Constructor>;
  for (const [Original, dtype] of TYPED_ARRAY_DTYPES) {
    const name = (Original as unknown as { name: string }).name;
    if (globals[name] !== Original) continue; // replaced already, or by someone else: leave it
    const Shared = sharedConstructor(Original as unknown as Constructor, dtype, book);
    aliasTypedArrayConstructor(Shared, Original);
    Object.defineProperty(globalThis, name, {
      ...Object.getOwnPropertyDescriptor(globalThis, name),
      value: Shared,
    });
    // What arrays see as their constructor: the global name, as code that compares
    // `x.constructor === Float64Array` expects.
    const proto = (Original as unknown as { prototype: object }).prototype;
    Object.defineProperty(proto, 'constructor', {
      ...Object.getOwnPropertyDescriptor(proto, 'constructor'),
      value: Shared,
    });
  }
}
