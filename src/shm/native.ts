// The one module that loads the compiled addon (native/shm.c). Everything
// else imports its typed surface from here.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeShm {
  /**
   * Creates `path` exclusively (mode 0600) with `size` bytes, maps it shared and writable, and
   * reserves the space of its first `reserve` bytes (all if not given); the rest is a hole. The
   * ArrayBuffer shows (and V8 counts as external memory) its first `window` bytes (all if not
   * given); view(), write() and fill() reach the whole mapping.
   */
  create(path: string, size: number, reserve?: number, window?: number): ArrayBuffer;
  /** Reserves the space of the first `bytes` of an existing segment file (ENOSPC if full). */
  reserve(path: string, bytes: number): boolean;
  /**
   * Opens an existing file (never following a symbolic link, never blocking on a FIFO) and returns
   * its descriptor, to be checked and given to map(); the caller closes it with close().
   */
  open(path: string, readWrite: boolean): number;
  /** Closes a descriptor from open() (not fs.closeSync, which warns in a worker thread about one it did not open). */
  close(fd: number): boolean;
  /**
   * Maps the pages of the file open on `fd` that cover [offset, offset + length), and returns that
   * range (its first `window` bytes shown, as in create()). Refuses (EPERM) a file that is not a
   * regular file of this user, and (EINVAL) a range beyond its end. `fd` stays open.
   */
  map(
    fd: number,
    offset: number,
    length: number,
    writable: boolean,
    privateCopy: boolean,
    window?: number,
  ): ArrayBuffer;
  /** A new ArrayBuffer over [offset, offset + length) of a mapping made by create/map, sharing its memory. */
  view(mapping: ArrayBuffer, offset: number, length: number): ArrayBuffer;
  /** Copies `bytes` into a mapping made by create/map at `offset` (anywhere in it, past its window too). */
  write(mapping: ArrayBuffer, offset: number, bytes: Uint8Array): void;
  /** Zeroes [offset, offset + length) of a mapping made by create/map (anywhere in it). */
  fill(mapping: ArrayBuffer, offset: number, length: number): void;
  /** Detaches (and, for create/map, unmaps) a buffer made here; false for any other buffer. */
  release(buffer: ArrayBuffer): boolean;
  /** Removes a name; false if it was already gone. */
  unlink(path: string): boolean;
  /** Frees a create/map mapping's pages in its file now (MADV_REMOVE); false for any other buffer. */
  discard(mapping: ArrayBuffer): boolean;
  /**
   * From now on, when the parent dies (killed, or ended by a signal without running exit handlers),
   * remove the files of `dir` whose names start with one of `prefixes`, then exit at once, even
   * from synchronous code. Calling it again replaces the directory and prefixes.
   */
  watchParent(parentPid: number, dir: string, prefixes: string[]): void;
  /** Gives malloc's free heap memory back to the system (glibc's malloc_trim); false if nothing was given back. */
  trimHeap(): boolean;
  /**
   * The bytes V8 counts as external memory now (the figure its collection heuristics use; every
   * ArrayBuffer's byteLength is in it, mapped ones too). For measurements and tests.
   */
  externalMemory(): number;
}

const require = createRequire(import.meta.url);

// dist/shm/native.js -> the package root, which holds build/Release (a build
// from source) or prebuilds/<platform>-<arch>/ (shipped in the package).
// node-gyp-build picks the first that matches this platform, arch and libc.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

function load(): NativeShm {
  const loadBinding = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return loadBinding(packageRoot) as NativeShm;
  } catch (error) {
    throw new Error(
      `shmex: no native addon for ${process.platform}-${process.arch} (${libcName()}) could be loaded. ` +
        'The package ships one prebuilt for Linux x64 with glibc 2.28 or later; anywhere else it must ' +
        'be built from source, which needs python3, make and a C compiler: run `npm rebuild shmex` ' +
        '(and, with npm 11, `npm install-scripts approve shmex` so that later installs build it too). ' +
        'The loader said: ' +
        (error instanceof Error ? error.message.trim() : String(error)),
      { cause: error },
    );
  }
}

function libcName(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'not glibc';
}

export const native: NativeShm = load();
