// Where segments live (a shared-memory directory, default /dev/shm), and
// native errors turned into SharedMemoryError with a message that says what
// to do.
//
// Names arrive from other processes, so everything that turns a name into a
// path checks it first (requireSegmentName: nothing outside the directory can
// be named), and attach() looks at the file before mapping it: a regular
// file of this user (not a symbolic link, directory or FIFO), large enough,
// and, where the data starts after a header, a .npy header that describes
// exactly the bytes the sender said are there.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SharedMemoryError } from '../errors.js';
import { native } from './native.js';
import { MAX_NPY_HEADER_LENGTH, NpyHeaderError, parseNpyHeader } from './npy-header.js';
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

interface NativeError extends Error {
  code?: string;
  syscall?: string;
}

export function explainNativeError(error: unknown, action: string, dir: string): SharedMemoryError {
  const e = error as NativeError;
  const code = e.code ?? 'EUNKNOWN';
  let hint = '';
  if (code === 'ENOSPC' || code === 'EFBIG') {
    hint = ` The shared-memory directory ${dir} is full: free space there (shmClear() removes segments of dead processes) or pass smaller arrays.`;
  } else if (code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM') {
    hint = ' The process ran out of file descriptors or mappings: release arrays you no longer need.';
  } else if (code === 'ENOENT') {
    hint = ' The segment is gone: its owner removed it or died.';
  }
  return new SharedMemoryError(`cannot ${action}: ${e.message} (${code}).${hint}`, e.syscall, code, {
    cause: error,
  });
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

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
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
   * Maps [offset, offset + length) of a segment another process made. With
   * `offset` > 0 the range is a segment's data, after its .npy header, and
   * the header must describe it; `offset` 0 maps a whole file (a segment
   * whose header the caller checks, or a headerless page).
   */
  attach(name: string, offset: number, length: number, privateCopy: boolean): ArrayBuffer {
    if (!isSize(offset) || !isSize(length)) {
      throw refuse(name, `bad byte range [${offset}, +${length}): not non-negative integers`);
    }
    const path = this.path(name);
    this.#inspect(name, path, offset, length);
    try {
      return native.attach(path, offset, length, true, privateCopy);
    } catch (error) {
      throw explainNativeError(error, `map shared-memory segment ${name}`, this.dir);
    }
  }

  /**
   * Opens the file without following a symbolic link and without blocking
   * (a FIFO would block an ordinary open until someone writes to it), and
   * checks what it is before the native layer opens it again to map it.
   */
  #inspect(name: string, path: string, offset: number, length: number): void {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NativeError).code;
      if (code === 'ELOOP') throw refuse(name, 'it is a symbolic link, not a segment', 'ELOOP', error);
      // A socket cannot be opened at all (ENXIO): say what it is.
      let st: Stats | undefined;
      try {
        st = code === 'ENOENT' ? undefined : lstatSync(path, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st !== undefined && !st.isFile())
        throw refuse(name, `it is ${fileKind(st)}, not a regular file`, code, error);
      throw explainNativeError(error, `map shared-memory segment ${name}`, this.dir);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw refuse(name, `it is ${fileKind(st)}, not a regular file`);
      const euid = process.geteuid?.();
      if (euid !== undefined && st.uid !== euid) {
        throw refuse(name, `it belongs to user ${st.uid}, not to this process's user ${euid}`, 'EPERM');
      }
      if (st.size === 0 || offset + length > st.size) {
        throw refuse(name, `the range [${offset}, +${length}) lies beyond its ${st.size} bytes`);
      }
      if (offset > 0) {
        const bytes = Buffer.allocUnsafe(Math.min(offset, MAX_NPY_HEADER_LENGTH));
        const read = readSync(fd, bytes, 0, bytes.length, 0);
        checkSegmentHeader(name, bytes.subarray(0, read), offset, length);
      }
    } finally {
      closeSync(fd);
    }
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
}
