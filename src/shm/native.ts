// The one module that loads the compiled addon (native/shm.c). Everything
// else imports its typed surface from here.
import { createRequire } from 'node:module';

export interface NativeShm {
  /** Creates `path` exclusively (mode 0600), reserves `size` bytes, maps it shared and writable. */
  create(path: string, size: number): ArrayBuffer;
  /** Maps an existing file; the buffer covers [offset, offset + length). */
  attach(path: string, offset: number, length: number, writable: boolean, privateCopy: boolean): ArrayBuffer;
  /** A new ArrayBuffer over [offset, offset + length) of a mapping made by create/attach, sharing its memory. */
  view(mapping: ArrayBuffer, offset: number, length: number): ArrayBuffer;
  /** Detaches (and, for create/attach, unmaps) a buffer made here; false for any other buffer. */
  release(buffer: ArrayBuffer): boolean;
  /** Removes a name; false if it was already gone. */
  unlink(path: string): boolean;
  /** Frees a create/attach mapping's pages in its file now (MADV_REMOVE); false for any other buffer. */
  discard(mapping: ArrayBuffer): boolean;
  /** While on, SIGKILL this process when its parent dies; false if `parentPid` is no longer its parent. */
  dieWithParent(on: boolean, parentPid: number): boolean;
}

const require = createRequire(import.meta.url);

function load(): NativeShm {
  // dist/shm/native.js -> ../../build/Release/shmex.node
  try {
    return require('../../build/Release/shmex.node') as NativeShm;
  } catch (error) {
    throw new Error(
      'shmex: the native addon build/Release/shmex.node is missing or cannot be loaded. ' +
        'It is built by `npm install` (node-gyp, with python3, make and a C compiler).',
      { cause: error },
    );
  }
}

export const native: NativeShm = load();
