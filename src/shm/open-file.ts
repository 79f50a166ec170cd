// Mapping a file that exists (a received segment, a .npy file) takes one
// open: native.open gives a descriptor, the caller checks the file on it
// (fstat, and the .npy header read from it) and maps that same descriptor
// with native.map, then closes it. This is what CPython's shared_memory.py
// does (os.fstat(fd), then mmap.mmap(fd, size)): the file checked is the file
// mapped, since nothing is opened again by its path in between.
import { fstatSync, lstatSync, type Stats } from 'node:fs';
import { native } from './native.js';

export type Opened =
  | { ok: true; fd: number; stat: Stats }
  | {
      ok: false;
      error: unknown;
      code: string | undefined;
      /** What is there instead of a regular file ('a symbolic link', 'a FIFO', ...), if that is why. */
      kind: string | undefined;
    };

/** What a file that is not a regular one is, as a phrase: 'a FIFO', 'a directory', ... */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Opens `path` for mapping, read-write or read-only, and reads its status
 * from the descriptor. The file may be anything: the caller refuses what is
 * not a regular file (`stat`), and closes `fd` once it has mapped it.
 */
export function openFile(path: string, readWrite: boolean): Opened {
  let fd: number;
  try {
    fd = native.open(path, readWrite);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ELOOP') return { ok: false, error, code, kind: 'a symbolic link' };
    // A socket cannot be opened at all (ENXIO), nor a directory for writing (EISDIR): say what
    // it is. This lstat only words the refusal; nothing is opened by this path again.
    let st: Stats | undefined;
    try {
      st = code === 'ENOENT' ? undefined : lstatSync(path, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    return { ok: false, error, code, kind: st !== undefined && !st.isFile() ? fileKind(st) : undefined };
  }
  try {
    return { ok: true, fd, stat: fstatSync(fd) };
  } catch (error) {
    native.close(fd);
    return { ok: false, error, code: (error as { code?: string }).code, kind: undefined };
  }
}
