// Where segments live (a shared-memory directory, default /dev/shm), and
// native errors turned into SharedMemoryError with a message that says what
// to do.
import { join } from 'node:path';
import { SharedMemoryError } from '../errors.js';
import { native } from './native.js';

export const DEFAULT_SHM_DIR = '/dev/shm';

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

export class SegmentStore {
  readonly dir: string;

  constructor(dir: string = DEFAULT_SHM_DIR) {
    this.dir = dir;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Maps [offset, offset + length) of a segment another process made. */
  attach(name: string, offset: number, length: number, privateCopy: boolean): ArrayBuffer {
    try {
      return native.attach(this.path(name), offset, length, true, privateCopy);
    } catch (error) {
      throw explainNativeError(error, `map shared-memory segment ${name}`, this.dir);
    }
  }

  /** Removes names that may still exist; names already gone are skipped. */
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
