// The process-wide state of shared memory: one SegmentBook per directory
// (made on first use, its owned names removed at exit), and the directory
// where empty(), zeros() and from() allocate.
import { resolve } from 'node:path';
import { POOL_DEFAULTS } from '../tuning.js';
import { SegmentBook } from './segment-book.js';
import type { SegmentPoolOptions } from './segment-pool.js';
import { defaultShmDir, SegmentStore } from './segment-store.js';

const books = new Map<string, SegmentBook>();

/** Pool limits for every book of this process; see configureSharedMemory(). */
let poolOptions: SegmentPoolOptions = POOL_DEFAULTS;

export function setPoolOptions(options: SegmentPoolOptions): void {
  poolOptions = options;
  for (const book of books.values()) book.pool.configure(options);
}

export function getPoolOptions(): SegmentPoolOptions {
  return poolOptions;
}

/** Names of segments adopted by this process (both names of each), which sweeps must leave alone. */
export function adoptedSegmentNames(): Set<string> {
  return new Set([...books.values()].flatMap((book) => book.adoptedNames()));
}

/** Every book of this process, one per shared-memory directory used. */
export function segmentBooks(): Iterable<SegmentBook> {
  return books.values();
}

/**
 * What the parent's collection rule counts, over every book of this thread:
 * the rule is one per thread (a collection frees dropped arrays of every
 * directory), so it must compare one running count, not each directory's own
 * against a mark another directory's count set.
 */
export function bytesHeldSinceCollection(): { held: number; copyOnWrite: number } {
  let held = 0;
  let copyOnWrite = 0;
  for (const book of books.values()) {
    held += book.bytesHeldSinceCollection;
    copyOnWrite += book.copyOnWriteBytesTracked;
  }
  return { held, copyOnWrite };
}

let helperDir: string | undefined; // undefined: the default directory, read when used
let helperDirChosen = false;

/**
 * Where empty(), zeros() and from() allocate: in a worker, its executor's
 * directory; in a program, the one configureSharedMemory({ dir }) chose
 * (`chosen`), else that of the latest executor made on another directory
 * than the default one ($SHMEX_SHM_DIR, else /dev/shm).
 */
export function setHelperDirectory(dir: string, chosen = true): void {
  if (!chosen && helperDirChosen) return;
  helperDir = resolve(dir);
  if (chosen) helperDirChosen = true;
}

export function getHelperDirectory(): string {
  return helperDir ?? resolve(defaultShmDir());
}

/** The book empty(), zeros() and from() allocate in. */
export function helperBook(): SegmentBook {
  return segmentBook(getHelperDirectory());
}

/** The process-wide book for a shared-memory directory. */
export function segmentBook(directory: string): SegmentBook {
  const dir = resolve(directory); // '/dev/shm/' and '/dev/shm' are one directory, one book
  let book = books.get(dir);
  if (book === undefined) {
    book = new SegmentBook(new SegmentStore(dir), poolOptions);
    books.set(dir, book);
    if (books.size === 1) {
      // Names of segments this process owns must not outlive it (mappings elsewhere stay valid).
      process.on('exit', () => {
        for (const b of books.values()) b.store.remove(b.namesToRemoveAtExit());
      });
    }
  }
  return book;
}
