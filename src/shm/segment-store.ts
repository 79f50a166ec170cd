// Creating, attaching and removing segments: files in a shared-memory
// directory (default /dev/shm). Turns native errors into SharedMemoryError
// with a message that says what to do.
import { join } from 'node:path';
import { SharedMemoryError } from '../errors.js';
import { native } from './native.js';
import { type NpyLayout, npyHeaderLength, writeNpyHeader } from './npy-header.js';
import { newSegmentName } from './segment-names.js';

export const DEFAULT_SHM_DIR = '/dev/shm';

/** What a receiver needs to map a segment: carried in a task's or result's payload. */
export interface SegmentRef {
  name: string;
  dataOffset: number;
  byteLength: number;
}

interface NativeError extends Error {
  code?: string;
  syscall?: string;
}

function explain(error: unknown, action: string, dir: string): SharedMemoryError {
  const e = error as NativeError;
  const code = e.code ?? 'EUNKNOWN';
  let hint = '';
  if (code === 'ENOSPC' || code === 'EFBIG') {
    hint = ` The shared-memory directory ${dir} is full: free space there (shmex clear removes segments of dead processes) or pass smaller arrays.`;
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

  /**
   * Creates a new segment holding `source`'s bytes after a .npy header and
   * unmaps it again: the creator keeps no mapping, the receiver maps it.
   */
  write(source: ArrayBufferLike, layout: NpyLayout): SegmentRef {
    const dataOffset = npyHeaderLength(layout);
    const byteLength = source.byteLength;
    const name = newSegmentName();
    const path = this.path(name);
    let mapping: ArrayBuffer;
    try {
      mapping = native.create(path, dataOffset + byteLength);
    } catch (error) {
      throw explain(
        error,
        `create a shared-memory segment of ${dataOffset + byteLength} bytes in ${this.dir}`,
        this.dir,
      );
    }
    try {
      writeNpyHeader(new Uint8Array(mapping, 0, dataOffset), layout);
      new Uint8Array(mapping, dataOffset, byteLength).set(new Uint8Array(source));
    } catch (error) {
      native.unlink(path);
      throw error;
    } finally {
      native.release(mapping);
    }
    return { name, dataOffset, byteLength };
  }

  /**
   * Maps a segment made by another process and removes its name at once: from
   * here on the memory lives exactly as long as the returned buffer.
   */
  take(ref: SegmentRef): ArrayBuffer {
    const path = this.path(ref.name);
    let buffer: ArrayBuffer;
    try {
      buffer = native.attach(path, ref.dataOffset, ref.byteLength, true, false);
    } catch (error) {
      throw explain(error, `map shared-memory segment ${ref.name}`, this.dir);
    }
    native.unlink(path);
    return buffer;
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

  /** Unmaps a buffer now rather than after garbage collection. */
  static release(buffer: ArrayBuffer): boolean {
    return native.release(buffer);
  }
}
