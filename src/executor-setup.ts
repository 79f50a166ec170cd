// What making an executor does beyond checking its options (resolve-options.ts),
// in one place: it chooses the directory, encodes the initializer's
// arguments, sweeps the segments of dead processes, and may point the array
// helpers of this process at the executor's directory.
import { resolve } from 'node:path';
import type { TaskRef } from './pool/protocol.js';
import type { ResolvedOptions } from './resolve-options.js';
import { segmentBook, setHelperDirectory } from './shm/books.js';
import { chooseDirectory, unusableBecause } from './shm/directory-choice.js';
import type { SegmentBook } from './shm/segment-book.js';
import { shmClear } from './shm/sweep.js';
import { type FunctionTasks, taskRefOf } from './task-ref.js';
import { type Encoded, encode } from './transfer/encode.js';

export interface ExecutorSetup {
  /** `shmDir`, or `fallbackDir` if it was taken. */
  shmDir: string;
  book: SegmentBook;
  initializer: TaskRef | undefined;
  /** Encoded inline (no segments): every worker decodes the same bytes. */
  initargs: Encoded | undefined;
}

/** The side effects of constructing an executor; `functions` learns the initializer, if it is a function. */
export function setUpExecutor(
  options: ResolvedOptions,
  structuredClone: boolean,
  functions: FunctionTasks,
  defaultShmDir: string,
): ExecutorSetup {
  const shmDir = chooseDirectory(options.shmDir, options.fallbackDir).dir;
  const book = segmentBook(shmDir);
  const initializer =
    options.initializer === undefined ? undefined : taskRefOf(options.initializer, functions, 'initializer');
  const initargs =
    initializer === undefined ? undefined : encodeInitargs(options.initargs, book, structuredClone);
  // Segments whose owners died (a crashed run, a killed parent) go now.
  shmClear({ dir: shmDir });
  // Arrays made with empty()/zeros()/from() in this process go where this executor's segments
  // go (so they travel without a copy), unless configureSharedMemory({ dir }) chose already.
  if (resolve(shmDir) !== resolve(defaultShmDir) && unusableBecause(shmDir, 0) === undefined) {
    setHelperDirectory(shmDir, false);
  }
  return { shmDir, book, initializer, initargs };
}

function encodeInitargs(initargs: unknown[], book: SegmentBook, structuredClone: boolean): Encoded {
  const options = { book, threshold: Infinity, inlineOnly: true, structuredClone, outerLevels: 1 };
  return encode(initargs, options, 'initargs').data;
}
