// loadNpy: maps a .npy file (one numpy wrote, or a segment) as a typed array
// or records, without reading it: numpy's np.load(path, mmap_mode='c' | 'r+').
// The file is opened once and checked on that descriptor as a received
// segment is (not a symbolic link, FIFO or other special file; a strict .npy
// header that fits the file), then that descriptor is mapped (shm/open-file.ts).
import { readSync, type Stats } from 'node:fs';
import { InvalidArgumentError, SharedMemoryError } from './errors.js';
import { describeValue, rejectUnknownKeys } from './options.js';
import { native } from './shm/native.js';
import {
  descrFields,
  MAX_NPY_HEADER_LENGTH,
  type NpyHeader,
  NpyHeaderError,
  parseNpyHeader,
} from './shm/npy-header.js';
import { fileKind, openFile } from './shm/open-file.js';
import type { TypedArray, TypedArrayConstructor } from './transfer/array-kinds.js';
import { RecordArray, RecordLayout } from './transfer/records.js';

/**
 * 'copy-on-write': writes stay in this process (numpy's mmap_mode='c');
 * 'shared': writes go to the file, and every process that maps it sees them (mmap_mode='r+').
 */
export type NpyMode = 'copy-on-write' | 'shared';

export interface LoadNpyOptions {
  /** How the data is mapped. @default 'copy-on-write' */
  mode?: NpyMode;
}

/** A mapped .npy file: its data as one flat array in C order, and the shape numpy gave it. */
export interface NpyArray {
  /** A typed array, or a RecordArray for a structured dtype. */
  array: TypedArray | RecordArray;
  shape: number[];
  /** The dtype as the header gives it, such as '<f8' (for records, RecordLayout#npyDescr()). */
  dtype: string;
}

const TYPED: Record<string, TypedArrayConstructor> = {
  i1: Int8Array,
  u1: Uint8Array,
  b1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  f4: Float32Array,
  f8: Float64Array,
  i8: BigInt64Array,
  u8: BigUint64Array,
};

/** Buffers mapped here, which release() unmaps. */
const loaded = new WeakSet<ArrayBufferLike>();

/** Unmaps a buffer loadNpy mapped; false for any other. */
export function releaseLoaded(buffer: ArrayBufferLike): boolean {
  if (!loaded.has(buffer)) return false;
  loaded.delete(buffer);
  return native.release(buffer as ArrayBuffer);
}

function refuse(path: string, why: string, errno = 'EINVAL', cause?: unknown): SharedMemoryError {
  return new SharedMemoryError(
    `cannot load ${JSON.stringify(path)}: ${why}`,
    undefined,
    errno,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Maps the .npy file at `path`: a typed array for a numeric dtype in this
 * machine's byte order, a RecordArray for a structured dtype of such fields.
 * The array is an ordinary one as far as tasks go: it is copied when sent.
 */
export function loadNpy(path: string, options: LoadNpyOptions = {}): NpyArray {
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError(`loadNpy(path): path must be a file path, got ${describeValue(path)}`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `loadNpy(path, options): options must be an object such as { mode: 'shared' }, got ${describeValue(options)}`,
    );
  }
  rejectUnknownKeys(options, ['mode'], 'loadNpy');
  const mode = options.mode ?? 'copy-on-write';
  if (mode !== 'copy-on-write' && mode !== 'shared') {
    throw new InvalidArgumentError(
      `loadNpy: mode must be 'copy-on-write' or 'shared', got ${describeValue(mode)} ` +
        "(there is no 'read-only': a write to a read-only mapping would crash the process; " +
        "'copy-on-write' leaves the file unchanged)",
    );
  }
  const opened = openFile(path, mode === 'shared');
  if (!opened.ok) throw cannotOpen(path, mode, opened.error, opened.code, opened.kind);
  const { fd } = opened;
  try {
    const header = inspect(path, fd, opened.stat);
    const { make, dtype } = viewMaker(path, header);
    if (header.dataLength === 0) return { array: make(new ArrayBuffer(0)), shape: [...header.shape], dtype };
    let buffer: ArrayBuffer;
    try {
      buffer = native.map(fd, header.headerLength, header.dataLength, true, mode === 'copy-on-write');
    } catch (error) {
      const e = error as Error & { code?: string; syscall?: string };
      throw new SharedMemoryError(`cannot load ${JSON.stringify(path)}: ${e.message}`, e.syscall, e.code, {
        cause: error,
      });
    }
    loaded.add(buffer);
    return { array: make(buffer), shape: [...header.shape], dtype };
  } finally {
    native.close(fd);
  }
}

function cannotOpen(
  path: string,
  mode: NpyMode,
  error: unknown,
  code: string | undefined,
  kind: string | undefined,
): SharedMemoryError {
  if (kind === 'a symbolic link')
    return refuse(path, 'it is a symbolic link; pass the path it leads to', 'ELOOP', error);
  if (kind !== undefined) return refuse(path, `it is ${kind}, not a regular file`, code, error);
  const e = error as Error & { syscall?: string };
  return new SharedMemoryError(
    `cannot load ${JSON.stringify(path)}: ${e.message}` +
      (code === 'EACCES' && mode === 'shared'
        ? " (mode 'shared' needs write permission; 'copy-on-write' needs only read)"
        : ''),
    e.syscall,
    code,
    { cause: error },
  );
}

/** Checks the file open on `fd` and reads its header from it. */
function inspect(path: string, fd: number, st: Stats): NpyHeader {
  if (!st.isFile()) throw refuse(path, `it is ${fileKind(st)}, not a regular file`);
  const bytes = Buffer.alloc(Math.min(st.size, MAX_NPY_HEADER_LENGTH));
  const read = readSync(fd, bytes, 0, bytes.length, 0);
  let header: NpyHeader;
  try {
    header = parseNpyHeader(bytes.subarray(0, read));
  } catch (error) {
    if (!(error instanceof NpyHeaderError)) throw error;
    const object = /unknown dtype "[<>|=]?O/.test(error.message)
      ? ' (an object array holds Python objects, which only Python can read: save numeric data)'
      : '';
    throw refuse(path, `its .npy header ${error.message}${object}`, 'EINVAL', error);
  }
  if (header.fortranOrder && header.shape.filter((n) => n > 1).length > 1) {
    throw refuse(
      path,
      'it is in Fortran order (column-major), which shmex does not map; ' +
        'save np.ascontiguousarray(a) instead, or the transpose a.T',
    );
  }
  if (header.headerLength + header.dataLength > st.size) {
    throw refuse(
      path,
      `it is truncated: its header describes ${header.dataLength} bytes of data after byte ` +
        `${header.headerLength}, but the file has ${st.size} bytes`,
    );
  }
  return header;
}

/** How to view the mapped data, and the dtype to report; refuses dtypes shmex cannot view. */
function viewMaker(
  path: string,
  header: NpyHeader,
): { make: (b: ArrayBuffer) => NpyArray['array']; dtype: string } {
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (typeof header.descr === 'string') {
    const m = /^([<>|=]?)([?biuf])(\d*)$/.exec(header.descr);
    const code = m === null ? undefined : m[2] === '?' ? 'b1' : `${m[2]}${m[3]}`;
    const Ctor = code === undefined ? undefined : TYPED[code];
    if (m === null || Ctor === undefined) {
      throw refuse(
        path,
        `its dtype ${JSON.stringify(header.descr)} has no JavaScript typed array; ` +
          'shmex maps bool, int8 to int64, uint8 to uint64, float32 and float64 (and records of them)',
      );
    }
    if (m[1] === '>' && Ctor.BYTES_PER_ELEMENT > 1) {
      throw refuse(
        path,
        `its dtype ${header.descr} is big-endian; save a.astype(a.dtype.newbyteorder('<')) instead`,
      );
    }
    requireAligned(path, header, Ctor.BYTES_PER_ELEMENT);
    return { make: (b) => new Ctor(b, 0, count), dtype: header.descr };
  }
  const layout = recordLayout(path, header);
  requireAligned(path, header, 1);
  return { make: (b) => new RecordArray(layout, b, 0, count), dtype: layout.npyDescr() };
}

function requireAligned(path: string, header: NpyHeader, size: number): void {
  if (header.headerLength % size !== 0) {
    throw refuse(
      path,
      `its data starts at byte ${header.headerLength}, not aligned to its ${size}-byte elements`,
    );
  }
}

/** A structured descr as a RecordLayout: unnamed '|Vn' entries are padding. */
function recordLayout(path: string, header: NpyHeader): RecordLayout {
  const names: string[] = [];
  const formats: string[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const field of descrFields(header.descr) ?? []) {
    const { name, dtype, shape } = field;
    if (typeof name !== 'string') {
      throw refuse(path, 'a field of its dtype has a title; shmex maps fields with plain names only');
    }
    if (typeof dtype !== 'string' || shape !== undefined) {
      throw refuse(
        path,
        `its field ${JSON.stringify(name)} is ${typeof dtype === 'string' ? 'a subarray' : 'a nested record'}; ` +
          'shmex maps records of scalar fields only',
      );
    }
    const size = /^[<>|=]?(?:\?|[biufV](\d+))$/.exec(dtype);
    if (size === null) {
      throw refuse(
        path,
        `its field ${JSON.stringify(name)} has dtype ${JSON.stringify(dtype)}, which shmex does not map`,
      );
    }
    const bytes = size[1] === undefined ? 1 : Number(size[1]);
    if (name === '' && /V/.test(dtype)) {
      at += bytes; // padding
      continue;
    }
    names.push(name);
    formats.push(dtype);
    offsets.push(at);
    at += bytes;
  }
  try {
    return new RecordLayout({ names, formats, offsets, itemsize: header.itemsize });
  } catch (error) {
    throw refuse(path, `its record dtype cannot be mapped: ${(error as Error).message}`, 'EINVAL', error);
  }
}
