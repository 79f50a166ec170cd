// Where segments live (a shared-memory directory, default /dev/shm), and the
// one way to make, name, remove and map their files: create / link / remove /
// attach. Nothing else in shmex creates or removes a segment file (the one
// exception is native/shm.c's parent-death handler, which may call nothing
// but async-signal-safe functions).
//
// Names arrive from other processes, so everything that turns a name into a
// path checks it first (requireSegmentName: nothing outside the directory can
// be named), and attach() opens the file once and checks it on that
// descriptor before mapping that descriptor: a regular file of this user (not
// a symbolic link, directory or FIFO), large enough, and, where the data
// starts after a header, a .npy header that describes exactly the bytes the
// sender said are there.
import { linkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemoryError } from '../errors.js';
import { native } from './native.js';
import { explainNativeError } from './native-errors.js';
import { MAX_NPY_HEADER_LENGTH, NpyHeaderError, parseNpyHeader } from './npy-header.js';
import { fileKind, type Opened, openFile } from './open-file.js';
import { requireSegmentName, showName } from './segment-names.js';

export const DEFAULT_SHM_DIR = '/dev/shm';

/**
 * The directory used where none is given: $SHMEX_SHM_DIR, else /dev/shm.
 * Read at each use, not at import, so a program (or a test file) may set it
 * after importing shmex, and the processes it spawns inherit it.
 */
export function defaultShmDir(): string {
  const dir = process.env.SHMEX_SHM_DIR;
  return dir === undefined || dir === '' ? DEFAULT_SHM_DIR : dir;
}

/** The error for a segment that must not be mapped. */
function refuse(name: string, why: string, errno = 'EINVAL', cause?: unknown): SharedMemoryError {
  return new SharedMemoryError(
    `refusing to map shared-memory segment ${showName(name)}: ${why}`,
    undefined,
    errno,
    cause === undefined ? undefined : { cause },
  );
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Checks that the first bytes of a segment are a .npy header whose length is
 * `dataOffset` and which describes exactly `byteLength` bytes of data.
 * `bytes` may run on past the header (a whole mapping).
 */
export function checkSegmentHeader(
  name: string,
  bytes: Uint8Array,
  dataOffset: number,
  byteLength: number,
): void {
  let header: ReturnType<typeof parseNpyHeader>;
  try {
    header = parseNpyHeader(bytes);
  } catch (error) {
    if (error instanceof NpyHeaderError)
      throw refuse(name, `its .npy header ${error.message}`, 'EINVAL', error);
    throw error;
  }
  if (header.headerLength !== dataOffset) {
    throw refuse(
      name,
      `its .npy header is ${header.headerLength} bytes long, but the data was said to start at byte ${dataOffset}`,
    );
  }
  if (header.dataLength !== byteLength) {
    const descr =
      typeof header.descr === 'string' ? `'${header.descr}'` : `records of ${header.itemsize} bytes`;
    const shape = header.shape.length === 1 ? `(${header.shape[0]},)` : `(${header.shape.join(', ')})`;
    throw refuse(
      name,
      `its .npy header describes ${header.dataLength} bytes of data (dtype ${descr}, shape ${shape}), ` +
        `but ${byteLength} were sent`,
    );
  }
}

export class SegmentStore {
  readonly dir: string;

  constructor(dir: string = defaultShmDir()) {
    this.dir = dir;
  }

  /** The path of a segment; throws SharedMemoryError (EINVAL) for anything but a shmex segment name. */
  path(name: string): string {
    requireSegmentName(name);
    return join(this.dir, name);
  }

  /**
   * A new segment of `size` bytes, mapped shared and writable: created
   * exclusively (never someone else's file, EEXIST) with mode 0600, the
   * space of its first `reserve` bytes (all by default) reserved, so that a
   * full directory fails here (ENOSPC) and not with SIGBUS at the first
   * write. Nothing may be written past them before reserve() (a hole takes
   * no memory: a segment of a larger size class than its data holds no more
   * than its data).
   */
  create(name: string, size: number, reserve = size, window = size): ArrayBuffer {
    const path = this.path(name);
    try {
      return native.create(path, size, reserve, window);
    } catch (error) {
      throw explainNativeError(error, { op: 'create', dir: this.dir, name, capacity: size });
    }
  }

  /** Reserves the space of the first `bytes` of a segment made by create() (ENOSPC as create). */
  reserve(name: string, bytes: number): void {
    try {
      native.reserve(this.path(name), bytes);
    } catch (error) {
      throw explainNativeError(error, { op: 'create', dir: this.dir, name, capacity: bytes });
    }
  }

  /** A second name for a segment (a hard link); throws if `name` is gone or `newName` taken. */
  link(name: string, newName: string): void {
    linkSync(this.path(name), this.path(newName));
  }

  /** Removes names that may still exist; names already gone, and names that are not segment names, are skipped. */
  remove(names: Iterable<string>): void {
    for (const name of names) {
      try {
        native.unlink(this.path(name));
      } catch {
        // Nothing more can be done for a name we may not remove; sweeps report it.
      }
    }
  }

  /**
   * Maps [offset, offset + length) of a segment another process made, or
   * only `range` of it (relative to `offset`): the pages that cover it. With
   * `offset` > 0 the range is a segment's data, after its .npy header, and
   * the header must describe it; `offset` 0 maps a whole file (a segment
   * whose header the caller checks in the mapped bytes, or a headerless page).
   * The ArrayBuffer shows the first `window` bytes of the range (see create()).
   */
  attach(
    name: string,
    offset: number,
    length: number,
    privateCopy: boolean,
    range: { start: number; length: number } = { start: 0, length },
    window = range.length,
  ): ArrayBuffer {
    if (![offset, length, range.start, range.length].every(isSize) || range.start + range.length > length) {
      throw refuse(
        name,
        `bad byte range [${range.start}, +${range.length}) of [${offset}, +${length}): not non-negative integers within it`,
      );
    }
    const opened = openFile(this.path(name), !privateCopy);
    if (!opened.ok) throw this.#cannotOpen(name, opened);
    const { fd, stat } = opened;
    try {
      if (!stat.isFile()) throw refuse(name, `it is ${fileKind(stat)}, not a regular file`);
      const euid = process.geteuid?.();
      if (euid !== undefined && stat.uid !== euid) {
        throw refuse(name, `it belongs to user ${stat.uid}, not to this process's user ${euid}`, 'EPERM');
      }
      if (stat.size === 0 || offset + length > stat.size) {
        throw refuse(name, `the range [${offset}, +${length}) lies beyond its ${stat.size} bytes`);
      }
      if (offset > 0) {
        const bytes = Buffer.allocUnsafe(Math.min(offset, MAX_NPY_HEADER_LENGTH));
        const read = readSync(fd, bytes, 0, bytes.length, 0);
        checkSegmentHeader(name, bytes.subarray(0, read), offset, length);
      }
      try {
        return native.map(fd, offset + range.start, range.length, true, privateCopy, window);
      } catch (error) {
        throw explainNativeError(error, { op: 'map', dir: this.dir, name });
      }
    } finally {
      native.close(fd);
    }
  }

  #cannotOpen(name: string, failed: Extract<Opened, { ok: false }>): SharedMemoryError {
    if (failed.kind === 'a symbolic link')
      return refuse(name, 'it is a symbolic link, not a segment', 'ELOOP', failed.error);
    if (failed.kind !== undefined)
      return refuse(name, `it is ${failed.kind}, not a regular file`, failed.code, failed.error);
    return explainNativeError(failed.error, { op: 'map', dir: this.dir, name });
  }
}
